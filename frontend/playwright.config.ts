import { execFileSync } from "node:child_process";
import { defineConfig, devices } from "@playwright/test";

// Each backend gets its own real Pamps (e2e/serve.sh) on a free port. The
// config is evaluated again in every worker: the ports chosen first are
// passed on through the environment.
const backends = (process.env.PAMPS_E2E_BACKENDS ?? "sqlite postgresql")
  .split(/\s+/)
  .filter(Boolean);

function freePort(): number {
  const script =
    "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})";
  return Number(
    execFileSync(process.execPath, ["-e", script]).toString().trim(),
  );
}

process.env.PAMPS_E2E_PORTS ??= backends.map(() => freePort()).join(",");
const ports = process.env.PAMPS_E2E_PORTS.split(",").map(Number);

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export default defineConfig({
  testDir: "e2e",
  fullyParallel: true,
  forbidOnly: true,
  retries: 0,
  workers: Number(process.env.PAMPS_E2E_WORKERS ?? 2),
  timeout: 45_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  use: {
    ...devices["Desktop Chrome"],
    launchOptions: {
      executablePath: process.env.CHROME_PATH ?? "/usr/bin/chromium",
      args: CHROMIUM_ARGS,
    },
    trace: "off",
    screenshot: "only-on-failure",
  },
  projects: backends.map((backend, i) => ({
    name: backend,
    use: { baseURL: `http://127.0.0.1:${ports[i]}` },
  })),
  webServer: backends.map((backend, i) => ({
    command: `bash e2e/serve.sh ${backend} ${ports[i]}`,
    url: `http://127.0.0.1:${ports[i]}/health`,
    timeout: 90_000,
    reuseExistingServer: false,
    stdout: "ignore",
    stderr: "pipe",
    gracefulShutdown: { signal: "SIGTERM", timeout: 15_000 },
  })),
});
