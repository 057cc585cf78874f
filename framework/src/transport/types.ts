/**
 * How nodes talk: addressed request/reply (calls, state transfer) and topic pub/sub
 * (heartbeats, view changes). Two implementations: NATS for real clusters, and an
 * in-process network for users' unit tests. Actor code never sees either.
 */

/** Handles a request addressed to this node and returns the reply. */
export type RequestHandler = (payload: Uint8Array) => Promise<Uint8Array> | Uint8Array;

/** A node's connection to the others. */
export interface Transport {
  /** The id this transport receives requests for. */
  readonly nodeId: string;
  /**
   * Sends a request to node `target` and resolves with its reply.
   * Rejects with `NodeUnreachableError` if no such node listens, `DeadlineExceededError` on timeout.
   */
  request(target: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** Installs the handler for requests addressed to this node (one per transport). */
  serve(handler: RequestHandler): void;
  /** Publishes to every subscriber of `topic`, this node's included. Best effort. */
  publish(topic: string, payload: Uint8Array): void;
  /** Subscribes to `topic`; returns the function that unsubscribes. */
  subscribe(topic: string, handler: (payload: Uint8Array) => void): () => void;
  /** Stops serving and releases the connection. */
  close(): Promise<void>;
}
