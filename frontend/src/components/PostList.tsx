import { usePostList, type PostListKind } from "../api/queries";
import { ErrorAlert, Skeleton, Spinner } from "./Alert";
import { PostCard } from "./PostCard";

export function PostList({
  list,
  empty,
}: {
  list: PostListKind;
  empty: string;
}) {
  const query = usePostList(list);
  if (query.isPending) return <Skeleton />;
  if (query.isError && !query.data) {
    return (
      <ErrorAlert error={query.error} onRetry={() => void query.refetch()} />
    );
  }
  const posts = query.data.pages.flatMap((page) => page.items);
  if (!posts.length) return <p className="empty">{empty}</p>;
  return (
    <section aria-label="Posts" className="post-list">
      {posts.map((post) => (
        <PostCard key={post.id} post={post} />
      ))}
      <LoadMore
        hasMore={query.hasNextPage}
        loading={query.isFetchingNextPage}
        error={query.isFetchNextPageError ? query.error : null}
        onMore={() => void query.fetchNextPage()}
      />
    </section>
  );
}

export function LoadMore({
  hasMore,
  loading,
  error,
  onMore,
}: {
  hasMore: boolean;
  loading: boolean;
  error: unknown;
  onMore: () => void;
}) {
  if (loading) return <Spinner />;
  return (
    <>
      <ErrorAlert error={error} />
      {hasMore && (
        <button type="button" className="load-more secondary" onClick={onMore}>
          Load more
        </button>
      )}
    </>
  );
}
