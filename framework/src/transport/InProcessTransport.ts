import { DeadlineExceededError, NodeUnreachableError } from "../errors.js";
import type { RequestHandler, Transport } from "./types.js";

/**
 * An in-process network for users' unit tests and fast tests of pure logic: nodes in one
 * process talk through it with real encoding (every payload is copied), asynchronously, and
 * can be cut off from each other. It never stands in for NATS in a test of cluster behaviour.
 *
 * @example
 * ```ts
 * const net = new InProcessNetwork();
 * const a = net.connect("a"), b = net.connect("b");
 * b.serve((req) => req);
 * await a.request("b", new Uint8Array([1]), 1000);
 * ```
 */
export class InProcessNetwork {
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly topics = new Map<string, Set<(payload: Uint8Array) => void>>();
  private readonly cut = new Set<string>();

  /** A transport for node `nodeId` on this network. */
  connect(nodeId: string): Transport {
    return new InProcessTransport(this, nodeId);
  }

  /** Cuts node `nodeId` off: its requests and publishes, and those to it, are lost. */
  isolate(nodeId: string): void {
    this.cut.add(nodeId);
  }

  /** Whether node `nodeId` is cut off. */
  isIsolated(nodeId: string): boolean {
    return this.cut.has(nodeId);
  }

  /** Undoes `isolate`. */
  heal(nodeId: string): void {
    this.cut.delete(nodeId);
  }

  /** @internal */
  register(nodeId: string, handler: RequestHandler | null): void {
    if (handler === null) this.handlers.delete(nodeId);
    else this.handlers.set(nodeId, handler);
  }

  /** @internal */
  deliver(from: string, target: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const handler = this.handlers.get(target);
    if (handler === undefined) return Promise.reject(new NodeUnreachableError(target));
    const copy = payload.slice();
    if (this.cut.has(from) || this.cut.has(target)) {
      // Lost on the way: the caller waits for its deadline, as on a real network.
      return new Promise((_, reject) => setTimeout(() => reject(new DeadlineExceededError(timeoutMs, `request to ${target}`)), timeoutMs));
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => reject(new DeadlineExceededError(timeoutMs, `request to ${target}`)), timeoutMs);
      setImmediate(() => {
        try {
          handler(copy, (reply) => {
            clearTimeout(timer);
            if (this.cut.has(from) || this.cut.has(target)) return; // the reply is lost
            resolve(reply.slice());
          });
        } catch (error) {
          clearTimeout(timer);
          reject(error);
        }
      });
    });
  }

  /** @internal */
  broadcast(from: string, topic: string, payload: Uint8Array): void {
    if (this.cut.has(from)) return;
    const subs = this.topics.get(topic);
    if (subs === undefined) return;
    for (const fn of subs) {
      const copy = payload.slice();
      setImmediate(() => fn(copy));
    }
  }

  /** @internal */
  listen(nodeId: string, topic: string, fn: (payload: Uint8Array) => void): () => void {
    const wrapped = (payload: Uint8Array): void => {
      if (!this.cut.has(nodeId)) fn(payload);
    };
    let subs = this.topics.get(topic);
    if (subs === undefined) this.topics.set(topic, (subs = new Set()));
    subs.add(wrapped);
    return () => subs.delete(wrapped);
  }
}

class InProcessTransport implements Transport {
  private readonly unsubscribes = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly net: InProcessNetwork,
    readonly nodeId: string,
  ) {}

  send(target: string, payload: Uint8Array, timeoutMs: number, onReply: (reply: Uint8Array) => void, onError: (error: Error) => void): void {
    this.request(target, payload, timeoutMs).then(onReply, onError);
  }

  request(target: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new NodeUnreachableError(target));
    return this.net.deliver(this.nodeId, target, payload, timeoutMs);
  }

  serve(handler: RequestHandler): void {
    this.net.register(this.nodeId, handler);
  }

  publish(topic: string, payload: Uint8Array): void {
    if (!this.closed) this.net.broadcast(this.nodeId, topic, payload);
  }

  subscribe(topic: string, handler: (payload: Uint8Array) => void): () => void {
    const off = this.net.listen(this.nodeId, topic, handler);
    this.unsubscribes.add(off);
    return () => {
      off();
      this.unsubscribes.delete(off);
    };
  }

  /** Like NATS' flush: resolves once "the server" has everything — never while this node is cut off. */
  flush(): Promise<void> {
    return this.net.isIsolated(this.nodeId) || this.closed ? new Promise(() => undefined) : Promise.resolve();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.net.register(this.nodeId, null);
    for (const off of this.unsubscribes) off();
    this.unsubscribes.clear();
  }
}
