import test from "ava";
import { execFileSync, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError, createNode } from "berth";
import { pino } from "pino";
import { startNatsServer, type NatsServerHandle } from "../../framework/src/harness/index.js";
import { killAllNodes, spawnNode } from "../helpers/nodeProcess.js";
import { uniqueCluster } from "../helpers/nats.js";

/**
 * How Berth connects to NATS, on real servers started by the harness: servers that require
 * credentials or TLS, reached the ways docs/guides/nats.md documents (`berth node` and
 * `berth status` with NATS_USER/NATS_PASSWORD, NATS_TOKEN, credentials in the URL, and
 * --nats-tls-* / NATS_CA… files; `createNode({ nats: { token } })` in process), clear errors
 * instead of silent retries, and a node that starts before its NATS server. The certificates
 * are made by openssl.
 */

const BIN = resolve("framework/bin/berth.js");
const APP = "test/fixtures/log-app";
const dir = resolve(".berth", `test-auth-${randomUUID().slice(0, 8)}`);
const certs = join(dir, "certs");
const servers: NatsServerHandle[] = [];

/** Names of the PEM files made by `makeCerts`. */
const pem = (name: string): string => join(certs, `${name}.pem`);

/** A private CA, a server certificate for 127.0.0.1 and a client certificate, all signed by it. */
function makeCerts(): void {
  mkdirSync(certs, { recursive: true });
  const ssl = (...args: string[]): void => {
    try {
      execFileSync("openssl", args, { cwd: certs, stdio: "pipe" });
    } catch (error) {
      throw new Error(`openssl ${args[0]} failed (this test makes its certificates with openssl: apt-get install -y openssl)`, { cause: error });
    }
  };
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2", "-subj", "/CN=berth test ca");
  // The Node client checks a server reached by IP address against "localhost" (it sends no
  // server name for an IP), so the test certificate names both.
  writeFileSync(join(certs, "san.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const [name, ext] of [["server", ["-extfile", "san.cnf"]], ["client", []]] as const) {
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}-key.pem`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
    ssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", ...ext);
  }
}

let userServer: NatsServerHandle;
let tokenServer: NatsServerHandle;
let tlsServer: NatsServerHandle;

test.before(async () => {
  makeCerts();
  userServer = await startNatsServer({ dir, name: "user", authorization: { user: "berth", password: "s3cret:pw" } });
  tokenServer = await startNatsServer({ dir, name: "token", authorization: { token: "tok-123" } });
  // Mutual TLS: the server verifies client certificates against the same CA.
  tlsServer = await startNatsServer({ dir, name: "tls", tls: { certFile: pem("server"), keyFile: pem("server-key"), caFile: pem("ca"), verify: true } });
  servers.push(userServer, tokenServer, tlsServer);
});
test.afterEach.always(() => killAllNodes());
test.after.always(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `berth status --json` with only the given NATS variables set. */
function status(args: string[], env: Record<string, string> = {}): { code: number | null; out: string; err: string } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("NATS_")));
  const r = spawnSync(process.execPath, [BIN, "status", "--json", ...args], { encoding: "utf8", env: { ...clean, ...env }, timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function members(out: string): string[] {
  return (JSON.parse(out) as { members: Array<{ id: string; inView: boolean }> }).members.filter((m) => m.inView).map((m) => m.id);
}

test.serial("user and password: berth node and berth status take NATS_USER/NATS_PASSWORD or nats://user:pass@; a wrong or missing password is refused with the fix", async (t) => {
  const cluster = uniqueCluster();
  const node = await spawnNode({ app: APP, urls: [userServer.url], cluster, id: "auth-1", env: { NATS_USER: "berth", NATS_PASSWORD: "s3cret:pw" } });
  t.teardown(() => node.signal("SIGKILL"));

  const withEnv = status(["--nats", userServer.url, "--cluster", cluster], { NATS_USER: "berth", NATS_PASSWORD: "s3cret:pw" });
  t.is(withEnv.code, 0, withEnv.err);
  t.deepEqual(members(withEnv.out), ["auth-1"]);

  const inUrl = status(["--nats", `nats://berth:${encodeURIComponent("s3cret:pw")}@127.0.0.1:${userServer.port}`, "--cluster", cluster]);
  t.is(inUrl.code, 0, inUrl.err);
  t.deepEqual(members(inUrl.out), ["auth-1"]);
  t.false(inUrl.out.includes("s3cret"), "the password in the URL is not printed");

  const none = status(["--nats", userServer.url, "--cluster", cluster]);
  t.is(none.code, 1);
  t.regex(none.err, /Authorization Violation — the server requires credentials: set NATS_USER and NATS_PASSWORD/);

  const wrong = status(["--nats", userServer.url, "--cluster", cluster], { NATS_USER: "berth", NATS_PASSWORD: "nope" });
  t.is(wrong.code, 1);
  t.regex(wrong.err, /the server refused these credentials/);

  const noPassword = status(["--nats", userServer.url, "--cluster", cluster, "--nats-user", "berth"]);
  t.is(noPassword.code, 1);
  t.regex(noPassword.err, /NATS user "berth" has no password: set NATS_PASSWORD/);
});

test.serial("token: NATS_TOKEN, nats://token@, and createNode({ nats: { token } }); credentials given twice are refused", async (t) => {
  const cluster = uniqueCluster();
  const node = await createNode({ actors: [], nats: { servers: [tokenServer.url], token: "tok-123" }, cluster, id: "tok-1", roles: ["gateway"], logger: "silent" });
  t.teardown(() => node.stop());
  t.is(node.view.members[0]?.id, "tok-1");

  const withEnv = status(["--nats", tokenServer.url, "--cluster", cluster], { NATS_TOKEN: "tok-123" });
  t.is(withEnv.code, 0, withEnv.err);
  t.deepEqual(members(withEnv.out), ["tok-1"]);
  const inUrl = status(["--nats", `nats://tok-123@127.0.0.1:${tokenServer.port}`, "--cluster", cluster]);
  t.is(inUrl.code, 0, inUrl.err);
  t.deepEqual(members(inUrl.out), ["tok-1"]);

  await t.throwsAsync(createNode({ actors: [], nats: { servers: [`nats://tok-123@127.0.0.1:${tokenServer.port}`], token: "tok-123" }, cluster, logger: "silent" }), { instanceOf: ConfigError, message: /credentials are given twice/ });
});

test.serial("mutual TLS: --nats-tls-ca/--nats-tls-cert/--nats-tls-key or NATS_CA/NATS_CERT/NATS_KEY; without the CA or the client certificate the error says what to give", async (t) => {
  const cluster = uniqueCluster();
  const node = await spawnNode({ app: APP, urls: [tlsServer.url], cluster, id: "tls-1", args: ["--nats-tls-ca", pem("ca"), "--nats-tls-cert", pem("client"), "--nats-tls-key", pem("client-key")] });
  t.teardown(() => node.signal("SIGKILL"));

  const withEnv = status(["--nats", tlsServer.url, "--cluster", cluster], { NATS_CA: pem("ca"), NATS_CERT: pem("client"), NATS_KEY: pem("client-key") });
  t.is(withEnv.code, 0, withEnv.err);
  t.deepEqual(members(withEnv.out), ["tls-1"]);

  const noCa = status(["--nats", tlsServer.url, "--cluster", cluster]);
  t.is(noCa.code, 1);
  t.regex(noCa.err, /TLS failed: give the CA that signed the servers' certificates \(--nats-tls-ca or NATS_CA/);

  const noClientCert = status(["--nats", tlsServer.url, "--cluster", cluster, "--nats-tls-ca", pem("ca")]);
  t.is(noClientCert.code, 1);
  t.regex(noClientCert.err, /give one \(--nats-tls-cert and --nats-tls-key/);
});

test.serial("berth status fails at once when no server answers, and says when no such cluster exists; a node started before NATS waits, says why, and joins once NATS is up", async (t) => {
  const dead = status(["--nats", "nats://127.0.0.1:1"]);
  t.is(dead.code, 1);
  t.regex(dead.err, /could not connect to NATS at nats:\/\/127\.0\.0\.1:1: .* is nats-server running there\?/);

  const late = await startNatsServer({ dir, name: "late" });
  servers.push(late);
  const nobody = status(["--nats", late.url, "--cluster", "nobody-here"]);
  t.is(nobody.code, 1);
  t.regex(nobody.err, /no cluster named "nobody-here" on .*: is a node running\?/, "a cluster that does not exist is named as such, not as a server that does not answer");
  await late.stop();
  const lines: string[] = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
  const starting = createNode({ actors: [], nats: { servers: [late.url] }, cluster: uniqueCluster(), id: "late-1", roles: ["gateway"], logger });
  await new Promise((r) => setTimeout(r, 1_500));
  t.true(lines.some((l) => l.includes("cannot reach NATS yet; retrying every second")), lines.join(""));
  await late.restart();
  const node = await starting;
  t.teardown(() => node.stop());
  t.is(node.view.members[0]?.id, "late-1");
});

test.serial("a node on a NATS server without JetStream fails with the fix: start nats-server with -js", async (t) => {
  const plain = await startNatsServer({ dir, name: "nojs", jetstream: false });
  servers.push(plain);
  const error = await t.throwsAsync(createNode({ actors: [], nats: { servers: [plain.url] }, cluster: uniqueCluster(), id: "nojs-1", roles: ["gateway"], logger: "silent" }), { instanceOf: ConfigError });
  t.regex(error?.message ?? "", /JetStream is not enabled on the NATS server at .*127\.0\.0\.1:\d+: Berth keeps its cluster view.*Start nats-server with -js/);
});
