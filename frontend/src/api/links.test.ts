import { describe, expect, it } from "vitest";
import { nextLink } from "./links";

describe("nextLink", () => {
  it("gives the same-origin path of rel=next", () => {
    expect(
      nextLink(
        '<http://10.0.0.5:8000/post/?limit=20&before=41>; rel="next"',
        "http://x",
      ),
    ).toBe("/post/?limit=20&before=41");
  });

  it("finds next among several links and rel lists", () => {
    const header =
      '<https://a.example/p/?before=9>; rel="prev", <https://a.example/p/?before=3>; rel="next last"';
    expect(nextLink(header)).toBe("/p/?before=3");
  });

  it("takes relative targets, unquoted rels and commas inside URLs", () => {
    expect(nextLink("</user/timeline?before=5,6>; rel=next")).toBe(
      "/user/timeline?before=5,6",
    );
  });

  it("is null without a next link", () => {
    expect(nextLink(null)).toBeNull();
    expect(nextLink("")).toBeNull();
    expect(nextLink('</post/?before=2>; rel="prev"')).toBeNull();
    expect(nextLink("garbage")).toBeNull();
  });
});
