import type { ServerResponse } from "node:http";
import type { ClusterNode } from "../node/ClusterNode.js";

/**
 * The headers nodes exchange when one forwards a request to another. None of them is trusted
 * for anything that matters: the session comes only from the signed cookie, and a client that
 * forges these headers gets at worst a 421 or its own cookie back.
 */
export const H = {
  /** Every response: the id of the node that ran the request's route (the session's owner). */
  node: "x-berth-node",
  /** On a forwarded request: the forwarder's id. The receiver answers 421 rather than forward again. */
  forwardedBy: "x-berth-forwarded-by",
  /** On a forwarded request: the forwarder's view epoch; on a 421: the receiver's. */
  epoch: "x-berth-epoch",
  /** On a forwarded request: the forwarder created this session; set its cookie in the response. */
  newSession: "x-berth-new-session",
  /** On a 421: Berth's redirect (not the app's), safe to retry elsewhere — nothing ran. */
  misdirected: "x-berth-misdirected",
} as const;

/** Hop-by-hop headers (RFC 9110 §7.6.1) and those a proxy must not pass on. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "expect"]);

const isFixedHopByHop = (name: string): boolean => HOP_BY_HOP.has(name);

/**
 * Which headers of a message must not be forwarded: the hop-by-hop ones and those its
 * `Connection` header names. `Connection` is read once per message, and the usual values
 * (`keep-alive`, `close`) name nothing else.
 */
export function hopByHop(connection: string | undefined): (name: string) => boolean {
  if (connection === undefined) return isFixedHopByHop;
  const c = connection.toLowerCase();
  if (c === "keep-alive" || c === "close") return isFixedHopByHop;
  const named = new Set(c.split(",").map((t) => t.trim()));
  return (name) => HOP_BY_HOP.has(name) || named.has(name);
}

/** Writes a small JSON body with its status, unless headers already went out. */
export function sendJson(res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

/** The body of a 421: this node does not own the session. */
export function misdirectedBody(nodeId: string, epoch: number, owner: string | null): Record<string, unknown> {
  return { error: `node ${nodeId} does not own this session at epoch ${epoch}${owner ? `; its owner is ${owner}` : ""}; retry through any node`, epoch, owner };
}

/** Answers 421: this node does not own the session; nothing ran, the forwarder may retry. */
export function sendMisdirected(res: ServerResponse, nodeId: string, epoch: number, owner: string | null): void {
  sendJson(res, 421, misdirectedBody(nodeId, epoch, owner), { [H.misdirected]: "1", [H.epoch]: String(epoch) });
}

/** Why a node whose membership lease is not valid refuses HTTP requests (with 503 and `retry-after`). */
export function outOfTouchMessage(c: ClusterNode): string {
  const why = c.membership.state === "up" ? "its membership lease lapsed: it cannot reach NATS" : `it is ${c.membership.state}`;
  return `this node (${c.id}) is out of touch with the cluster (${why}); try another node`;
}
