// The session's tokens, kept in localStorage so a reload stays logged in,
// and shared with the app's other tabs through the storage event.
export interface Tokens {
  access: string;
  refresh: string;
}

type Listener = () => void;

export class TokenStore {
  private tokens: Tokens | null;
  /** True once the server refused the session, until the next login. */
  ended = false;
  private listeners = new Set<Listener>();

  constructor(
    private readonly storage: Storage | null,
    private readonly key = "pamps.tokens",
  ) {
    this.tokens = this.read();
  }

  get = (): Tokens | null => this.tokens;

  set(tokens: Tokens | null): void {
    this.tokens = tokens;
    if (tokens) this.ended = false;
    try {
      if (tokens) this.storage?.setItem(this.key, JSON.stringify(tokens));
      else this.storage?.removeItem(this.key);
    } catch {
      // Private windows may refuse storage: the session then lasts one page load.
    }
    this.emit();
  }

  /** The server refused the tokens: forget them and remember why. */
  end(): void {
    this.ended = true;
    this.set(null);
  }

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  // Another tab logged in, refreshed or logged out.
  reload(): void {
    const tokens = this.read();
    if (
      tokens?.access !== this.tokens?.access ||
      tokens?.refresh !== this.tokens?.refresh
    ) {
      this.tokens = tokens;
      this.emit();
    }
  }

  private read(): Tokens | null {
    try {
      const raw = this.storage?.getItem(this.key);
      if (!raw) return null;
      const value = JSON.parse(raw) as Partial<Tokens>;
      return typeof value.access === "string" &&
        typeof value.refresh === "string"
        ? { access: value.access, refresh: value.refresh }
        : null;
    } catch {
      return null;
    }
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }
}
