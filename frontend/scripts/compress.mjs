// Writes a .gz copy beside each text file of the build: Pamps serves it to
// browsers that accept gzip (pamps/web.py), so the app loads compressed
// without a compression middleware on the API's own answers.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync, constants } from "node:zlib";

const dist = resolve(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const TEXT = /\.(js|css|html|svg|json|txt|webmanifest)$/;
let saved = 0;

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (TEXT.test(name) && statSync(path).size > 1024) {
      const data = readFileSync(path);
      const gz = gzipSync(data, { level: constants.Z_BEST_COMPRESSION });
      writeFileSync(`${path}.gz`, gz);
      saved += data.length - gz.length;
    }
  }
}

walk(dist);
console.log(`compress: ${Math.round(saved / 1024)} KB saved by the .gz copies`);
