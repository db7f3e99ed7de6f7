import { useLocation, useNavigate } from "react-router";
import { useLoggedIn } from "../api/context";
import { useFollow, useMe, useRelationship } from "../api/queries";
import { ErrorAlert } from "./Alert";

/** Follow / Unfollow, optimistic; logged out, it leads to the login page. */
export function FollowButton({
  userId,
  username,
}: {
  userId: number;
  username: string;
}) {
  const loggedIn = useLoggedIn();
  const me = useMe();
  const relationship = useRelationship(userId, loggedIn);
  const follow = useFollow(userId, username);
  const navigate = useNavigate();
  const location = useLocation();
  if (loggedIn && me.data?.id === userId) return null;
  const following = relationship.data?.following ?? false;
  return (
    <span className="follow">
      <button
        type="button"
        className={following ? "secondary" : ""}
        disabled={loggedIn && relationship.isPending}
        onClick={() => {
          if (!loggedIn) {
            navigate(`/login?next=${encodeURIComponent(location.pathname)}`);
            return;
          }
          follow.mutate(!following);
        }}
      >
        {following ? "Unfollow" : "Follow"}
      </button>
      {relationship.data?.followed_by && (
        <span className="badge">Follows you</span>
      )}
      <ErrorAlert error={follow.error} />
    </span>
  );
}
