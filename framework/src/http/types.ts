import type { HttpBindings } from "@hono/node-server";
import type { Hono } from "hono";
import type { ActorRef, AnyActorDefinition } from "../actor/types.js";
import type { LiveRoute } from "./liveUpdates.js";

/**
 * A typed reference to one of the session's actors: every actor type of a session uses the
 * session id as its actor id, so they all live on the session's node.
 * @example const cart = c.var.session(Cart); await cart.add("sku-1", 2);
 */
export type SessionRefs = <A extends AnyActorDefinition>(def: A) => ActorRef<A>;

/**
 * A typed reference to any actor by id — a shared one (a chat room, a lobby) or another
 * session's — wherever it lives.
 * @example const room = c.var.ref(Room, c.req.param("room")); await room.post(c.var.sessionId, text);
 */
export type ActorRefs = <A extends AnyActorDefinition>(def: A, id: string) => ActorRef<A>;

/** What every route handler finds in `c.var`. */
export interface BerthVariables {
  /** References to this request's session actors: `c.var.session(Cart).add(...)`. */
  session: SessionRefs;
  /** References to any actor by id: `c.var.ref(Room, "lobby-7").post(...)`. */
  ref: ActorRefs;
  /** The session id (from the signed cookie, or new). */
  sessionId: string;
  /** True when the request carried no valid session cookie: the session starts now, and its cookie is set if a handler calls it. */
  newSession: boolean;
  /** The id of the node serving this request (the session's owner). */
  nodeId: string;
}

/**
 * Hono's environment for Berth routes: the session variables, and Node's request and response
 * (`c.env.incoming`, `c.env.outgoing`) when the request arrived over HTTP at the node running
 * the route — a request another node forwarded over NATS has neither, so routes that need the
 * client's address read `x-forwarded-for`.
 */
export interface BerthEnv {
  Bindings: Partial<HttpBindings>;
  Variables: BerthVariables;
}

/** The Hono app an app's routes are registered on. */
export type HttpApp = Hono<BerthEnv>;

/** Options of `defineHttp`. */
export interface HttpAppOptions {
  /** Largest request body accepted, in bytes; larger ones get 413. Default 65,536 (64 KiB). */
  bodyLimit?: number;
  /**
   * Routes streaming actors' live updates as Server-Sent Events (`liveUpdates(path, Type)`),
   * served by whichever node a request enters. See docs/guides/live-updates.md.
   */
  live?: readonly LiveRoute[];
}

/** An app's HTTP routes, as `defineHttp` returns them. Export it from the app module as `http`. */
export interface HttpDefinition {
  readonly kind: "berth-http";
  readonly setup: (app: HttpApp) => void;
  readonly bodyLimit: number;
  readonly live: readonly LiveRoute[];
}
