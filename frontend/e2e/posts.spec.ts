import { expect, test } from "@playwright/test";
import { answered, article, loginAs, makePost, makeUser } from "./helpers";

test("compose: counter, post, then the post is first on home", async ({
  page,
  request,
}) => {
  const user = await makeUser(request, "poster");
  await loginAs(page, user);
  const box = page.getByRole("textbox", { name: "New post" });
  await expect(page.getByText("500 characters left")).toBeVisible();
  await box.fill("x".repeat(501));
  await expect(page.getByText("1 character too many")).toBeVisible();
  await expect(page.getByRole("button", { name: "Post" })).toBeDisabled();
  const text = `Hello from ${user.username}`;
  await box.fill(text);
  await expect(
    page.getByText(`${500 - text.length} characters left`),
  ).toBeVisible();
  await page.getByRole("button", { name: "Post" }).click();
  await expect(box).toHaveValue("");
  const post = article(page, text);
  await expect(post).toBeVisible();
  await expect(
    post.getByRole("link", { name: `@${user.username}` }),
  ).toHaveAttribute("href", `/@${user.username}`);
  await expect(post.locator("time")).toHaveText("now");
  await expect(post).toContainText("0 replies");
  await expect(post).toContainText("0 likes");
});

test("own posts are edited in place and deleted after a confirmation", async ({
  page,
  request,
}) => {
  const user = await makeUser(request, "editor");
  const other = await makeUser(request, "other");
  await makePost(request, other, `Not mine ${other.username}`);
  await makePost(request, user, `First draft ${user.username}`);
  await loginAs(page, user);

  await expect(
    article(page, `Not mine ${other.username}`).getByRole("button", {
      name: "Edit",
    }),
  ).toHaveCount(0);
  // Named by its author: while edited, the text is in a text box.
  const mine = page.getByRole("article", { name: `@${user.username}` });
  await expect(mine).toContainText(`First draft ${user.username}`);
  await mine.getByRole("button", { name: "Edit" }).click();
  const editBox = mine.getByRole("textbox", { name: "Edit post" });
  await expect(editBox).toBeFocused();
  await editBox.fill(`Second draft ${user.username}`);
  await mine.getByRole("button", { name: "Save" }).click();
  const edited = article(page, `Second draft ${user.username}`);
  await expect(edited).toContainText("edited");
  await page.reload();
  await expect(edited).toContainText("edited");

  await edited.getByRole("button", { name: "Delete" }).click();
  await edited.getByRole("button", { name: "Cancel" }).click();
  await expect(edited).toBeVisible();
  await edited.getByRole("button", { name: "Delete" }).click();
  await edited.getByRole("button", { name: "Yes, delete" }).click();
  await expect(edited).toHaveCount(0);
  await page.reload();
  await expect(page.getByText(`Second draft ${user.username}`)).toHaveCount(0);
});

test("a post's page shows its replies and takes a reply", async ({
  page,
  request,
}) => {
  const author = await makeUser(request, "author");
  const replier = await makeUser(request, "replier");
  const post = await makePost(
    request,
    author,
    `A question from ${author.username}`,
  );
  await makePost(request, author, `Earlier answer ${author.username}`, post.id);
  await loginAs(page, replier, `/p/${post.id}`);

  await expect(page.getByRole("heading", { level: 1 })).toHaveText(
    `Post by @${author.username}`,
  );
  await expect(
    article(page, `Earlier answer ${author.username}`),
  ).toBeVisible();
  await page
    .getByRole("textbox", { name: "Reply" })
    .fill(`My reply ${replier.username}`);
  await page.getByRole("button", { name: "Reply" }).click();
  const reply = article(page, `My reply ${replier.username}`);
  await expect(reply).toBeVisible();
  await expect(
    article(page, `A question from ${author.username}`),
  ).toContainText("2 replies");
  await expect(page.getByRole("textbox", { name: "Reply" })).toHaveValue("");

  // The reply's own page leads back to the post it answers.
  await reply.locator("time").click();
  await page.getByRole("link", { name: /the post this replies to/ }).click();
  await expect(page).toHaveURL(new RegExp(`/p/${post.id}$`));
});

test("post text is text: no HTML, line breaks kept, links clickable and safe", async ({
  page,
  request,
}) => {
  const user = await makeUser(request, "texter");
  const text = `<b>bold?</b> <img src=x onerror=alert(1)>\nsecond line https://example.com/a?b=1. javascript:alert(1) ${user.username}`;
  const post = await makePost(request, user, text);
  let dialogs = 0;
  page.on("dialog", (dialog) => {
    dialogs += 1;
    void dialog.dismiss();
  });
  await page.goto(`/p/${post.id}`);
  const shown = article(page, user.username).first();
  await expect(shown).toContainText(
    "<b>bold?</b> <img src=x onerror=alert(1)>",
  );
  await expect(shown.locator("b, img")).toHaveCount(0);
  const paragraph = shown.locator(".post-text");
  expect(
    await paragraph.evaluate((el) => (el as HTMLElement).innerText),
  ).toContain("onerror=alert(1)>\nsecond line");
  const link = shown.getByRole("link", { name: "https://example.com/a?b=1" });
  await expect(link).toHaveAttribute("href", "https://example.com/a?b=1");
  await expect(link).toHaveAttribute("rel", /noopener/);
  await expect(shown.getByRole("link", { name: /javascript/ })).toHaveCount(0);
  expect(dialogs).toBe(0);
});

test("lists page with the API's Link header", async ({ page, request }) => {
  const user = await makeUser(request, "pager");
  for (let i = 1; i <= 23; i++)
    await makePost(request, user, `Paged post ${i} of ${user.username}`);
  await page.goto(`/@${user.username}`);
  const posts = page.getByRole("article");
  await expect(posts).toHaveCount(20);
  await expect(posts.first()).toContainText(`Paged post 23 of`);
  await page.getByRole("button", { name: "Load more" }).click();
  await expect(posts).toHaveCount(23);
  await expect(posts.last()).toContainText(`Paged post 1 of`);
  await expect(page.getByRole("button", { name: "Load more" })).toHaveCount(0);
});

test("liking is optimistic, survives a reload, and rolls back on error", async ({
  page,
  request,
}) => {
  const author = await makeUser(request, "liked");
  const fan = await makeUser(request, "fan");
  const post = await makePost(request, author, `Like me ${author.username}`);
  await loginAs(page, fan, `/p/${post.id}`);
  const shown = article(page, `Like me ${author.username}`);
  const like = shown.getByRole("button", { name: "Like", exact: true });
  await expect(like).toHaveAttribute("aria-pressed", "false");
  const saved = answered(page, "POST", `/post/${post.id}/like/`);
  await like.click();
  await expect(like).toHaveAttribute("aria-pressed", "true");
  await expect(shown).toContainText("1 like");
  expect((await saved).status()).toBe(201);
  await page.reload();
  await expect(like).toHaveAttribute("aria-pressed", "true");
  await expect(shown).toContainText("1 like");

  // The fan's likes page lists it.
  await page.goto(`/@${fan.username}/likes`);
  await expect(article(page, `Like me ${author.username}`)).toBeVisible();

  // Unliking fails on the server: the button and the count come back.
  await page.goto(`/p/${post.id}`);
  await page.route(`**/post/${post.id}/like/`, (route) =>
    route.fulfill({
      status: 503,
      headers: { "Retry-After": "5" },
      json: { detail: "busy" },
    }),
  );
  await like.click();
  await expect(shown.getByRole("alert")).toContainText(/server busy/i);
  await expect(like).toHaveAttribute("aria-pressed", "true");
  await expect(shown).toContainText("1 like");
});

test("logged out, Like leads to the login page and back", async ({
  page,
  request,
}) => {
  const author = await makeUser(request, "anon");
  const post = await makePost(
    request,
    author,
    `Anonymous view ${author.username}`,
  );
  await page.goto(`/p/${post.id}`);
  await expect(page.getByRole("textbox", { name: "Reply" })).toHaveCount(0);
  await article(page, author.username)
    .getByRole("button", { name: "Like" })
    .click();
  await expect(page).toHaveURL(new RegExp(`/login\\?next=%2Fp%2F${post.id}$`));
});
