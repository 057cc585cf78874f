import test from "ava";
import { spawnSync } from "node:child_process";

// scripts/ensure-tools.mjs runs before `npm test`, `npm start` and `npm run bench`: it installs a
// missing program with apt-get where it can and otherwise names the install command. `--check`
// installs nothing, so these tests see the message a machine without root would print.
function ensure(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ["scripts/ensure-tools.mjs", ...args], { encoding: "utf8", timeout: 30_000, env: { ...process.env, ...env } });
}

test("a missing nats-server is named with its install command, and the script fails", (t) => {
  const r = ensure(["--check", "nats-server", "openssl"], { NATS_SERVER_BIN: "/nonexistent/nats-server" });
  t.is(r.status, 1, r.stderr);
  t.regex(r.stderr, /nats-server.*install it with: apt-get install -y nats-server/);
  t.notRegex(r.stderr, /- openssl/, "openssl is installed on this machine, so it is not named");
  t.is(r.stdout, "", "nothing on stdout: `npm run bench -- --json` prints only JSON");
});

test("tools that are installed pass silently", (t) => {
  const r = ensure(["--check", "nats-server", "openssl"]);
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout + r.stderr, "");
});

test("an unknown tool is a usage error", (t) => {
  const r = ensure(["nats-srver"]);
  t.is(r.status, 2);
  t.regex(r.stderr, /unknown tool nats-srver; known: nats-server, redis-server, openssl/);
});
