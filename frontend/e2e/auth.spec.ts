import { expect, test } from "@playwright/test";
import { loginAs, makeUser, uniqueName } from "./helpers";

test("sign up logs the person in, and a reload keeps them logged in", async ({
  page,
}) => {
  const username = uniqueName("new");
  await page.goto("/");
  await page
    .getByRole("navigation")
    .getByRole("link", { name: "Sign up" })
    .click();
  await expect(page).toHaveURL(/\/signup$/);
  await page.getByLabel("Email").fill(`${username}@example.com`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Sign up" }).click();

  const nav = page.getByRole("navigation");
  await expect(nav.getByRole("button", { name: "Log out" })).toBeVisible();
  await expect(page).toHaveURL(/\/$/);
  for (const name of ["Home", "Timeline", "Profile", "Settings"]) {
    await expect(nav.getByRole("link", { name, exact: true })).toBeVisible();
  }
  await expect(nav.getByRole("link", { name: "Log in" })).toHaveCount(0);
  await expect(nav.getByRole("link", { name: "Profile" })).toHaveAttribute(
    "href",
    `/@${username}`,
  );

  await page.reload();
  await expect(nav.getByRole("button", { name: "Log out" })).toBeVisible();
  await nav.getByRole("link", { name: "Profile" }).click();
  await expect(
    page.getByRole("heading", { level: 1, name: `@${username}` }),
  ).toBeVisible();
});

test("sign up: a taken username (409) and invalid fields (422) are shown in words", async ({
  page,
  request,
}) => {
  const taken = await makeUser(request, "taken");
  await page.goto("/signup");
  await page.getByLabel("Email").fill(`other_${taken.email}`);
  await page.getByLabel("Username").fill(taken.username);
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.getByRole("alert")).toContainText(/already/i);

  // The server's field errors, next to their fields.
  await page.getByLabel("Email").fill("not-an-email");
  await page.getByLabel("Username").fill(uniqueName("ok"));
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.getByLabel("Password")).toHaveAttribute(
    "aria-invalid",
    "true",
  );
  await expect(page.getByLabel("Password")).toHaveAccessibleDescription(
    /8 characters/i,
  );
  await expect(page.getByLabel("Email")).toHaveAttribute(
    "aria-invalid",
    "true",
  );
  await expect(page.getByLabel("Username")).not.toHaveAttribute(
    "aria-invalid",
    "true",
  );
  await expect(page.getByRole("button", { name: "Log out" })).toHaveCount(0);
});

test("log in: a wrong password says so; a good one goes back where the person was", async ({
  page,
  request,
}) => {
  const user = await makeUser(request, "login");
  await page.goto("/settings");
  await expect(page).toHaveURL(/\/login\?next=%2Fsettings$/);

  await page.getByLabel("Username").fill(user.username);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toHaveText(
    "Wrong username or password.",
  );

  await page.getByLabel("Password").fill(user.password);
  await page.getByLabel("Password").press("Enter");
  await expect(page).toHaveURL(/\/settings$/);
  await expect(page.getByLabel("Email")).toHaveValue(user.email);
});

test("an expired access token is refreshed with the refresh token", async ({
  page,
  request,
}) => {
  const user = await makeUser(request, "refresh");
  await loginAs(page, user);
  await page.evaluate((refresh) => {
    localStorage.setItem(
      "pamps.tokens",
      JSON.stringify({ access: "expired.token.value", refresh }),
    );
  }, user.refresh);
  await page.goto("/settings");
  await expect(page.getByLabel("Email")).toHaveValue(user.email);
  const stored = await page.evaluate(() =>
    JSON.parse(localStorage.getItem("pamps.tokens") ?? "{}"),
  );
  expect(stored.access).not.toBe("expired.token.value");
  expect(stored.refresh).not.toBe(user.refresh);
});

test("a refused refresh token sends the person to log in, and back afterwards", async ({
  page,
  request,
}) => {
  const user = await makeUser(request, "expired");
  await loginAs(page, user);
  await page.evaluate(() => {
    localStorage.setItem(
      "pamps.tokens",
      JSON.stringify({ access: "bad", refresh: "bad" }),
    );
  });
  await page.goto("/timeline");
  await expect(page).toHaveURL(/\/login\?next=%2Ftimeline/);
  await expect(page.getByRole("status")).toContainText(/session has ended/i);
  await page.getByLabel("Username").fill(user.username);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/timeline$/);
  await expect(
    page.getByRole("heading", { level: 1, name: "Timeline" }),
  ).toBeVisible();
});

test("log out clears the session and ends it on the server", async ({
  page,
  request,
}) => {
  const user = await makeUser(request, "logout");
  await loginAs(page, user, "/timeline");
  await page.getByRole("button", { name: "Log out" }).click();
  const nav = page.getByRole("navigation");
  await expect(nav.getByRole("link", { name: "Log in" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Sign up" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Timeline" })).toHaveCount(0);
  expect(
    await page.evaluate(() => localStorage.getItem("pamps.tokens")),
  ).toBeNull();
  await page.goto("/timeline");
  await expect(page).toHaveURL(/\/login/);
  // The revoked token is refused from now on.
  const me = await request.get("/user/me/", {
    headers: { Authorization: `Bearer ${user.access}` },
  });
  expect(me.status()).toBe(401);
});
