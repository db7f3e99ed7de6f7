import { expect, test } from "@playwright/test";
import { loginAs, makeUser } from "./helpers";

test("429 on login says when to try again", async ({ page, request }) => {
  const user = await makeUser(request, "limited");
  await page.route("**/token", (route) =>
    route.fulfill({
      status: 429,
      headers: { "Retry-After": "110" },
      json: { detail: "Too many failed logins" },
    }),
  );
  await page.goto("/login");
  await page.getByLabel("Username").fill(user.username);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toHaveText(
    "Too many attempts, try again in 2 minutes.",
  );
});

test("503 on a list: 'server busy', then Try again works", async ({ page }) => {
  let busy = true;
  await page.route(/\/post\/\?/, (route) =>
    busy
      ? route.fulfill({
          status: 503,
          headers: { "Retry-After": "5" },
          json: {
            detail: "Database temporarily unavailable, try again shortly",
          },
        })
      : route.fallback(),
  );
  await page.goto("/");
  await expect(page.getByRole("alert")).toContainText("Server busy");
  busy = false;
  await page.getByRole("button", { name: "Try again" }).click();
  await expect(page.getByRole("alert")).toHaveCount(0);
});

test("network down while posting: said so, and the text is kept", async ({
  page,
  request,
}) => {
  const user = await makeUser(request, "offline");
  await loginAs(page, user);
  await page.route(/\/post\/$/, (route) =>
    route.request().method() === "POST"
      ? route.abort("internetdisconnected")
      : route.fallback(),
  );
  const box = page.getByRole("textbox", { name: "New post" });
  await box.fill("Sent while offline");
  await page.getByRole("button", { name: "Post" }).click();
  await expect(page.getByRole("alert")).toContainText(/network down/i);
  await expect(box).toHaveValue("Sent while offline");
});

test("unknown pages, people and posts get a friendly 404 page", async ({
  page,
}) => {
  await page.goto("/no/such/page");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(
    "Page not found",
  );
  await page.getByRole("link", { name: "Back to the home page" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Home");
  await page.goto("/@nobody_has_this_name");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(
    "No such person",
  );
  await page.goto("/p/987654321");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(
    "Post not found",
  );
  await page.goto("/p/abc");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(
    "Post not found",
  );
});
