import { linkify } from "../lib/linkify";

/** Post text as text: line breaks kept by CSS, http(s) links made clickable. */
export function PostText({ text }: { text: string }) {
  return (
    <p className="post-text">
      {linkify(text).map((piece, i) =>
        piece.kind === "link" ? (
          <a
            key={i}
            href={piece.href}
            target="_blank"
            rel="noopener noreferrer nofollow ugc"
          >
            {piece.text}
          </a>
        ) : (
          piece.text
        ),
      )}
    </p>
  );
}
