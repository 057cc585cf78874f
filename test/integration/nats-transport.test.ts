import test from "ava";
import { connect } from "@nats-io/transport-node";
import { NatsTransport } from "../../framework/src/transport/nats/NatsTransport.js";
import { uniqueCluster } from "../helpers/nats.js";
import { natsForFile } from "../helpers/natsForFile.js";

const nats = natsForFile("single");

// Regression: single requests had bare base-36 reply ids and batches a "b" prefix, so the
// replies of requests 14,256 to 15,551 (ids "b00".."bzz") were taken for batch replies and
// dropped; every call in that range waited for its 2.5 s attempt timeout.
test("20,000 sequential requests each get their reply (no reply id is mistaken for a batch id)", async (t) => {
  const cluster = uniqueCluster();
  const [nca, ncb] = await Promise.all([connect({ servers: nats.urls }), connect({ servers: nats.urls })]);
  t.teardown(async () => {
    await Promise.all([nca.close(), ncb.close()]);
  });
  const a = new NatsTransport(nca, "a", cluster);
  const b = new NatsTransport(ncb, "b", cluster);
  b.serve((bytes, respond) => respond(bytes));
  await ncb.flush();
  const request = (i: number): Promise<number> =>
    new Promise((resolve, reject) => a.send("b", enc.encode(`C1 ${i}`), 1_000, (r) => resolve(Number(dec.decode(r).slice(3))), reject));
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  let slowest = 0;
  for (let i = 0; i < 20_000; i++) {
    const t0 = performance.now();
    const got = await request(i).catch((e: unknown) => { throw new Error(`request ${i}: ${String(e)}`); });
    t.is(got, i);
    slowest = Math.max(slowest, performance.now() - t0);
  }
  t.true(slowest < 900, `slowest request took ${Math.round(slowest)} ms`);
  await Promise.all([a.close(), b.close()]);
});
