import AxeBuilder from "@axe-core/playwright";
import { expect, type APIRequestContext, type Page } from "@playwright/test";

export interface User {
  id: number;
  username: string;
  email: string;
  password: string;
  access: string;
  refresh: string;
}

let counter = 0;

/** A username no other test (or earlier run on the same database) uses. */
export function uniqueName(prefix = "u"): string {
  counter += 1;
  const random = Math.random().toString(36).slice(2, 8);
  return `${prefix}_${process.pid % 10000}${counter}${random}`.slice(0, 30);
}

/** A user made through the API itself, with a fresh pair of tokens. */
export async function makeUser(
  request: APIRequestContext,
  prefix = "u",
  exactName?: string,
): Promise<User> {
  const username = exactName ?? uniqueName(prefix);
  const email = `${username}@example.com`;
  const password = "correct horse battery";
  const created = await request.post("/user/", {
    data: { email, username, password },
  });
  expect(created.status(), await created.text()).toBe(201);
  const { id } = (await created.json()) as { id: number };
  const tokens = await tokensFor(request, username, password);
  return { id, username, email, password, ...tokens };
}

export async function tokensFor(
  request: APIRequestContext,
  username: string,
  password: string,
): Promise<{ access: string; refresh: string }> {
  const answer = await request.post("/token", { form: { username, password } });
  expect(answer.status()).toBe(200);
  const body = (await answer.json()) as {
    access_token: string;
    refresh_token: string;
  };
  return { access: body.access_token, refresh: body.refresh_token };
}

export async function makePost(
  request: APIRequestContext,
  user: User,
  text: string,
  parentId?: number,
): Promise<{ id: number }> {
  const answer = await request.post("/post/", {
    data: { text, parent_id: parentId ?? null },
    headers: { Authorization: `Bearer ${user.access}` },
  });
  expect(answer.status()).toBe(201);
  return (await answer.json()) as { id: number };
}

export async function follow(
  request: APIRequestContext,
  user: User,
  target: User,
): Promise<void> {
  const answer = await request.post(`/user/follow/${target.id}`, {
    headers: { Authorization: `Bearer ${user.access}` },
  });
  expect(answer.ok()).toBe(true);
}

/** Logged in as `user` the way a reload finds it: tokens in localStorage. */
export async function loginAs(
  page: Page,
  user: User,
  path = "/",
): Promise<void> {
  await page.goto("/robots.txt");
  await page.evaluate(
    (tokens) => localStorage.setItem("pamps.tokens", JSON.stringify(tokens)),
    { access: user.access, refresh: user.refresh },
  );
  await page.goto(path);
  await expect(page.getByRole("button", { name: "Log out" })).toBeVisible();
}

/** No serious or critical axe-core violation on the page as it is now
 * (WCAG 2.1 A and AA rules; `contrastOnly` for a second colour scheme). */
export async function expectAccessible(
  page: Page,
  label: string,
  { contrastOnly = false } = {},
): Promise<void> {
  const builder = new AxeBuilder({ page });
  if (contrastOnly) builder.withRules(["color-contrast"]);
  else builder.withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]);
  const results = await builder.analyze();
  const bad = results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
    );
  expect(bad, `axe on ${label}`).toEqual([]);
}

export function article(page: Page, text: string) {
  return page.getByRole("article").filter({ hasText: text });
}

/** Resolves once the server has answered the page's `method` request to
 * `path`: an optimistic change shows before that, and a reload sooner would
 * race the write. */
export function answered(page: Page, method: string, path: string) {
  return page.waitForResponse(
    (response) =>
      response.request().method() === method &&
      new URL(response.url()).pathname === path,
  );
}
