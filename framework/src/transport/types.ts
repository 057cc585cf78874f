/**
 * How nodes talk: addressed request/reply (calls, state transfer) and topic pub/sub
 * (heartbeats, view changes). Two implementations: NATS for real clusters, and an
 * in-process network for users' unit tests. Actor code never sees either.
 */

/**
 * Handles a request addressed to this node and answers it by calling `respond` once (at once
 * or later). Callbacks rather than promises: this is the hot path of every remote call.
 */
export type RequestHandler = (payload: Uint8Array, respond: (reply: Uint8Array) => void) => void;

/** A node's connection to the others. */
export interface Transport {
  /** The id this transport receives requests for. */
  readonly nodeId: string;
  /**
   * Sends a request to node `target` and calls `onReply` with its reply, or `onError` with
   * `NodeUnreachableError` if no such node listens, `DeadlineExceededError` on timeout. Exactly
   * one of them is called.
   */
  send(target: string, payload: Uint8Array, timeoutMs: number, onReply: (reply: Uint8Array) => void, onError: (error: Error) => void): void;
  /** `send` as a promise. */
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
