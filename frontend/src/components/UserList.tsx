import { Link } from "react-router";
import { useUserList, type UserListKind } from "../api/queries";
import { ErrorAlert, Spinner } from "./Alert";
import { Avatar } from "./Avatar";
import { FollowButton } from "./FollowButton";
import { LoadMore } from "./PostList";

export function UserList({
  list,
  empty,
}: {
  list: UserListKind;
  empty: string;
}) {
  const query = useUserList(list);
  if (query.isPending) return <Spinner />;
  if (query.isError && !query.data) {
    return (
      <ErrorAlert error={query.error} onRetry={() => void query.refetch()} />
    );
  }
  const users = query.data.pages.flatMap((page) => page.items);
  if (!users.length) return <p className="empty">{empty}</p>;
  return (
    <>
      <ul className="user-list">
        {users.map((user) => (
          <li key={user.id} className="user-row">
            <Avatar username={user.username} url={user.avatar} />
            <div className="user-row-text">
              <Link to={`/@${user.username}`} className="author">
                @{user.username}
              </Link>
              {user.bio && <p className="muted bio">{user.bio}</p>}
            </div>
            <FollowButton userId={user.id} username={user.username} />
          </li>
        ))}
      </ul>
      <LoadMore
        hasMore={query.hasNextPage}
        loading={query.isFetchingNextPage}
        error={query.isFetchNextPageError ? query.error : null}
        onMore={() => void query.fetchNextPage()}
      />
    </>
  );
}
