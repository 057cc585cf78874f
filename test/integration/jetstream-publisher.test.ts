import test from "ava";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { JetStreamPublisher, PublishRefusedError, PublishTimeoutError } from "../../framework/src/replication/log/publisher.js";
import { isTransient } from "../../framework/src/replication/log/retry.js";
import { processState } from "../../framework/src/harness/processes.js";
import { startTestNats, uniqueCluster, type TestNats } from "../helpers/nats.js";
import { waitFor } from "../helpers/nodeProcess.js";

/**
 * The event log's JetStream publish (one attempt: NatsEventLog repeats it) against a real
 * nats-server: the stream's sequence, a repeated message id stored once, no stream at all, a
 * message the stream refuses, and no acknowledgement in time.
 */

let nats: TestNats | undefined;
test.before(async () => {
  nats = await startTestNats("single");
});
test.after.always(async () => {
  await nats?.stop();
});

async function setup(maxMsgSize = -1) {
  const nc = await connect({ servers: nats?.urls ?? [] });
  const jsm = await jetstreamManager(nc);
  const name = uniqueCluster();
  await jsm.streams.add({ name, subjects: [`${name}.>`], max_msg_size: maxMsgSize, duplicate_window: 60_000_000_000 });
  return { nc, jsm, name, pub: new JetStreamPublisher(nc) };
}

test.serial("publishes with a message id: the stream's sequence; the same id again is stored once and answers the first sequence", async (t) => {
  const { nc, jsm, name, pub } = await setup();
  const a = await pub.publish(`${name}.a`, new TextEncoder().encode("one"), "id-1", 2_000);
  const b = await pub.publish(`${name}.a`, new TextEncoder().encode("two"), "id-2", 2_000);
  const again = await pub.publish(`${name}.a`, new TextEncoder().encode("one"), "id-1", 2_000);
  t.is(a, 1);
  t.is(b, 2);
  t.is(again, 1);
  t.is((await jsm.streams.info(name)).state.messages, 2);
  pub.close();
  await nc.close();
});

test.serial("a subject no stream takes: PublishTimeoutError at once (no responders), which the log retries", async (t) => {
  const { nc, pub } = await setup();
  const started = Date.now();
  const err = await t.throwsAsync(pub.publish("nobody.listens.here", new Uint8Array(1), "x", 5_000), { instanceOf: PublishTimeoutError });
  t.true(Date.now() - started < 1_000, "no-responders comes back at once, not after the timeout");
  t.true(isTransient(err));
  pub.close();
  await nc.close();
});

test.serial("a message the stream refuses: PublishRefusedError with the server's codes; too large is not retried", async (t) => {
  const { nc, name, pub } = await setup(16);
  const err = await t.throwsAsync(pub.publish(`${name}.a`, new Uint8Array(64), "big", 2_000), { instanceOf: PublishRefusedError });
  t.is(err?.code, 400);
  t.regex(err?.message ?? "", /message size exceeds/);
  t.false(isTransient(err));
  pub.close();
  await nc.close();
});

test.serial("no acknowledgement in time (the server is paused): PublishTimeoutError after the attempt's timeout; close() fails what waits", async (t) => {
  const { nc, name, pub } = await setup();
  const server = nats?.servers[0];
  if (server === undefined) return t.fail("the harness gave no server");
  server.kill("SIGSTOP");
  try {
    // The signal stops the server's threads soon, not at once: a message sent before would be answered.
    await waitFor(() => processState(server.pid) === "T", 1_000, "the paused server to stop");
    const started = Date.now();
    await t.throwsAsync(pub.publish(`${name}.a`, new Uint8Array(1), "late", 300), { instanceOf: PublishTimeoutError });
    const waited = Date.now() - started;
    t.true(waited >= 280 && waited < 1_500, `waited ${waited} ms`);
    const pending = pub.publish(`${name}.a`, new Uint8Array(1), "closing", 10_000);
    pub.close();
    await t.throwsAsync(pending, { instanceOf: PublishTimeoutError, message: /closing/ });
  } finally {
    server.kill("SIGCONT");
  }
  await nc.close();
});

