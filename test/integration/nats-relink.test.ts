import test from "ava";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { DeadlineExceededError, ReplyLostError } from "../../framework/src/errors.js";
import { NatsTransport } from "../../framework/src/transport/nats/NatsTransport.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";

/**
 * When a NATS server dies, the requests and replies passing through it are lost (NATS core
 * delivers at most once). A caller used to find out only when its attempt timed out (2.5 s for
 * calls); in the fault runs about half the kills of a NATS server stalled some calls that long.
 * Now a transport whose connection comes back fails its waiting requests at once and tells the
 * other nodes, which fail theirs to it: the callers retry (with the same call id) right away.
 */

const nats = natsForFile("cluster");

/** A connection that starts on server `first` and moves to the others when it dies. */
function connectTo(first: number): Promise<NatsConnection> {
  const urls = [...nats.urls];
  const [preferred] = urls.splice(first, 1);
  return connect({ servers: [preferred as string, ...urls], noRandomize: true, reconnectTimeWait: 250, maxReconnectAttempts: -1 });
}

test.serial("requests waiting when a NATS server dies fail at once as 'no reply', on the moved connection and on its peers", async (t) => {
  t.timeout(60_000);
  const cluster = uniqueCluster();
  // `moving` is on server 0, which will die; `staying` is on server 1.
  const [ncMoving, ncStaying] = await Promise.all([connectTo(0), connectTo(1)]);
  t.teardown(async () => {
    await Promise.all([ncMoving.close(), ncStaying.close()]);
  });
  const moving = new NatsTransport(ncMoving, "moving", cluster);
  const staying = new NatsTransport(ncStaying, "staying", cluster);
  // Neither ever answers: once both requests were received, only the connection coming back
  // can end them before their 30 s timeout.
  const received = (): { done: Promise<void>; handler: () => void } => {
    let handler = (): void => undefined;
    const done = new Promise<void>((resolve) => (handler = resolve));
    return { done, handler: () => handler() };
  };
  const atMoving = received();
  const atStaying = received();
  moving.serve(() => atMoving.handler());
  staying.serve(() => atStaying.handler());
  await Promise.all([ncMoving.flush(), ncStaying.flush()]);
  // Give the cluster's interest graph a moment to carry both subscriptions to every server.
  await new Promise((r) => setTimeout(r, 500));

  const toMoving = staying.request("moving", new Uint8Array([1]), 30_000);
  const fromMoving = moving.request("staying", new Uint8Array([2]), 30_000);
  await Promise.all([atMoving.done, atStaying.done]);
  const started = Date.now();
  nats.servers[0]?.kill("SIGKILL");

  const peerSide = await t.throwsAsync(toMoving, { instanceOf: DeadlineExceededError });
  t.regex(peerSide?.message ?? "", /no reply from moving: moving's connection to NATS was re-established/);
  const ownSide = await t.throwsAsync(fromMoving, { instanceOf: DeadlineExceededError });
  t.regex(ownSide?.message ?? "", /no reply from staying: this node's connection to NATS was re-established/);
  t.true(peerSide instanceof ReplyLostError && ownSide instanceof ReplyLostError, "a DeadlineExceededError that says why (the HTTP forwarder retries a GET on it)");
  t.is(moving.relinks, 1);
  t.is(staying.relinks, 0, "the peer's connection never dropped");
  t.log(`both failed ${Date.now() - started} ms after the kill (the requests' timeout was 30 s)`);

  // Requests after the move are answered as before.
  const echo = new NatsTransport(ncMoving, "echo", cluster, { service: "echo" });
  echo.serve((bytes, respond) => respond(bytes));
  await ncMoving.flush();
  const asker = new NatsTransport(ncStaying, "asker", cluster, { service: "echo" });
  t.deepEqual([...(await asker.request("echo", new Uint8Array([7]), 5_000))], [7]);
  await nats.servers[0]?.restart();
});
