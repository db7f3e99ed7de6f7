// Regenerates src/api/schema.d.ts from the OpenAPI document of the Python
// app itself (not a running server), so the typed client cannot drift.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const python = process.env.PAMPS_PYTHON ?? join(root, ".venv", "bin", "python");
if (!existsSync(python)) {
  console.error(
    `gen:api: ${python} not found; run scripts/run-api.sh once to make .venv`,
  );
  process.exit(1);
}
const spec = execFileSync(
  python,
  [
    "-c",
    "import json; from pamps.app import app; print(json.dumps(app.openapi()))",
  ],
  {
    cwd: root,
    env: { ...process.env, PAMPS_ENV: "testing" },
    maxBuffer: 64 << 20,
  },
);
const dir = mkdtempSync(join(tmpdir(), "pamps-openapi-"));
const file = join(dir, "openapi.json");
writeFileSync(file, spec);
try {
  execFileSync(
    join(root, "frontend", "node_modules", ".bin", "openapi-typescript"),
    [file, "-o", join(root, "frontend", "src", "api", "schema.d.ts")],
    { stdio: "inherit" },
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
