import { createHash, randomBytes } from "node:crypto";
import { expect, test, type APIRequestContext } from "@playwright/test";
import { expectAccessible, makeUser } from "./helpers";

// The Mastodon-compatible API's authorization page, as a GUI app sends
// people to it: a server-rendered form that must work without JavaScript.
test.use({ javaScriptEnabled: false });

const OOB = "urn:ietf:wg:oauth:2.0:oob";

interface App {
  client_id: string;
  client_secret: string;
}

async function registerApp(
  request: APIRequestContext,
  name: string,
  redirect: string,
): Promise<App> {
  const answer = await request.post("/api/v1/apps", {
    data: {
      client_name: name,
      redirect_uris: `${redirect}\n${OOB}`,
      scopes: "read write",
    },
  });
  expect(answer.status(), await answer.text()).toBe(200);
  return (await answer.json()) as App;
}

function authorizeUrl(app: App, redirect: string, extra = {}): string {
  const query = new URLSearchParams({
    client_id: app.client_id,
    response_type: "code",
    redirect_uri: redirect,
    scope: "read write",
    state: "opaque-state",
    ...extra,
  });
  return `/oauth/authorize?${query.toString()}`;
}

async function tokenFor(
  request: APIRequestContext,
  app: App,
  code: string,
  redirect: string,
  verifier?: string,
): Promise<string> {
  const answer = await request.post("/oauth/token", {
    form: {
      grant_type: "authorization_code",
      client_id: app.client_id,
      client_secret: app.client_secret,
      code,
      redirect_uri: redirect,
      ...(verifier ? { code_verifier: verifier } : {}),
    },
  });
  expect(answer.status(), await answer.text()).toBe(200);
  return ((await answer.json()) as { access_token: string }).access_token;
}

async function whoIs(
  request: APIRequestContext,
  token: string,
): Promise<string> {
  const answer = await request.get("/api/v1/accounts/verify_credentials", {
    headers: { Authorization: `Bearer ${token}` },
  });
  expect(answer.status()).toBe(200);
  return ((await answer.json()) as { username: string }).username;
}

test("a browser without JavaScript logs in, authorizes and is sent back with a code (PKCE)", async ({
  page,
  request,
  baseURL,
}) => {
  const user = await makeUser(request, "oauth");
  const redirect = `${baseURL}/health`;
  const app = await registerApp(request, "Gallery <GUI>", redirect);
  const verifier = randomBytes(48).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");

  await page.goto(
    authorizeUrl(app, redirect, {
      code_challenge: challenge,
      code_challenge_method: "S256",
    }),
  );
  await expect(
    page.getByRole("heading", { level: 1, name: "Authorize Gallery <GUI>" }),
  ).toBeVisible();
  await expect(page.getByText("Read everything in your account")).toBeVisible();
  await expect(
    page.getByText("Publish, edit and delete statuses"),
  ).toBeVisible();

  // A wrong password: the form again, with the reason.
  await page.getByLabel("Username").fill(user.username);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Authorize" }).click();
  await expect(page.getByRole("alert")).toHaveText(
    "Incorrect username or password.",
  );
  await expect(page.getByLabel("Username")).toHaveValue(user.username);

  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Authorize" }).click();
  await expect(page).toHaveURL(/\/health\?/);
  const back = new URL(page.url());
  expect(back.searchParams.get("state")).toBe("opaque-state");
  const code = back.searchParams.get("code") ?? "";
  expect(code).not.toBe("");

  const token = await tokenFor(request, app, code, redirect, verifier);
  expect(await whoIs(request, token)).toBe(user.username);
});

test("out of band: the page shows the code; Deny goes back with access_denied", async ({
  page,
  request,
  baseURL,
}) => {
  const user = await makeUser(request, "oob");
  const redirect = `${baseURL}/health`;
  const app = await registerApp(request, "Terminal", redirect);

  await page.goto(authorizeUrl(app, OOB));
  await expect(
    page.getByText("You will be shown a code to paste into the app."),
  ).toBeVisible();
  await page.getByLabel("Username").fill(user.email);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Authorize" }).click();
  const shown = page.getByLabel("Authorization code");
  await expect(shown).toBeVisible();
  const code = await shown.inputValue();
  const token = await tokenFor(request, app, code, OOB);
  expect(await whoIs(request, token)).toBe(user.username);

  await page.goto(authorizeUrl(app, redirect));
  await page.getByRole("button", { name: "Deny" }).click();
  await expect(page).toHaveURL(/\/health\?/);
  const back = new URL(page.url());
  expect(back.searchParams.get("error")).toBe("access_denied");
  expect(back.searchParams.get("state")).toBe("opaque-state");
  expect(back.searchParams.get("code")).toBeNull();
});

test.describe("with JavaScript, for the accessibility checker only", () => {
  test.use({ javaScriptEnabled: true, bypassCSP: true });

  test("the authorization page passes axe", async ({
    page,
    request,
    baseURL,
  }) => {
    const redirect = `${baseURL}/health`;
    const app = await registerApp(request, "Checked", redirect);
    await page.goto(authorizeUrl(app, redirect));
    await expectAccessible(page, "the authorization page");
    await page.emulateMedia({ colorScheme: "dark" });
    await expectAccessible(page, "the authorization page, dark", {
      contrastOnly: true,
    });
  });
});
