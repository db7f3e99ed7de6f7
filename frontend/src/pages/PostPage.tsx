import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useLoggedIn } from "../api/context";
import { toApiError } from "../api/errors";
import { useCreatePost, useThread } from "../api/queries";
import { ErrorAlert, Skeleton } from "../components/Alert";
import { Composer } from "../components/Composer";
import { PageTitle } from "../components/Layout";
import { PostCard } from "../components/PostCard";
import { LoadMore } from "../components/PostList";
import { NotFoundPage } from "./NotFound";

/** /p/{id}: the post, its replies (oldest first) and a reply box. */
export function PostPage() {
  const params = useParams();
  const id = Number(params.id);
  const valid = Number.isSafeInteger(id) && id > 0;
  if (!valid) return <NotFoundPage what="post" />;
  return <Thread key={id} id={id} />;
}

function Thread({ id }: { id: number }) {
  const thread = useThread(id);
  const loggedIn = useLoggedIn();
  const navigate = useNavigate();
  if (thread.isPending) return <Skeleton count={2} />;
  if (thread.isError && !thread.data) {
    if (toApiError(thread.error).status === 404)
      return <NotFoundPage what="post" />;
    return (
      <ErrorAlert error={thread.error} onRetry={() => void thread.refetch()} />
    );
  }
  const [first] = thread.data.pages;
  if (!first) return null;
  const post = first.post;
  const replies = thread.data.pages.flatMap((page) => page.replies);
  return (
    <>
      <PageTitle title={`Post by @${post.username}`}>
        Post by @{post.username}
      </PageTitle>
      {post.parent_id !== null && (
        <p>
          <Link to={`/p/${post.parent_id}`}>
            ↑ Show the post this replies to
          </Link>
        </p>
      )}
      <PostCard
        post={post}
        focused
        onDeleted={() =>
          navigate(post.parent_id !== null ? `/p/${post.parent_id}` : "/")
        }
      />
      {loggedIn ? (
        <ReplyBox parentId={post.id} />
      ) : (
        <p className="card muted">
          <Link to={`/login?next=/p/${post.id}`}>Log in</Link> to reply.
        </p>
      )}
      <section aria-labelledby="replies-heading">
        <h2 id="replies-heading">Replies</h2>
        {replies.length === 0 ? (
          <p className="empty">No replies yet.</p>
        ) : (
          replies.map((reply) => (
            <PostCard key={reply.id} post={reply} inThread />
          ))
        )}
        <LoadMore
          hasMore={thread.hasNextPage}
          loading={thread.isFetchingNextPage}
          error={thread.isFetchNextPageError ? thread.error : null}
          onMore={() => void thread.fetchNextPage()}
        />
      </section>
    </>
  );
}

function ReplyBox({ parentId }: { parentId: number }) {
  const create = useCreatePost();
  const [key, setKey] = useState(
    () => crypto.randomUUID?.() ?? String(Date.now()),
  );
  return (
    <section aria-label="Reply to this post" className="card">
      <Composer
        label="Reply"
        action="Reply"
        placeholder="Write a reply"
        pending={create.isPending}
        error={create.error}
        onSubmit={async (text) => {
          await create.mutateAsync({ text, parentId, idempotencyKey: key });
          setKey(crypto.randomUUID?.() ?? String(Date.now()));
        }}
      />
    </section>
  );
}
