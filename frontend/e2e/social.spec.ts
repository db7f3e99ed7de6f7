import { expect, test } from "@playwright/test";
import {
  answered,
  article,
  follow,
  loginAs,
  makePost,
  makeUser,
} from "./helpers";

test("follow from a profile: optimistic, counted, kept after a reload, fills the timeline", async ({
  page,
  request,
}) => {
  const star = await makeUser(request, "star");
  const fan = await makeUser(request, "fan");
  await makePost(request, star, `News from ${star.username}`);
  await loginAs(page, fan, "/timeline");
  await expect(page.getByText(/No posts yet/)).toBeVisible();

  await page.goto(`/@${star.username}`);
  const profile = page.getByRole("region", { name: "Profile" });
  await expect(profile).toContainText("0 followers");
  const saved = answered(page, "POST", `/user/follow/${star.id}`);
  await profile.getByRole("button", { name: "Follow" }).click();
  await expect(profile.getByRole("button", { name: "Unfollow" })).toBeVisible();
  await expect(profile).toContainText("1 follower");
  expect((await saved).ok()).toBe(true);
  await page.reload();
  await expect(profile.getByRole("button", { name: "Unfollow" })).toBeVisible();
  await expect(profile).toContainText("1 follower");

  await page
    .getByRole("navigation")
    .getByRole("link", { name: "Timeline" })
    .click();
  await expect(article(page, `News from ${star.username}`)).toBeVisible();

  await page.goto(`/@${star.username}/followers`);
  await expect(
    page.getByRole("listitem").getByRole("link", { name: `@${fan.username}` }),
  ).toBeVisible();
  await page.goto(`/@${fan.username}/following`);
  await expect(
    page.getByRole("listitem").getByRole("link", { name: `@${star.username}` }),
  ).toBeVisible();

  await page.goto(`/@${star.username}`);
  await profile.getByRole("button", { name: "Unfollow" }).click();
  await expect(profile.getByRole("button", { name: "Follow" })).toBeVisible();
  await expect(profile).toContainText("0 followers");
});

test("a failed follow rolls back", async ({ page, request }) => {
  const star = await makeUser(request, "star");
  const fan = await makeUser(request, "fan");
  await loginAs(page, fan, `/@${star.username}`);
  await page.route(`**/user/follow/${star.id}`, (route) =>
    route.abort("internetdisconnected"),
  );
  const profile = page.getByRole("region", { name: "Profile" });
  await profile.getByRole("button", { name: "Follow" }).click();
  await expect(profile.getByRole("alert")).toContainText(/network/i);
  await expect(profile.getByRole("button", { name: "Follow" })).toBeVisible();
  await expect(profile).toContainText("0 followers");
});

test("a profile shows bio, counts, posts, replies on request, and who follows whom", async ({
  page,
  request,
}) => {
  const user = await makeUser(request, "prof");
  const other = await makeUser(request, "oth");
  await request.patch("/user/me/", {
    data: { bio: "Line one\nline two" },
    headers: { Authorization: `Bearer ${user.access}` },
  });
  const top = await makePost(request, other, `Top level by ${other.username}`);
  await makePost(request, user, `A reply by ${user.username}`, top.id);
  await makePost(request, user, `A post by ${user.username}`);
  await follow(request, user, other);
  await loginAs(page, other, `/@${user.username}`);

  const profile = page.getByRole("region", { name: "Profile" });
  await expect(profile).toContainText("Line one");
  await expect(profile).toContainText("2 posts");
  await expect(profile).toContainText("1 following");
  await expect(profile).toContainText("Follows you");
  await expect(article(page, `A post by ${user.username}`)).toBeVisible();
  await expect(article(page, `A reply by ${user.username}`)).toHaveCount(0);
  await page.getByLabel("Show replies").check();
  await expect(article(page, `A reply by ${user.username}`)).toBeVisible();
  await expect(
    article(page, `A reply by ${user.username}`).getByRole("link", {
      name: "In reply to a post",
    }),
  ).toBeVisible();

  // Empty states of a new person.
  const quiet = await makeUser(request, "quiet");
  await page.goto(`/@${quiet.username}`);
  await expect(
    page.getByText(`@${quiet.username} has no posts yet.`),
  ).toBeVisible();
  await page.goto(`/@${quiet.username}/followers`);
  await expect(
    page.getByText(`Nobody follows @${quiet.username} yet.`),
  ).toBeVisible();
  await page.goto(`/@${quiet.username}/likes`);
  await expect(page.getByText("No liked posts yet.")).toBeVisible();
});

test("settings: bio, avatar, email; password change needs the current one", async ({
  page,
  request,
}) => {
  const user = await makeUser(request, "set");
  await loginAs(page, user, "/settings");
  const profileForm = page.getByRole("form", { name: "Profile" });
  await profileForm.getByLabel("Bio").fill("I like tests");
  await profileForm.getByLabel("Avatar URL").fill("https://example.com/me.png");
  await profileForm.getByRole("button", { name: "Save" }).click();
  await expect(profileForm.getByRole("status")).toHaveText("Profile saved.");

  await profileForm.getByLabel("Email").fill("not an email");
  await profileForm.getByRole("button", { name: "Save" }).click();
  await expect(profileForm.getByLabel("Email")).toHaveAttribute(
    "aria-invalid",
    "true",
  );
  await expect(profileForm.getByLabel("Email")).toHaveAccessibleDescription(
    /email/i,
  );
  await profileForm.getByLabel("Email").fill(`new_${user.email}`);
  await profileForm.getByRole("button", { name: "Save" }).click();
  await expect(profileForm.getByRole("status")).toHaveText("Profile saved.");

  const passwordForm = page.getByRole("form", { name: "Password" });
  await passwordForm.getByLabel("Current password").fill("wrong password");
  await passwordForm.getByLabel("New password").fill("a brand new password");
  await passwordForm.getByRole("button", { name: "Save" }).click();
  await expect(passwordForm.getByRole("alert")).toContainText(
    /current password is incorrect/i,
  );
  await passwordForm.getByLabel("Current password").fill(user.password);
  await passwordForm.getByRole("button", { name: "Save" }).click();
  await expect(passwordForm.getByRole("status")).toHaveText(
    "Password changed.",
  );

  await page.goto(`/@${user.username}`);
  await expect(page.getByRole("region", { name: "Profile" })).toContainText(
    "I like tests",
  );
  const login = await request.post("/token", {
    form: { username: user.username, password: "a brand new password" },
  });
  expect(login.status()).toBe(200);
});
