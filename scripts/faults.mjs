#!/usr/bin/env node
// `npm run test:faults -- [--runs n]`: the long fault and migration runs. Each failover scenario
// (kill -9 per backup policy, kill -9 of a NATS server, SIGSTOP beyond the lease, async loss,
// a network partition of a worker)
// runs n times (default 5); the migration run uses more sessions on a 3-server NATS cluster.
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`--runs must be a positive integer; got ${values.runs}`);
  process.exit(2);
}
console.log(`fault runs: ${runs} of each failover scenario, then the long migration run`);
const result = spawnSync("npx", ["ava", "--timeout=15m", "test/integration/failover.test.ts", "test/integration/partition.test.ts", "test/integration/migration.test.ts"], {
  stdio: "inherit",
  env: { ...process.env, BERTH_FAULT_RUNS: String(runs), BERTH_LONG: "1" },
});
process.exit(result.status ?? 1);
