import test from "ava";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { handOverWaitMs } from "../../framework/src/cli/nodeCommand.js";

const BIN = resolve("framework/bin/berth.js");

test("the hand-over wait of a stopping node fits inside --shutdown-timeout", (t) => {
  t.is(handOverWaitMs(30_000), 24_000, "the default: 80% of 30 s");
  t.is(handOverWaitMs(60_000), 48_000);
  t.is(handOverWaitMs(120_000), 96_000);
  t.is(handOverWaitMs(10_000), 5_000, "5 s are kept for closing the connections");
  t.is(handOverWaitMs(3_000), 1_500, "a short limit: half of it");
  for (const limit of [1_000, 5_000, 7_000, 30_000, 600_000]) t.true(handOverWaitMs(limit) > 0 && handOverWaitMs(limit) < limit, `${limit}`);
});

test("berth node refuses a --shutdown-timeout that is not a duration of at least a second, before it connects anywhere", (t) => {
  for (const bad of ["abc", "-1", "500", "0.5s"]) {
    const r = spawnSync(process.execPath, [BIN, "node", "--app", "test/fixtures/log-app", "--nats", "nats://127.0.0.1:1", "--shutdown-timeout", bad], { encoding: "utf8", timeout: 30_000 });
    t.is(r.status, 1, `${bad}: ${r.stderr}`);
    t.regex(r.stderr, /--shutdown-timeout must be at least 1000 ms, as a number of ms or a duration like "45s"/, bad);
  }
});

test("berth node refuses an unknown --log-level with the levels it takes, before it connects anywhere", (t) => {
  const r = spawnSync(process.execPath, [BIN, "node", "--app", "test/fixtures/log-app", "--nats", "nats://127.0.0.1:1", "--log-level", "loud"], { encoding: "utf8", timeout: 30_000 });
  t.is(r.status, 1, r.stderr);
  t.regex(r.stderr, /the log level must be one of trace, debug, info, warn, error, fatal, silent; got "loud"/);
});
