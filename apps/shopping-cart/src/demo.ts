import { createNode } from "berth";
import { Cart } from "./cart.js";

/**
 * A single-node tour of the cart actor: three browser sessions shop at once, one cart is
 * passivated and comes back intact, and a bad request leaves its cart unchanged.
 */
const node = await createNode({ actors: [Cart], logger: "warn" });
const sessions = ["alice", "bob", "carol"];
await Promise.all(
  sessions.map(async (s, i) => {
    const cart = node.ref(Cart, `session-${s}`);
    await cart.add("apple", i + 1);
    await cart.add("pear", 1);
  }),
);
for (const s of sessions) console.log(`${s.padEnd(6)} ${JSON.stringify(await node.ref(Cart, `session-${s}`).get())}`);
console.log(`passivated ${await node.passivateAll()} idle carts; alice's cart after reactivation:`, JSON.stringify(await node.ref(Cart, "session-alice").get()));
try {
  await node.ref(Cart, "session-bob").add("apple", -3);
} catch (e) {
  console.log(`bob's bad request was refused (${(e as Error).message}); his cart:`, JSON.stringify(await node.ref(Cart, "session-bob").get()));
}
console.log("stats:", JSON.stringify(node.stats()));
await node.stop();
