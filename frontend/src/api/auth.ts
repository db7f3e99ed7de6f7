import { useQueryClient } from "@tanstack/react-query";
import { useCallback } from "react";
import { unwrap, type Api } from "./client";
import { useApi } from "./context";

export async function login(
  api: Api,
  username: string,
  password: string,
): Promise<void> {
  const { data } = await unwrap(
    api.client.POST("/token", {
      body: { grant_type: "password", username, password, scope: "" },
      // OAuth2's password flow is a form, not JSON.
      bodySerializer: (body) =>
        new URLSearchParams(body as Record<string, string>),
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    }),
    "login",
  );
  api.store.set({ access: data.access_token, refresh: data.refresh_token });
}

export async function signup(
  api: Api,
  input: { email: string; username: string; password: string },
): Promise<void> {
  await unwrap(api.client.POST("/user/", { body: input }));
  await login(api, input.username, input.password);
}

/** Ends the session on the server when it can, and always here. */
export async function logout(api: Api): Promise<void> {
  if (api.store.get()) {
    try {
      // Older servers answer 404/405: the local session ends all the same.
      await api.client.POST("/logout");
    } catch {
      // Offline: the tokens expire by themselves.
    }
  }
  api.store.set(null);
  api.store.ended = false;
}

export function useAuthActions() {
  const api = useApi();
  const queryClient = useQueryClient();
  return {
    login: useCallback(
      async (username: string, password: string) => {
        await login(api, username, password);
        queryClient.clear();
      },
      [api, queryClient],
    ),
    signup: useCallback(
      async (input: { email: string; username: string; password: string }) => {
        await signup(api, input);
        queryClient.clear();
      },
      [api, queryClient],
    ),
    logout: useCallback(async () => {
      await logout(api);
      queryClient.clear();
    }, [api, queryClient]),
  };
}
