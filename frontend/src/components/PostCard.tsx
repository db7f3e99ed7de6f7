import { useState } from "react";
import { Link, useLocation, useNavigate } from "react-router";
import { useLoggedIn } from "../api/context";
import {
  useDeletePost,
  useEditPost,
  useLike,
  useMe,
  usePost,
  type ViewPost,
} from "../api/queries";
import { fullTime, relativeTime } from "../lib/time";
import { ErrorAlert } from "./Alert";
import { Composer } from "./Composer";
import { PostText } from "./PostText";

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

export function PostCard({
  post: listed,
  focused = false,
  inThread = false,
  onDeleted,
}: {
  post: ViewPost;
  focused?: boolean;
  /** Shown under the post it answers: no "in reply to" link. */
  inThread?: boolean;
  onDeleted?: () => void;
}) {
  const post = usePost(listed);
  const loggedIn = useLoggedIn();
  const me = useMe();
  const mine = loggedIn && me.data?.id === post.user_id;
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const like = useLike(post.id);
  const edit = useEditPost(post.id);
  const remove = useDeletePost(post.id);
  const navigate = useNavigate();
  const location = useLocation();

  function toggleLike() {
    if (!loggedIn) {
      navigate(
        `/login?next=${encodeURIComponent(location.pathname + location.search)}`,
      );
      return;
    }
    like.mutate(!post.liked);
  }

  return (
    <article
      className={`post${focused ? " focused" : ""}`}
      aria-labelledby={`post-${post.id}-by`}
    >
      <header className="post-head">
        <Link
          to={`/@${post.username}`}
          className="author"
          id={`post-${post.id}-by`}
        >
          @{post.username}
        </Link>
        <span aria-hidden="true">·</span>
        <Link to={`/p/${post.id}`} className="muted">
          <time dateTime={post.date} title={fullTime(post.date)}>
            {relativeTime(post.date)}
          </time>
        </Link>
        {post.edited_at && (
          <span
            className="muted edited"
            title={`Edited ${fullTime(post.edited_at)}`}
          >
            · edited
          </span>
        )}
      </header>
      {post.parent_id !== null && !focused && !inThread && (
        <p className="muted in-reply">
          <Link to={`/p/${post.parent_id}`}>In reply to a post</Link>
        </p>
      )}
      {editing ? (
        <Composer
          label="Edit post"
          action="Save"
          initial={post.text}
          autoFocus
          pending={edit.isPending}
          error={edit.error}
          onCancel={() => {
            setEditing(false);
            edit.reset();
          }}
          onSubmit={async (text) => {
            await edit.mutateAsync(text);
            setEditing(false);
          }}
        />
      ) : (
        <PostText text={post.text} />
      )}
      <footer className="post-actions">
        <Link to={`/p/${post.id}`} className="muted">
          {plural(post.replies_count, "reply", "replies")}
        </Link>
        <span className="like">
          <button
            type="button"
            className="toggle"
            aria-pressed={post.liked === true}
            onClick={toggleLike}
          >
            <span aria-hidden="true">{post.liked ? "♥" : "♡"} </span>Like
          </button>
          <span className="muted">
            {plural(post.likes_count, "like", "likes")}
          </span>
        </span>
        {mine && !editing && !confirming && (
          <span className="owner-actions">
            <button
              type="button"
              className="secondary"
              onClick={() => setEditing(true)}
            >
              Edit
            </button>
            <button
              type="button"
              className="secondary"
              onClick={() => setConfirming(true)}
            >
              Delete
            </button>
          </span>
        )}
      </footer>
      {confirming && (
        <div className="confirm" role="group" aria-label="Confirm deletion">
          <span>Delete this post for good?</span>
          <button
            type="button"
            className="danger"
            autoFocus
            disabled={remove.isPending}
            onClick={() =>
              remove.mutate(undefined, { onSuccess: () => onDeleted?.() })
            }
          >
            Yes, delete
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setConfirming(false);
              remove.reset();
            }}
          >
            Cancel
          </button>
        </div>
      )}
      <ErrorAlert error={like.error ?? remove.error} />
    </article>
  );
}
