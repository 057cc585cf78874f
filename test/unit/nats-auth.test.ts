import test from "ava";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "berth";
import { natsAuthFrom } from "../../framework/src/cli/natsAuth.js";
import { credentialsFromUrls } from "../../framework/src/transport/nats/urlCredentials.js";

/** How `berth node` and `berth status` take NATS credentials and TLS files (docs/guides/nats.md). */

test("credentials come out of NATS URLs: user:pass@ and token@, percent-decoded", (t) => {
  t.deepEqual(credentialsFromUrls(["nats://127.0.0.1:4222", "n2:4222"]), { servers: ["nats://127.0.0.1:4222", "n2:4222"] });
  t.deepEqual(credentialsFromUrls(["nats://app:s3cret@10.0.0.1:4222", "tls://app:s3cret@10.0.0.2:4222"]), { servers: ["nats://10.0.0.1:4222", "tls://10.0.0.2:4222"], user: "app", pass: "s3cret" });
  t.deepEqual(credentialsFromUrls(["nats://tok123@h:4222"]), { servers: ["nats://h:4222"], token: "tok123" });
  t.deepEqual(credentialsFromUrls(["nats://a%40b:p%3Aw@h:4222"]), { servers: ["nats://h:4222"], user: "a@b", pass: "p:w" });
  t.deepEqual(credentialsFromUrls(["app:pw@h:4222"]), { servers: ["h:4222"], user: "app", pass: "pw" }, "a URL without a scheme too");
  t.throws(() => credentialsFromUrls(["nats://a:b@h1:4222", "nats://a:c@h2:4222"]), { instanceOf: ConfigError, message: /different credentials/ });
  t.throws(() => credentialsFromUrls(["nats://a%zz:b@h1:4222"]), { instanceOf: ConfigError, message: /percent-encode/ });
});

test("NATS_USER + NATS_PASSWORD, or NATS_TOKEN; --nats-user overrides NATS_USER", (t) => {
  t.deepEqual(natsAuthFrom({}, {}), {});
  t.deepEqual(natsAuthFrom({}, { NATS_USER: "app", NATS_PASSWORD: "pw" }), { user: "app", pass: "pw" });
  t.deepEqual(natsAuthFrom({ natsUser: "other" }, { NATS_USER: "app", NATS_PASSWORD: "pw" }), { user: "other", pass: "pw" });
  t.deepEqual(natsAuthFrom({}, { NATS_TOKEN: "tok" }), { token: "tok" });
  t.deepEqual(natsAuthFrom({}, { NATS_USER: "", NATS_TOKEN: "tok" }), { token: "tok" }, "an empty variable is unset");
  t.throws(() => natsAuthFrom({}, { NATS_PASSWORD: "pw" }), { instanceOf: ConfigError, message: /no NATS user: set NATS_USER/ });
  t.throws(() => natsAuthFrom({ natsUser: "app" }, {}), { instanceOf: ConfigError, message: /has no password: set NATS_PASSWORD/ });
  t.throws(() => natsAuthFrom({}, { NATS_USER: "app", NATS_PASSWORD: "pw", NATS_TOKEN: "tok" }), { instanceOf: ConfigError, message: /one or the other/ });
});

test("TLS: --nats-tls, or CA / client certificate files from the flags or NATS_CA, NATS_CERT, NATS_KEY", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "berth-tls-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [ca, cert, key] = ["ca.pem", "cert.pem", "key.pem"].map((f) => join(dir, f)) as [string, string, string];
  for (const f of [ca, cert, key]) writeFileSync(f, "pem");
  t.deepEqual(natsAuthFrom({ natsTls: true }, {}), { tls: true });
  t.deepEqual(natsAuthFrom({ natsTlsCa: ca }, {}), { tls: { caFile: ca } });
  t.deepEqual(natsAuthFrom({}, { NATS_CA: ca, NATS_CERT: cert, NATS_KEY: key }), { tls: { caFile: ca, certFile: cert, keyFile: key } });
  t.deepEqual(natsAuthFrom({ natsTlsCert: cert, natsTlsKey: key }, { NATS_CERT: "ignored", NATS_KEY: "ignored" }), { tls: { certFile: cert, keyFile: key } }, "flags win over the environment");
  t.throws(() => natsAuthFrom({ natsTlsCert: cert }, {}), { instanceOf: ConfigError, message: /needs both --nats-tls-cert and --nats-tls-key/ });
  t.throws(() => natsAuthFrom({ natsTlsCa: join(dir, "missing.pem") }, {}), { instanceOf: ConfigError, message: /--nats-tls-ca \(or NATS_CA\): no such file .*missing\.pem/ });
});
