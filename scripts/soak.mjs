#!/usr/bin/env node
// `npm run test:soak -- [--minutes n]`: the soak run (test/integration/soak.test.ts) for n
// minutes (default 30): faults one after another under load, on a 3-server NATS cluster.
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { minutes: { type: "string", default: "30" } } });
const minutes = Number(values.minutes);
if (!Number.isFinite(minutes) || minutes <= 0) {
  console.error(`--minutes must be a positive number; got ${values.minutes}`);
  process.exit(2);
}
console.log(`soak run: ${minutes} min of faults under load`);
const result = spawnSync("npx", ["ava", `--timeout=${Math.ceil(minutes) + 10}m`, "--verbose", "test/integration/soak.test.ts"], {
  stdio: "inherit",
  env: { ...process.env, BERTH_SOAK_MINUTES: String(minutes) },
});
process.exit(result.status ?? 1);
