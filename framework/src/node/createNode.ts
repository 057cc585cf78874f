import { BerthNode, type NodeOptions } from "./BerthNode.js";
import { ClusterNode, type ClusterNodeOptions } from "./ClusterNode.js";

/**
 * Creates and starts a node. With `nats`, the node joins the cluster on NATS and calls reach
 * actors wherever they live; without it, the node stands alone in this process.
 *
 * @param options the actor types, dependency providers and limits; `nats` to join a cluster
 * @example
 * ```ts
 * const node = await createNode({ actors: [Cart], nats: { servers: "nats://127.0.0.1:4222" } });
 * const cart = node.ref(Cart, "session-42");
 * await cart.add("sku-1", 2);
 * await node.stop();
 * ```
 */
export async function createNode(options: ClusterNodeOptions): Promise<ClusterNode>;
export async function createNode(options: NodeOptions): Promise<BerthNode>;
export async function createNode(options: NodeOptions | ClusterNodeOptions): Promise<BerthNode> {
  if ("nats" in options && options.nats !== undefined) return ClusterNode.start(options);
  return new BerthNode(options);
}
