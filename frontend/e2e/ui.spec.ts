import { expect, test, type Page } from "@playwright/test";
import {
  expectAccessible,
  follow,
  loginAs,
  makePost,
  makeUser,
  uniqueName,
  type User,
} from "./helpers";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const screenshots = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "docs",
  "screenshots",
);

async function settled(page: Page) {
  await expect(page.getByRole("status")).toHaveCount(0);
}

// The pages are the same whatever the database: the checks of the UI alone
// run on the first backend only, to keep the run short.
function uiOnly(project: string) {
  test.skip(project !== "sqlite", "UI-only check, run on the first backend");
}

test("axe-core: every logged-out page, and a form showing an error", async ({
  page,
  request,
}, info) => {
  uiOnly(info.project.name);
  const other = await makeUser(request, "axo");
  const post = await makePost(
    request,
    other,
    `Accessible post https://example.com ${other.username}`,
  );
  const paths = [
    "/",
    "/login",
    "/signup",
    `/@${other.username}`,
    `/p/${post.id}`,
    "/no/such",
  ];
  for (const path of paths) {
    await page.goto(path);
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
    await settled(page);
    await expectAccessible(page, `${path} (logged out)`);
  }
  await page.goto("/signup");
  await page.getByLabel("Email").fill("nope");
  await page.getByLabel("Username").fill(uniqueName("axe"));
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.getByLabel("Password")).toHaveAttribute(
    "aria-invalid",
    "true",
  );
  await expectAccessible(page, "/signup with field errors");
});

test("axe-core: every logged-in page, light; colour contrast in dark", async ({
  page,
  request,
}, info) => {
  uiOnly(info.project.name);
  test.setTimeout(120_000);
  const user = await makeUser(request, "axe");
  const other = await makeUser(request, "axo");
  const post = await makePost(
    request,
    other,
    `Accessible post ${other.username}`,
  );
  await makePost(request, user, `A reply ${user.username}`, post.id);
  await follow(request, user, other);
  await follow(request, other, user);
  await request.post(`/post/${post.id}/like/`, {
    headers: { Authorization: `Bearer ${user.access}` },
  });
  await loginAs(page, user);
  const paths = [
    "/",
    "/timeline",
    "/settings",
    `/@${user.username}`,
    `/@${other.username}`,
    `/@${user.username}/likes`,
    `/@${user.username}/followers`,
    `/@${user.username}/following`,
    `/p/${post.id}`,
  ];
  for (const path of paths) {
    await page.goto(path);
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
    await settled(page);
    await expectAccessible(page, `${path} (logged in)`);
  }
  // Dark mode changes colours only: pages with every kind of element
  // (navigation, posts, toggles, forms, people lists) cover it.
  await page.emulateMedia({ colorScheme: "dark" });
  for (const path of [
    "/",
    "/settings",
    `/@${user.username}/followers`,
    `/p/${post.id}`,
  ]) {
    await page.goto(path);
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
    await settled(page);
    await expectAccessible(page, `${path} (logged in, dark)`, {
      contrastOnly: true,
    });
  }
});

test("from 360 px phones to desktops, no horizontal scrolling", async ({
  page,
  request,
}, info) => {
  uiOnly(info.project.name);
  const user = await makeUser(request, "narrow");
  const post = await makePost(
    request,
    user,
    `A long word: ${"x".repeat(120)} and a long link https://example.com/${"y".repeat(100)}`,
  );
  await loginAs(page, user);
  for (const width of [360, 768, 1280]) {
    await page.setViewportSize({ width, height: 800 });
    for (const path of [
      "/",
      `/@${user.username}`,
      `/p/${post.id}`,
      "/settings",
    ]) {
      await page.goto(path);
      await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
      const scroll = await page.evaluate(
        () => document.documentElement.scrollWidth,
      );
      expect(scroll, `${path} at ${width}px`).toBeLessThanOrEqual(width);
    }
  }
});

test("keyboard only: skip link, log in, post, like", async ({
  page,
  request,
}) => {
  const user = await makeUser(request, "keys");
  await page.goto("/login");
  // The app renders after the load event: wait for it before typing.
  await expect(
    page.getByRole("heading", { level: 1, name: "Log in" }),
  ).toBeVisible();
  await page.keyboard.press("Tab");
  await expect(
    page.getByRole("link", { name: "Skip to content" }),
  ).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.locator("main")).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(page.getByLabel("Username")).toBeFocused();
  await page.keyboard.type(user.username);
  await page.keyboard.press("Tab");
  await page.keyboard.type(user.password);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("button", { name: "Log out" })).toBeVisible();

  await page.getByRole("textbox", { name: "New post" }).focus();
  await page.keyboard.type(`Typed only ${user.username}`);
  await page.keyboard.press("Tab");
  await expect(page.getByRole("button", { name: "Post" })).toBeFocused();
  await page.keyboard.press("Enter");
  const post = page
    .getByRole("article")
    .filter({ hasText: `Typed only ${user.username}` });
  const like = post.getByRole("button", { name: "Like" });
  await like.focus();
  await page.keyboard.press("Space");
  await expect(like).toHaveAttribute("aria-pressed", "true");
});

test("screenshots for the README (desktop and phone)", async ({
  page,
  request,
}, info) => {
  uiOnly(info.project.name);
  // Each run has a database of its own: these names are free.
  const ada = await makeUser(request, "", "ada");
  const linus = await makeUser(request, "", "linus");
  const grace = await makeUser(request, "", "grace");
  const as = (user: User) => ({
    headers: { Authorization: `Bearer ${user.access}` },
  });
  await request.patch("/user/me/", {
    data: { bio: "Engineer. Writes about databases and coffee." },
    ...as(ada),
  });
  await follow(request, ada, linus);
  await follow(request, ada, grace);
  await makePost(
    request,
    grace,
    "Reading list for the weekend:\n- keyset pagination\n- https://www.postgresql.org/docs/",
  );
  const shipped = await makePost(
    request,
    linus,
    "Shipped the web app today. It is served by Pamps itself, no extra server needed.",
  );
  await makePost(
    request,
    grace,
    "Congratulations! Works nicely on my phone too.",
    shipped.id,
  );
  await makePost(request, ada, "Same here, and in dark mode.", shipped.id);
  await request.post(`/post/${shipped.id}/like/`, as(ada));
  await request.post(`/post/${shipped.id}/like/`, as(grace));
  await makePost(request, grace, "Morning! Coffee first, then code review.");

  await page.setViewportSize({ width: 1100, height: 760 });
  await loginAs(page, ada, "/timeline");
  await expect(page.getByRole("article")).toHaveCount(4);
  await settled(page);
  await page.screenshot({ path: join(screenshots, "desktop.png") });
  await page.setViewportSize({ width: 390, height: 780 });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.goto(`/p/${shipped.id}`);
  await expect(page.getByRole("article")).toHaveCount(3);
  await settled(page);
  await page.screenshot({ path: join(screenshots, "phone.png") });
});
