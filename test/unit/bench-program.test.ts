import test from "ava";
import { spawnSync } from "node:child_process";

// The benchmark program loads every benchmark module before it runs one: a module that pulls
// in ava (a test helper with hooks) makes `npm run bench` exit at once with "Test files must
// be run with the AVA CLI". Asking for an unknown benchmark loads them all and runs none.
test("the benchmark program loads every benchmark outside ava", (t) => {
  const r = spawnSync(process.execPath, ["--import", "tsx", "test/bench/main.ts", "--only", "no-such-benchmark"], { encoding: "utf8", timeout: 60_000 });
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, /unknown benchmark\(s\): no-such-benchmark; available: .*\bwrite\b.*failover/);
});
