#!/usr/bin/env node
// The `berth` command. The CLI is compiled TypeScript in ../dist; this shim only loads it.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error("berth: the framework is not built yet. Run `npm run build` in the repository root (npm install does it too).");
  process.exit(1);
}
await import(main.href);
