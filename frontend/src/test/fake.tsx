import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter, Route, Routes } from "react-router";
import { createApi, type Api } from "../api/client";
import { ApiProvider } from "../api/context";
import { TokenStore } from "../api/tokens";

export const ORIGIN = "http://pamps.test";

export type Handler = (request: Request) => Response | Promise<Response>;

export function json(
  body: unknown,
  status = 200,
  headers: Record<string, string> = {},
): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

/** A fake API: "METHOD /path" → handler; every request is recorded. */
export function fakeFetch(routes: Record<string, Handler>) {
  const calls: Request[] = [];
  const fetch = async (request: Request): Promise<Response> => {
    calls.push(request.clone());
    const url = new URL(request.url);
    const handler = routes[`${request.method} ${url.pathname}`];
    if (!handler) return json({ detail: "Not Found" }, 404);
    return handler(request);
  };
  return { fetch, calls };
}

export function memoryStore(
  tokens: { access: string; refresh: string } | null = null,
): TokenStore {
  const values = new Map<string, string>();
  const storage = {
    getItem: (key: string) => values.get(key) ?? null,
    setItem: (key: string, value: string) => void values.set(key, value),
    removeItem: (key: string) => void values.delete(key),
  } as Storage;
  const store = new TokenStore(storage);
  if (tokens) store.set(tokens);
  return store;
}

export function fakeApi(routes: Record<string, Handler>, loggedIn = true) {
  const server = fakeFetch(routes);
  const store = memoryStore(loggedIn ? { access: "a1", refresh: "r1" } : null);
  const api = createApi({ origin: ORIGIN, store, fetch: server.fetch });
  return { api, store, calls: server.calls };
}

export function renderWithApi(
  ui: ReactNode,
  api: Api,
  { path = "/", route = "/" }: { path?: string; route?: string } = {},
) {
  const queryClient = new QueryClient({
    defaultOptions: { queries: { retry: false }, mutations: { retry: false } },
  });
  const result = render(
    <QueryClientProvider client={queryClient}>
      <ApiProvider api={api}>
        <MemoryRouter initialEntries={[route]}>
          <Routes>
            <Route path={path} element={ui} />
            <Route path="/login" element={<p>Login page</p>} />
          </Routes>
        </MemoryRouter>
      </ApiProvider>
    </QueryClientProvider>,
  );
  return { ...result, queryClient };
}

export const POST = {
  id: 7,
  text: "Hello",
  date: new Date().toISOString(),
  user_id: 1,
  username: "alice",
  parent_id: null,
  edited_at: null,
  likes_count: 2,
  replies_count: 0,
};
