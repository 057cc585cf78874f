import test from "ava";
import { defineActor, sync } from "berth";
import { createTestNode } from "berth/testing";
import type { ActorHost } from "../../framework/src/actor/ActorHost.js";

/**
 * An actor's replication sequence never repeats on a node, even across ctx.destroy() or expiry
 * and a new actor with the same id: replication tells turns apart by it (acknowledgements,
 * event log message ids). See the policy conformance suite for what went wrong without.
 */

const Session = defineActor("session", {
  state: () => ({ n: 0 }),
  backup: sync(),
  idleTimeout: "1m",
  expireAfter: "5m",
  handlers: {
    inc(ctx) {
      ctx.state.n++;
    },
    logout(ctx) {
      ctx.destroy();
    },
  },
});

const seqOf = (node: object, id: string): number | undefined => (node as { host: ActorHost }).host.recordOf("session", id)?.seq;

test("a destroyed actor's successor with the same id continues its sequence", async (t) => {
  const node = await createTestNode({ actors: [Session] });
  const s = node.ref(Session, "s1");
  await s.inc();
  await s.inc();
  t.is(seqOf(node, "s1"), 2);
  await s.logout(); // turn 3 deletes it
  await s.inc();
  t.is(seqOf(node, "s1"), 4, "the new actor's first turn is 4, not 1");
  await node.stop();
});

test("so does the successor of an expired actor, one past it (the expiry's tombstone takes a number)", async (t) => {
  const node = await createTestNode({ actors: [Session] });
  await node.ref(Session, "s2").inc();
  await node.clock.advance("2m"); // passivated
  t.is(node.stats().passive, 1);
  await node.clock.advance("10m"); // expired
  t.is(node.stats().destroyed, 1);
  await node.ref(Session, "s2").inc();
  t.is(seqOf(node, "s2"), 3);
  await node.stop();
});

test("destroyed actors' sequences are forgotten after ten minutes", async (t) => {
  const node = await createTestNode({ actors: [Session] });
  await node.ref(Session, "s3").inc();
  await node.ref(Session, "s3").logout();
  await node.clock.advance("11m");
  await node.ref(Session, "s3").inc();
  t.is(seqOf(node, "s3"), 1, "long gone: a new actor starts from scratch");
  await node.stop();
});
