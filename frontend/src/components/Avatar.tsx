import { useState } from "react";
import { safeHref } from "../lib/linkify";

/** A person's picture, or their initial when they have none (or it fails to load). */
export function Avatar({
  username,
  url,
  size = 40,
}: {
  username: string;
  url: string | null | undefined;
  size?: number;
}) {
  const [failed, setFailed] = useState(false);
  const src = url ? safeHref(url) : null;
  const style = { width: size, height: size, fontSize: size * 0.45 };
  if (src && !failed) {
    return (
      <img
        className="avatar"
        src={src}
        alt=""
        width={size}
        height={size}
        style={style}
        loading="lazy"
        referrerPolicy="no-referrer"
        onError={() => setFailed(true)}
      />
    );
  }
  return (
    <span className="avatar avatar-initial" style={style} aria-hidden="true">
      {username.charAt(0).toUpperCase()}
    </span>
  );
}
