/**
 * Calls a counter on the running cluster: `npm run call -- [id] [by]`.
 *
 * It joins the cluster as a gateway (a node that hosts no actors), so the call goes to
 * whichever worker owns the counter. The NATS servers come from NATS_URL, else from the
 * `npm start` (berth dev) running in this folder.
 */
import { createNode, resolveNatsUrls } from "berth";
import { Counter } from "./counter.js";

const id = process.argv[2] ?? "hello";
const by = Number(process.argv[3] ?? "1");

const node = await createNode({ actors: [Counter], nats: { servers: resolveNatsUrls(undefined) }, roles: ["gateway"], logger: "error" });
try {
  const count = await node.ref(Counter, id).increment(by);
  console.log(`counter "${id}" is now ${count} (it lives on ${node.locate(id).owner ?? "no worker"})`);
} finally {
  await node.stop();
}
