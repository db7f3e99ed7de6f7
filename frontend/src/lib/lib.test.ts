import { describe, expect, it } from "vitest";
import { linkify, safeHref, safeNext, textLength } from "./linkify";
import { relativeTime } from "./time";

describe("linkify", () => {
  it("links http(s) URLs and leaves the rest as text", () => {
    expect(linkify("see https://example.com/a?b=1. <b>x</b>")).toEqual([
      { kind: "text", text: "see " },
      {
        kind: "link",
        text: "https://example.com/a?b=1",
        href: "https://example.com/a?b=1",
      },
      { kind: "text", text: ". <b>x</b>" },
    ]);
  });

  it("never links other schemes", () => {
    expect(linkify("javascript:alert(1) data:text/html,x")).toEqual([
      { kind: "text", text: "javascript:alert(1) data:text/html,x" },
    ]);
    expect(safeHref("javascript:alert(1)")).toBeNull();
  });

  it("keeps a parenthesis that belongs to the URL", () => {
    const [link] = linkify("https://en.wikipedia.org/wiki/Pamps_(app)");
    expect(link).toMatchObject({
      kind: "link",
      text: "https://en.wikipedia.org/wiki/Pamps_(app)",
    });
    expect(linkify("(see https://example.com)")[1]).toMatchObject({
      text: "https://example.com",
    });
  });
});

describe("textLength", () => {
  it("counts code points of the trimmed text, as the API does", () => {
    expect(textLength("  hé  ")).toBe(2);
    expect(textLength("😀😀")).toBe(2);
  });
});

describe("safeNext", () => {
  it("only allows this app's own paths", () => {
    expect(safeNext("/settings")).toBe("/settings");
    expect(safeNext("/p/3?x=1")).toBe("/p/3?x=1");
    for (const bad of [
      null,
      "",
      "https://evil.example",
      "//evil.example",
      "/\\evil",
      "/login",
    ]) {
      expect(safeNext(bad)).toBe("/");
    }
  });
});

describe("relativeTime", () => {
  const now = new Date("2026-06-15T12:00:00Z");
  it("reads like a feed", () => {
    expect(relativeTime("2026-06-15T11:59:40Z", now)).toBe("now");
    expect(relativeTime("2026-06-15T11:57:00Z", now)).toBe("3 min");
    expect(relativeTime("2026-06-15T10:00:00Z", now)).toBe("2 h");
    expect(relativeTime("2026-06-12T12:00:00Z", now)).toBe("3 d");
    expect(relativeTime("2026-03-03T12:00:00Z", now)).toBe("Mar 3");
    expect(relativeTime("2025-03-03T12:00:00Z", now)).toBe("Mar 3, 2025");
  });

  it("reads times without an offset as UTC", () => {
    expect(relativeTime("2026-06-15T11:57:00", now)).toBe("3 min");
  });
});
