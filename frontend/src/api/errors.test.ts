import { describe, expect, it } from "vitest";
import {
  ApiError,
  errorFromResponse,
  NETWORK_DOWN,
  retryAfterSeconds,
  toApiError,
} from "./errors";

function answer(status: number, headers: Record<string, string> = {}) {
  return new Response(null, { status, headers });
}

describe("errorFromResponse", () => {
  it("says a login's 401 is a wrong password, elsewhere an ended session", () => {
    expect(
      errorFromResponse(answer(401), { detail: "x" }, "login").message,
    ).toBe("Wrong username or password.");
    expect(errorFromResponse(answer(401), null).message).toMatch(
      /session has ended/,
    );
  });

  it("passes the API's words for 403, 404 and 409", () => {
    expect(
      errorFromResponse(answer(409), { detail: "Username already registered" })
        .message,
    ).toBe("Username already registered.");
    expect(
      errorFromResponse(answer(403), {
        detail: "Current password is incorrect",
      }).message,
    ).toBe("Current password is incorrect.");
    expect(errorFromResponse(answer(404), {}).message).toBe("Not found.");
  });

  it("puts 422 field errors on their fields", () => {
    const error = errorFromResponse(answer(422), {
      detail: [
        {
          loc: ["body", "password"],
          msg: "String should have at least 8 characters",
        },
        {
          loc: ["body", "email"],
          msg: "value is not a valid email address: no @",
        },
        { loc: ["body", "username"], msg: "Value error, reserved username" },
      ],
    });
    expect(error.fields).toEqual({
      password: "String should have at least 8 characters",
      email: "Value is not a valid email address: no @",
      username: "Reserved username",
    });
    expect(error.message).toMatch(/fields/);
  });

  it("says a 422 without a field in its own words", () => {
    expect(
      errorFromResponse(answer(422), {
        detail: [{ loc: ["body"], msg: "Bad body" }],
      }).message,
    ).toBe("Bad body");
  });

  it("turns 429's Retry-After into minutes", () => {
    expect(
      errorFromResponse(answer(429, { "Retry-After": "110" }), null).message,
    ).toBe("Too many attempts, try again in 2 minutes.");
    expect(
      errorFromResponse(answer(429, { "Retry-After": "30" }), null).message,
    ).toBe("Too many attempts, try again in 1 minute.");
    expect(
      errorFromResponse(answer(429, { "Retry-After": "300" }), null).retryAfter,
    ).toBe(300);
  });

  it("says server busy for 503 and names other server errors", () => {
    expect(
      errorFromResponse(answer(503, { "Retry-After": "5" }), null).message,
    ).toMatch(/^Server busy/);
    expect(errorFromResponse(answer(500), null).message).toMatch(/error 500/);
  });
});

describe("toApiError", () => {
  it("keeps ApiErrors and calls anything else the network", () => {
    const error = new ApiError(409, "taken");
    expect(toApiError(error)).toBe(error);
    const network = toApiError(new TypeError("Failed to fetch"));
    expect(network.status).toBe(0);
    expect(network.message).toBe(NETWORK_DOWN);
  });
});

describe("retryAfterSeconds", () => {
  it("reads seconds and HTTP dates", () => {
    expect(retryAfterSeconds("7")).toBe(7);
    expect(retryAfterSeconds(null)).toBeNull();
    const inAMinute = new Date(Date.now() + 60_000).toUTCString();
    expect(retryAfterSeconds(inAMinute)).toBeGreaterThan(55);
    expect(retryAfterSeconds("soon")).toBeNull();
  });
});
