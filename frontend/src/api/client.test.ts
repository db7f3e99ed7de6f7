import { describe, expect, it, vi } from "vitest";
import { fakeApi, fakeFetch, json, memoryStore, ORIGIN } from "../test/fake";
import { createAuthFetch, unwrap } from "./client";
import { ApiError, NETWORK_DOWN } from "./errors";
import { TokenStore } from "./tokens";

const ME = { id: 1, username: "alice" };

function bearer(request: Request): string | null {
  return request.headers.get("Authorization");
}

describe("createAuthFetch", () => {
  it("sends the access token, and none when logged out", async () => {
    const server = fakeFetch({ "GET /user/me/": () => json(ME) });
    const store = memoryStore({ access: "a1", refresh: "r1" });
    const authFetch = createAuthFetch(store, server.fetch, () => {});
    await authFetch(new Request(`${ORIGIN}/user/me/`));
    store.set(null);
    await authFetch(new Request(`${ORIGIN}/user/me/`));
    expect(server.calls.map(bearer)).toEqual(["Bearer a1", null]);
  });

  it("refreshes once on 401 and retries with the new token, body included", async () => {
    const server = fakeFetch({
      "POST /post/": (request) =>
        bearer(request) === "Bearer a2"
          ? json({ id: 1 }, 201)
          : json({ detail: "expired" }, 401),
      "POST /refresh_token": async (request) => {
        expect(await request.json()).toEqual({ refresh_token: "r1" });
        return json({
          access_token: "a2",
          refresh_token: "r2",
          token_type: "bearer",
        });
      },
    });
    const store = memoryStore({ access: "a1", refresh: "r1" });
    const authFetch = createAuthFetch(store, server.fetch, () => {});
    const response = await authFetch(
      new Request(`${ORIGIN}/post/`, {
        method: "POST",
        body: JSON.stringify({ text: "hi" }),
      }),
    );
    expect(response.status).toBe(201);
    expect(store.get()).toEqual({ access: "a2", refresh: "r2" });
    const retried = server.calls[2];
    expect(retried && (await retried.json())).toEqual({ text: "hi" });
  });

  it("uses one refresh for requests failing together (a refresh token is good once)", async () => {
    let refreshes = 0;
    const server = fakeFetch({
      "GET /user/me/": (request) =>
        bearer(request) === "Bearer a2"
          ? json(ME)
          : json({ detail: "expired" }, 401),
      "POST /refresh_token": async () => {
        refreshes += 1;
        await new Promise((resolve) => setTimeout(resolve, 10));
        return json({
          access_token: "a2",
          refresh_token: "r2",
          token_type: "bearer",
        });
      },
    });
    const store = memoryStore({ access: "a1", refresh: "r1" });
    const authFetch = createAuthFetch(store, server.fetch, () => {});
    const answers = await Promise.all(
      [1, 2, 3].map(() => authFetch(new Request(`${ORIGIN}/user/me/`))),
    );
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(refreshes).toBe(1);
  });

  it("takes the tokens another tab just refreshed instead of replaying the spent one", async () => {
    const server = fakeFetch({
      "GET /user/me/": (request) =>
        bearer(request) === "Bearer a2"
          ? json(ME)
          : json({ detail: "expired" }, 401),
      "POST /refresh_token": () => json({ detail: "reused" }, 401),
    });
    const values = new Map<string, string>();
    const storage = {
      getItem: (key: string) => values.get(key) ?? null,
      setItem: (key: string, value: string) => void values.set(key, value),
      removeItem: (key: string) => void values.delete(key),
    } as Storage;
    const store = new TokenStore(storage);
    store.set({ access: "a1", refresh: "r1" });
    // The other tab refreshed first and stored the new pair.
    storage.setItem(
      "pamps.tokens",
      JSON.stringify({ access: "a2", refresh: "r2" }),
    );
    const authFetch = createAuthFetch(store, server.fetch, () => {});
    const response = await authFetch(new Request(`${ORIGIN}/user/me/`));
    expect(response.status).toBe(200);
    expect(store.get()).toEqual({ access: "a2", refresh: "r2" });
    expect(
      server.calls.some((call) => call.url.endsWith("/refresh_token")),
    ).toBe(false);
  });

  it("ends the session when the refresh token is refused", async () => {
    const server = fakeFetch({
      "GET /user/me/": () => json({ detail: "expired" }, 401),
      "POST /refresh_token": () => json({ detail: "Invalid token" }, 401),
    });
    const store = memoryStore({ access: "a1", refresh: "r1" });
    const ended = vi.fn();
    const authFetch = createAuthFetch(store, server.fetch, ended);
    const response = await authFetch(new Request(`${ORIGIN}/user/me/`));
    expect(response.status).toBe(401);
    expect(store.get()).toBeNull();
    expect(store.ended).toBe(true);
    expect(ended).toHaveBeenCalledTimes(1);
  });

  it("keeps the session when the refresh cannot reach the server", async () => {
    const server = fakeFetch({
      "GET /user/me/": () => json({ detail: "expired" }, 401),
      "POST /refresh_token": () => {
        throw new TypeError("Failed to fetch");
      },
    });
    const store = memoryStore({ access: "a1", refresh: "r1" });
    const ended = vi.fn();
    const authFetch = createAuthFetch(store, server.fetch, ended);
    await expect(authFetch(new Request(`${ORIGIN}/user/me/`))).rejects.toThrow(
      TypeError,
    );
    expect(store.get()).toEqual({ access: "a1", refresh: "r1" });
    expect(ended).not.toHaveBeenCalled();
  });
});

describe("createApi", () => {
  it("pages with the Link header", async () => {
    const { api } = fakeApi({
      "GET /post/": (request) =>
        new URL(request.url).searchParams.get("before")
          ? json([{ id: 1 }])
          : json([{ id: 3 }, { id: 2 }], 200, {
              Link: '<http://internal:8000/post/?limit=2&before=2>; rel="next"',
            }),
    });
    const first = await api.page<{ id: number }>("/post/?limit=2");
    expect(first).toEqual({
      items: [{ id: 3 }, { id: 2 }],
      next: "/post/?limit=2&before=2",
    });
    const second = await api.page<{ id: number }>(first.next ?? "");
    expect(second).toEqual({ items: [{ id: 1 }], next: null });
  });

  it("turns failures into ApiErrors in words", async () => {
    const { api } = fakeApi({
      "GET /user/me/": () => {
        throw new TypeError("Failed to fetch");
      },
      "GET /post/": () => json({ detail: "busy" }, 503, { "Retry-After": "5" }),
    });
    await expect(unwrap(api.client.GET("/user/me/"))).rejects.toMatchObject({
      status: 0,
      message: NETWORK_DOWN,
    });
    const busy = await unwrap(api.client.GET("/post/")).catch(
      (error: unknown) => error,
    );
    expect(busy).toBeInstanceOf(ApiError);
    expect((busy as ApiError).message).toMatch(/Server busy/);
    await expect(api.page("/post/")).rejects.toMatchObject({ status: 503 });
  });
});
