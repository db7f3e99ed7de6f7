import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { keys } from "../api/queries";
import { LoginPage } from "../pages/Auth";
import { fakeApi, json, POST, renderWithApi } from "../test/fake";
import { Composer } from "./Composer";
import { FollowButton } from "./FollowButton";
import { PostCard } from "./PostCard";

const ME = {
  id: 1,
  username: "alice",
  email: "a@example.com",
  avatar: null,
  bio: null,
  created_at: "2026-01-01T00:00:00Z",
  posts_count: 1,
  followers_count: 0,
  following_count: 0,
};

describe("Composer", () => {
  it("counts down, refuses over 500 characters and empty text", async () => {
    const user = userEvent.setup();
    const onSubmit = vi.fn(async () => {});
    const { api } = fakeApi({});
    renderWithApi(
      <Composer
        label="New post"
        action="Post"
        onSubmit={onSubmit}
        pending={false}
        error={null}
      />,
      api,
    );
    const box = screen.getByRole("textbox", { name: "New post" });
    expect(screen.getByText("500 characters left")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Post" }));
    expect(screen.getByRole("alert")).toHaveTextContent(
      "Write something first.",
    );
    expect(onSubmit).not.toHaveBeenCalled();

    await user.click(box);
    await user.paste("x".repeat(502));
    expect(screen.getByText("2 characters too many")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Post" })).toBeDisabled();

    await user.clear(box);
    await user.type(box, "  hello  ");
    expect(screen.getByText("495 characters left")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Post" }));
    expect(onSubmit).toHaveBeenCalledWith("hello");
    await waitFor(() => expect(box).toHaveValue(""));
  });

  it("keeps the text when sending fails and shows the error", async () => {
    const user = userEvent.setup();
    const { api } = fakeApi({});
    renderWithApi(
      <Composer
        label="Reply"
        action="Reply"
        onSubmit={async () => Promise.reject(new Error("no"))}
        pending={false}
        error={new TypeError("Failed to fetch")}
      />,
      api,
    );
    await user.type(screen.getByRole("textbox", { name: "Reply" }), "kept");
    await user.click(screen.getByRole("button", { name: "Reply" }));
    expect(screen.getByRole("textbox", { name: "Reply" })).toHaveValue("kept");
    expect(screen.getByRole("alert")).toHaveTextContent(/Network down/);
  });
});

describe("PostCard", () => {
  it("likes optimistically and rolls back when the server fails", async () => {
    const user = userEvent.setup();
    let release: (response: Response) => void = () => {};
    const { api } = fakeApi({
      "GET /user/me/": () => json(ME),
      "POST /post/7/like/": () =>
        new Promise<Response>((resolve) => (release = resolve)),
    });
    renderWithApi(
      <PostCard
        post={{ ...POST, user_id: 2, username: "bob", liked: false }}
      />,
      api,
    );
    const like = screen.getByRole("button", { name: "Like" });
    expect(like).toHaveAttribute("aria-pressed", "false");
    await user.click(like);
    expect(like).toHaveAttribute("aria-pressed", "true");
    expect(screen.getByText("3 likes")).toBeInTheDocument();
    release(json({ detail: "busy" }, 503));
    await waitFor(() => expect(like).toHaveAttribute("aria-pressed", "false"));
    expect(screen.getByText("2 likes")).toBeInTheDocument();
    expect(screen.getByRole("alert")).toHaveTextContent(/Server busy/);
  });

  it("takes the server's count once liked", async () => {
    const user = userEvent.setup();
    const { api } = fakeApi({
      "GET /user/me/": () => json(ME),
      "POST /post/7/like/": () => json({ ...POST, likes_count: 10 }, 201),
    });
    const { queryClient } = renderWithApi(
      <PostCard post={{ ...POST, liked: false }} />,
      api,
    );
    await user.click(screen.getByRole("button", { name: "Like" }));
    await waitFor(() =>
      expect(screen.getByText("10 likes")).toBeInTheDocument(),
    );
    expect(queryClient.getQueryData(keys.post(7))).toMatchObject({
      liked: true,
      likes_count: 10,
    });
  });

  it("offers Edit and Delete on one's own posts only, and deletes after confirming", async () => {
    const user = userEvent.setup();
    const deleted = vi.fn(() => json(null, 204));
    const { api } = fakeApi({
      "GET /user/me/": () => json(ME),
      "DELETE /post/7/": deleted,
    });
    const onDeleted = vi.fn();
    renderWithApi(<PostCard post={POST} onDeleted={onDeleted} />, api);
    await user.click(await screen.findByRole("button", { name: "Delete" }));
    expect(deleted).not.toHaveBeenCalled();
    await user.click(screen.getByRole("button", { name: "Yes, delete" }));
    await waitFor(() => expect(onDeleted).toHaveBeenCalled());
    expect(deleted).toHaveBeenCalledTimes(1);
  });

  it("shows no owner buttons on others' posts", async () => {
    const { api } = fakeApi({ "GET /user/me/": () => json(ME) });
    renderWithApi(
      <PostCard post={{ ...POST, user_id: 2, username: "bob" }} />,
      api,
    );
    await screen.findByRole("button", { name: "Like" });
    await waitFor(() => expect(api.store.get()).not.toBeNull());
    expect(screen.queryByRole("button", { name: "Edit" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Delete" })).toBeNull();
  });

  it("edits in place", async () => {
    const user = userEvent.setup();
    const { api } = fakeApi({
      "GET /user/me/": () => json(ME),
      "PATCH /post/7/": async (request) => {
        const { text } = (await request.json()) as { text: string };
        return json({ ...POST, text, edited_at: new Date().toISOString() });
      },
    });
    renderWithApi(<PostCard post={POST} />, api);
    await user.click(await screen.findByRole("button", { name: "Edit" }));
    const box = screen.getByRole("textbox", { name: "Edit post" });
    await user.clear(box);
    await user.type(box, "Hello again");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByText("Hello again")).toBeInTheDocument();
    expect(screen.getByText(/edited/)).toBeInTheDocument();
  });
});

describe("FollowButton", () => {
  it("follows optimistically and rolls back on a network error", async () => {
    const user = userEvent.setup();
    const { api } = fakeApi({
      "GET /user/me/": () => json(ME),
      "GET /user/me/relationships/": () =>
        json([{ id: 2, following: false, followed_by: true }]),
      "POST /user/follow/2": () => {
        throw new TypeError("Failed to fetch");
      },
    });
    renderWithApi(<FollowButton userId={2} username="bob" />, api);
    const button = await screen.findByRole("button", { name: "Follow" });
    await waitFor(() => expect(button).toBeEnabled());
    expect(screen.getByText("Follows you")).toBeInTheDocument();
    await user.click(button);
    expect(await screen.findByRole("alert")).toHaveTextContent(/Network down/);
    expect(screen.getByRole("button", { name: "Follow" })).toBeInTheDocument();
  });

  it("asks a logged-out person to log in", async () => {
    const user = userEvent.setup();
    const { api } = fakeApi({}, false);
    renderWithApi(<FollowButton userId={2} username="bob" />, api);
    await user.click(screen.getByRole("button", { name: "Follow" }));
    expect(await screen.findByText("Login page")).toBeInTheDocument();
  });
});

describe("LoginPage", () => {
  it("says a wrong password in words, and logs in with the right one", async () => {
    const user = userEvent.setup();
    const { api, store } = fakeApi(
      {
        "POST /token": async (request) => {
          const form = new URLSearchParams(await request.text());
          return form.get("password") === "right password"
            ? json({
                access_token: "a",
                refresh_token: "r",
                token_type: "bearer",
              })
            : json({ detail: "Incorrect username or password" }, 401);
        },
      },
      false,
    );
    renderWithApi(<LoginPage />, api, { path: "/", route: "/" });
    await user.type(screen.getByLabelText("Username"), "alice");
    await user.type(screen.getByLabelText("Password"), "wrong");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "Wrong username or password.",
    );
    await user.clear(screen.getByLabelText("Password"));
    await user.type(screen.getByLabelText("Password"), "right password");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    await waitFor(() =>
      expect(store.get()).toEqual({ access: "a", refresh: "r" }),
    );
  });
});
