import { BerthNode, type NodeOptions } from "./BerthNode.js";

/**
 * Creates and starts a node that hosts `actors` in this process.
 *
 * @param options the actor types, dependency providers and limits (see `NodeOptions`)
 * @example
 * ```ts
 * const node = await createNode({ actors: [Cart] });
 * const cart = node.ref(Cart, "session-42");
 * await cart.add("sku-1", 2);
 * await node.stop();
 * ```
 */
export async function createNode(options: NodeOptions): Promise<BerthNode> {
  return new BerthNode(options);
}
