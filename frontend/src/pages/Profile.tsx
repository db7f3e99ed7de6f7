import { useState } from "react";
import { NavLink, Outlet, useOutletContext } from "react-router";
import { toApiError } from "../api/errors";
import { useProfile } from "../api/queries";
import type { UserProfile } from "../api/client";
import { ErrorAlert, Spinner } from "../components/Alert";
import { Avatar } from "../components/Avatar";
import { FollowButton } from "../components/FollowButton";
import { PageTitle } from "../components/Layout";
import { PostList } from "../components/PostList";
import { UserList } from "../components/UserList";
import { NotFoundPage } from "./NotFound";

/** /@username and its lists: the profile header stays, the list below changes. */
export function ProfileLayout({ username }: { username: string }) {
  const profile = useProfile(username);
  if (profile.isPending) return <Spinner label="Loading profile…" />;
  if (profile.isError) {
    if (toApiError(profile.error).status === 404)
      return <NotFoundPage what="person" />;
    return (
      <ErrorAlert
        error={profile.error}
        onRetry={() => void profile.refetch()}
      />
    );
  }
  const user = profile.data;
  const base = `/@${user.username}`;
  return (
    <>
      <section className="card profile" aria-label="Profile">
        <Avatar username={user.username} url={user.avatar} size={72} />
        <div className="profile-text">
          <PageTitle title={`@${user.username}`}>@{user.username}</PageTitle>
          {user.bio && <p className="bio">{user.bio}</p>}
          <p className="counts">
            <NavLink to={base} end>
              <strong>{user.posts_count}</strong>{" "}
              {user.posts_count === 1 ? "post" : "posts"}
            </NavLink>
            <NavLink to={`${base}/followers`}>
              <strong>{user.followers_count}</strong>{" "}
              {user.followers_count === 1 ? "follower" : "followers"}
            </NavLink>
            <NavLink to={`${base}/following`}>
              <strong>{user.following_count}</strong> following
            </NavLink>
            <NavLink to={`${base}/likes`}>Likes</NavLink>
          </p>
        </div>
        <FollowButton userId={user.id} username={user.username} />
      </section>
      <Outlet context={user} />
    </>
  );
}

function useUser(): UserProfile {
  return useOutletContext<UserProfile>();
}

export function ProfilePosts() {
  const user = useUser();
  const [replies, setReplies] = useState(false);
  return (
    <>
      <h2 className="visually-hidden">Posts</h2>
      <label className="toggle-replies">
        <input
          type="checkbox"
          checked={replies}
          onChange={(event) => setReplies(event.target.checked)}
        />
        Show replies
      </label>
      <PostList
        list={{ kind: "user", username: user.username, replies }}
        empty={`@${user.username} has no posts yet.`}
      />
    </>
  );
}

export function ProfileLikes() {
  const user = useUser();
  return (
    <>
      <h2>Liked by @{user.username}</h2>
      <PostList
        list={{ kind: "likes", username: user.username }}
        empty="No liked posts yet."
      />
    </>
  );
}

export function ProfileFollowers() {
  const user = useUser();
  return (
    <>
      <h2>Followers</h2>
      <UserList
        list={{ kind: "followers", username: user.username }}
        empty={`Nobody follows @${user.username} yet.`}
      />
    </>
  );
}

export function ProfileFollowing() {
  const user = useUser();
  return (
    <>
      <h2>Following</h2>
      <UserList
        list={{ kind: "following", username: user.username }}
        empty={`@${user.username} follows nobody yet.`}
      />
    </>
  );
}
