import type { Activation } from "../actor/Activation.js";
import { actorType, type ActorType } from "../actor/defineActor.js";
import { makeRef, type CallSink } from "../actor/refs.js";
import type { AnyActorDefinition, ActorRef } from "../actor/types.js";
import { ConfigError, type NotOwnerError } from "../errors.js";
import type { ActorRefs, SessionRefs } from "./types.js";

/** What the front listener learned about a request before its route runs. */
export interface RequestSession {
  readonly id: string;
  /** No valid cookie came with the request (or the forwarder that created the session says so). */
  readonly isNew: boolean;
  /**
   * Checks, before the request's first actor call, that this node still owns the session;
   * returns the redirect to answer otherwise. Set only when a forwarder can retry the request.
   */
  readonly ownerCheck: (() => NotOwnerError | null) | null;
  /** A handler called one of the session's actors. */
  touched: boolean;
  /** Set when the owner check failed: nothing ran, the forwarder retries elsewhere. */
  misdirected: NotOwnerError | null;
}

/**
 * Where a request's session references send their calls: the node, after the owner check of
 * the first call. The check makes a request that raced with a move answer 421 before any turn
 * ran, so its forwarder can retry it on the new owner without running anything twice.
 */
class SessionSink implements CallSink {
  constructor(
    private readonly inner: CallSink,
    private readonly session: RequestSession,
  ) {}

  call(type: ActorType, id: string, method: string, args: unknown[], caller: Activation | undefined): Promise<unknown> {
    const s = this.session;
    if (!s.touched) {
      const misdirected = s.ownerCheck?.() ?? null;
      if (misdirected !== null) {
        s.misdirected = misdirected;
        return Promise.reject(misdirected);
      }
      s.touched = true;
    }
    return this.inner.call(type, id, method, args, caller);
  }
}

/** The `c.var.session` and `c.var.ref` functions of one request: both go through the owner check. */
export function requestRefs(node: CallSink, session: RequestSession): { session: SessionRefs; ref: ActorRefs } {
  const sink = new SessionSink(node, session);
  return {
    session: <A extends AnyActorDefinition>(def: A): ActorRef<A> => makeRef<A>(sink, actorType(def), session.id, undefined),
    ref: <A extends AnyActorDefinition>(def: A, id: string): ActorRef<A> => {
      if (typeof id !== "string" || id.length === 0 || id.length > 256) {
        throw new ConfigError(`actor id must be a non-empty string of at most 256 characters; got ${JSON.stringify(id)}`);
      }
      return makeRef<A>(sink, actorType(def), id, undefined);
    },
  };
}
