// Regenerates src/api/schema.d.ts from the OpenAPI document of the Python
// app itself (not a running server), so the typed client cannot drift.
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const venv = resolve(root, process.env.PAMPS_VENV ?? ".venv");
const python = process.env.PAMPS_PYTHON ?? join(venv, "bin", "python");
const target = join(root, "frontend", "src", "api", "schema.d.ts");
// --check: leave the committed schema alone; fail only when the UI no longer
// type-checks against the API as it is now (a real drift).
const check = process.argv.includes("--check");
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
const bin = join(root, "frontend", "node_modules", ".bin");
const fresh = join(dir, "schema.d.ts");
let status = 0;
try {
  execFileSync(
    join(bin, "openapi-typescript"),
    [file, "-o", check ? fresh : target],
    {
      stdio: check ? "ignore" : "inherit",
    },
  );
  if (check) status = checkAgainst(fresh);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(status);

function checkAgainst(freshSchema) {
  const committed = readFileSync(target, "utf8");
  const now = readFileSync(freshSchema, "utf8");
  if (committed === now) {
    console.log("gen:api: src/api/schema.d.ts matches the API");
    return 0;
  }
  console.warn(
    "gen:api: the API changed since src/api/schema.d.ts was generated (npm run gen:api)",
  );
  writeFileSync(target, now);
  try {
    execFileSync(join(bin, "tsc"), ["-p", join(root, "frontend"), "--noEmit"], {
      stdio: "inherit",
    });
    console.log("gen:api: the UI still type-checks against the current API");
    return 0;
  } catch {
    console.error(
      "gen:api: the UI does not type-check against the current API",
    );
    return 1;
  } finally {
    writeFileSync(target, committed);
  }
}
