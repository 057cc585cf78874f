import { BerthNode, type NodeOptions } from "../node/BerthNode.js";
import { FakeClock } from "./FakeClock.js";

/** A node for tests: in-process, silent, and driven by a `FakeClock`. */
export interface TestNode extends BerthNode {
  readonly clock: FakeClock;
}

/**
 * Creates an in-process node for unit tests, with a `FakeClock` (unless you pass a clock)
 * and logging off (unless you pass a logger).
 *
 * @example
 * ```ts
 * import test from "ava";
 * import { createTestNode } from "berth/testing";
 * test("adds", async (t) => {
 *   const node = await createTestNode({ actors: [Cart] });
 *   t.is(await node.ref(Cart, "s1").add("sku", 2), 1);
 *   await node.stop();
 * });
 * ```
 */
export async function createTestNode(options: Omit<NodeOptions, "clock"> & { clock?: FakeClock }): Promise<TestNode> {
  const clock = options.clock ?? new FakeClock();
  return new BerthNode({ logger: "silent", ...options, clock }) as TestNode;
}
