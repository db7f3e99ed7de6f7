import { useState } from "react";
import { useLoggedIn } from "../api/context";
import { useCreatePost } from "../api/queries";
import { Composer } from "../components/Composer";
import { PageTitle } from "../components/Layout";
import { PostList } from "../components/PostList";

function newKey(): string {
  return crypto.randomUUID?.() ?? `${Date.now()}-${Math.random()}`;
}

/** The "New post" box. One idempotency key per post, so a retried send never posts twice. */
export function NewPost() {
  const create = useCreatePost();
  const [key, setKey] = useState(newKey);
  return (
    <section aria-label="Compose" className="card">
      <Composer
        label="New post"
        action="Post"
        placeholder="What's happening?"
        pending={create.isPending}
        error={create.error}
        onSubmit={async (text) => {
          await create.mutateAsync({ text, idempotencyKey: key });
          setKey(newKey());
        }}
      />
    </section>
  );
}

export function HomePage() {
  const loggedIn = useLoggedIn();
  return (
    <>
      <PageTitle title="Home">Home</PageTitle>
      {loggedIn && <NewPost />}
      <PostList list={{ kind: "home" }} empty="No posts yet. Be the first!" />
    </>
  );
}

export function TimelinePage() {
  return (
    <>
      <PageTitle title="Timeline">Timeline</PageTitle>
      <NewPost />
      <PostList
        list={{ kind: "timeline" }}
        empty="No posts yet: follow people to see their posts here."
      />
    </>
  );
}
