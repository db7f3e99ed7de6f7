import { createApi } from "./client";
import { TokenStore } from "./tokens";

// The app's single API client. A refused refresh token ends the session;
// the app listens for that to send the person to /login and back.
const sessionEndedListeners = new Set<() => void>();

export function onSessionEnded(listener: () => void): () => void {
  sessionEndedListeners.add(listener);
  return () => sessionEndedListeners.delete(listener);
}

export const tokenStore = new TokenStore(
  typeof localStorage === "undefined" ? null : localStorage,
);

if (typeof window !== "undefined") {
  window.addEventListener("storage", () => tokenStore.reload());
}

export const api = createApi({
  origin:
    typeof location === "undefined" ? "http://localhost" : location.origin,
  store: tokenStore,
  onSessionEnded: () => sessionEndedListeners.forEach((listener) => listener()),
});
