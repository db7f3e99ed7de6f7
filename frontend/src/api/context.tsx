import {
  createContext,
  useContext,
  useSyncExternalStore,
  type ReactNode,
} from "react";
import type { Api } from "./client";
import { api as defaultApi } from "./instance";

const ApiContext = createContext<Api>(defaultApi);

export function ApiProvider({
  api,
  children,
}: {
  api: Api;
  children: ReactNode;
}) {
  return <ApiContext.Provider value={api}>{children}</ApiContext.Provider>;
}

export function useApi(): Api {
  return useContext(ApiContext);
}

/** Whether someone is logged in, following token changes in every tab. */
export function useLoggedIn(): boolean {
  const { store } = useApi();
  return useSyncExternalStore(store.subscribe, () => store.get() !== null);
}
