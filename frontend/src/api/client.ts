import createClient from "openapi-fetch";
import type { components, paths } from "./schema";
import {
  ApiError,
  errorFromResponse,
  toApiError,
  type ErrorContext,
} from "./errors";
import { nextLink } from "./links";
import { TokenStore, type Tokens } from "./tokens";

export type Post = components["schemas"]["PostPublic"];
export type PostWithReplies = components["schemas"]["PostWithReplies"];
export type LikedPost = components["schemas"]["LikedPost"];
export type UserPublic = components["schemas"]["UserPublic"];
export type UserProfile = components["schemas"]["UserProfile"];
export type UserPrivate = components["schemas"]["UserPrivate"];
export type UserUpdate = components["schemas"]["UserUpdate"];
export type Relationship = components["schemas"]["Relationship"];

export type ApiPaths = paths;

type FetchLike = (request: Request) => Promise<Response>;

/**
 * fetch with the access token, and one refresh-and-retry when the API answers
 * 401: the access token lives 30 minutes, the refresh token 10 hours. Only
 * when the refresh token is refused too does the session end.
 */
export function createAuthFetch(
  store: TokenStore,
  baseFetch: FetchLike,
  onSessionEnded: () => void,
): FetchLike {
  // One refresh at a time: a refresh token is good once, and the API ends the
  // session when one is replayed.
  let refreshing: Promise<"ok" | "refused"> | null = null;

  // Tabs refresh one at a time too: a tab that waited for another's refresh
  // takes the tokens that one stored instead of replaying the spent token.
  function refresh(stale: Tokens, origin: string): Promise<"ok" | "refused"> {
    return exclusive(async () => {
      store.reload();
      const current = store.get();
      if (!current) return "refused";
      if (current.refresh !== stale.refresh) return "ok";
      return refreshWith(current, origin);
    });
  }

  async function refreshWith(
    stale: Tokens,
    origin: string,
  ): Promise<"ok" | "refused"> {
    const response = await baseFetch(
      new Request(`${origin}/refresh_token`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: stale.refresh }),
      }),
    );
    if (response.ok) {
      const body = (await response.json()) as {
        access_token: string;
        refresh_token: string;
      };
      store.set({ access: body.access_token, refresh: body.refresh_token });
      return "ok";
    }
    if (
      response.status === 401 ||
      response.status === 403 ||
      response.status === 422
    ) {
      return "refused";
    }
    throw errorFromResponse(response, await readJson(response));
  }

  return async function authFetch(request: Request): Promise<Response> {
    const tokens = store.get();
    if (!tokens || new URL(request.url).pathname === "/refresh_token")
      return baseFetch(request);
    const retry = request.clone();
    const response = await baseFetch(withToken(request, tokens.access));
    if (response.status !== 401) return response;
    const current = store.get();
    if (!current) return response;
    // Another request may have refreshed while this one was in flight.
    if (current.access === tokens.access) {
      refreshing ??= refresh(current, new URL(request.url).origin).finally(
        () => {
          refreshing = null;
        },
      );
      if ((await refreshing) === "refused") {
        if (store.get()) {
          store.end();
          onSessionEnded();
        }
        return response;
      }
    }
    const fresh = store.get();
    return fresh ? baseFetch(withToken(retry, fresh.access)) : response;
  };
}

/** `run` holding the app's refresh lock across tabs (Web Locks), where there is one. */
function exclusive<T>(run: () => Promise<T>): Promise<T> {
  const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
  return locks
    ? (locks.request("pamps-token-refresh", run) as Promise<T>)
    : run();
}

function withToken(request: Request, access: string): Request {
  const headers = new Headers(request.headers);
  headers.set("Authorization", `Bearer ${access}`);
  return new Request(request, { headers });
}

async function readJson(response: Response): Promise<unknown> {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

export interface Page<T> {
  items: T[];
  next: string | null;
}

export interface Api {
  client: ReturnType<typeof createClient<ApiPaths>>;
  store: TokenStore;
  fetch: FetchLike;
  origin: string;
  /** The next page of a list, by the URL its Link header gave. */
  page<T>(url: string): Promise<Page<T>>;
}

export function createApi(options: {
  origin: string;
  store: TokenStore;
  fetch?: FetchLike;
  onSessionEnded?: () => void;
}): Api {
  const base: FetchLike =
    options.fetch ?? ((request) => globalThis.fetch(request));
  const authFetch = createAuthFetch(
    options.store,
    base,
    options.onSessionEnded ?? (() => {}),
  );
  const client = createClient<ApiPaths>({
    baseUrl: options.origin,
    fetch: authFetch,
  });
  return {
    client,
    store: options.store,
    fetch: authFetch,
    origin: options.origin,
    async page<T>(url: string): Promise<Page<T>> {
      let response: Response;
      try {
        response = await authFetch(new Request(new URL(url, options.origin)));
      } catch (error) {
        throw toApiError(error);
      }
      const body = await readJson(response);
      if (!response.ok) throw errorFromResponse(response, body);
      return {
        items: body as T[],
        next: nextLink(response.headers.get("Link"), options.origin),
      };
    },
  };
}

interface Result<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The data of a typed call, or an ApiError in words (network failures included). */
export async function unwrap<T>(
  call: Promise<Result<T>>,
  context: ErrorContext = "default",
): Promise<{ data: T; response: Response }> {
  let result: Result<T>;
  try {
    result = await call;
  } catch (error) {
    throw toApiError(error);
  }
  if (!result.response.ok)
    throw errorFromResponse(result.response, result.error, context);
  return { data: result.data as T, response: result.response };
}

export async function unwrapPage<T>(
  call: Promise<Result<T[]>>,
  origin: string,
): Promise<Page<T>> {
  const { data, response } = await unwrap(call);
  return { items: data, next: nextLink(response.headers.get("Link"), origin) };
}

export { ApiError };
