// Post text is shown as text; only http(s) URLs become links, and the UI
// builds those elements itself, so nothing in a post is ever parsed as HTML.
export type Piece =
  { kind: "text"; text: string } | { kind: "link"; text: string; href: string };

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/gi;
// Punctuation that usually ends a sentence rather than a URL.
const TRAILING = /[.,;:!?)\]}'"]+$/;

export function linkify(text: string): Piece[] {
  const pieces: Piece[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const start = match.index;
    let url = match[0];
    const trailing = TRAILING.exec(url);
    if (trailing) {
      // Keep a closing parenthesis that belongs to the URL, as in Wikipedia's.
      let cut = trailing[0];
      if (cut.startsWith(")") && (url.match(/\(/g)?.length ?? 0) > 0)
        cut = cut.slice(1);
      url = url.slice(0, url.length - cut.length);
    }
    const href = safeHref(url);
    if (!href) continue;
    if (start > last)
      pieces.push({ kind: "text", text: text.slice(last, start) });
    pieces.push({ kind: "link", text: url, href });
    last = start + url.length;
  }
  if (last < text.length) pieces.push({ kind: "text", text: text.slice(last) });
  return pieces;
}

export function safeHref(candidate: string): string | null {
  try {
    const url = new URL(candidate);
    return url.protocol === "http:" || url.protocol === "https:"
      ? url.href
      : null;
  } catch {
    return null;
  }
}

// Characters as the API counts them (code points, not UTF-16 units).
export function textLength(text: string): number {
  return [...text.trim()].length;
}

// Only a path of this app may be the target of "back to where you were".
export function safeNext(next: string | null | undefined): string {
  if (
    !next ||
    !next.startsWith("/") ||
    next.startsWith("//") ||
    next.startsWith("/\\")
  )
    return "/";
  if (next.startsWith("/login") || next.startsWith("/signup")) return "/";
  return next;
}
