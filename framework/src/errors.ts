import { MAX_RECENT_CALLS, MIN_KEPT_OUTCOMES } from "./actor/callIds.js";

/**
 * Berth's error classes. Each says what happened and what to do about it, carries a stable
 * `code`, and crosses the wire intact: a remote caller receives the same class it would
 * have received locally (see `toWireError` / `fromWireError`).
 *
 * @example
 * ```ts
 * try { await cart.add("sku-1", 0); }
 * catch (e) { if (e instanceof ActorHandlerError) console.log(e.actorType, e.message); }
 * ```
 */
export class BerthError extends Error {
  /** Stable machine-readable identifier, e.g. `"unknown-handler"`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BerthError";
    this.code = code;
  }
}

/** A call named an actor type that this node does not know. */
export class UnknownActorTypeError extends BerthError {
  static readonly code = "unknown-actor-type";
  constructor(readonly actorType: string, known: readonly string[]) {
    super(
      UnknownActorTypeError.code,
      `unknown actor type "${actorType}"; known types: ${known.length ? known.join(", ") : "(none)"} — ` +
        `every worker node needs its definition: in createNode({ actors: [...] }), or in the \`actors\` your app module exports (berth node)`,
    );
    this.name = "UnknownActorTypeError";
  }
}

/** A call named a handler the actor type does not have. */
export class UnknownHandlerError extends BerthError {
  static readonly code = "unknown-handler";
  constructor(readonly actorType: string, readonly handler: string, known: readonly string[]) {
    super(
      UnknownHandlerError.code,
      `actor "${actorType}" has no handler "${handler}"; its handlers are: ${known.join(", ") || "(none)"}`,
    );
    this.name = "UnknownHandlerError";
  }
}

/** A call passed the wrong number of arguments. */
export class ArityError extends BerthError {
  static readonly code = "arity";
  constructor(
    readonly actorType: string,
    readonly handler: string,
    readonly expected: { min: number; max: number },
    readonly received: number,
  ) {
    const want = expected.min === expected.max ? `${expected.min}` : `${expected.min} to ${expected.max}`;
    super(
      ArityError.code,
      `${actorType}.${handler} takes ${want} argument(s) but received ${received}`,
    );
    this.name = "ArityError";
  }
}

/**
 * A value that must cross a turn or the wire (an argument, a result, the state) is not
 * serializable. `path` names the field, e.g. `state.items.get("a").created`.
 */
export class NotSerializableError extends BerthError {
  static readonly code = "not-serializable";
  constructor(readonly what: string, readonly path: string, readonly reason: string) {
    super(
      NotSerializableError.code,
      `${path} ${reason}; ${what} must be plain data (objects, arrays, Map, Set, Date, bigint, ` +
        `RegExp, URL) or a class registered with registerClass()`,
    );
    this.name = "NotSerializableError";
  }
}

/** A handler threw. The actor's state was rolled back to what it was before the call. */
export class ActorHandlerError extends BerthError {
  static readonly code = "handler-error";
  constructor(
    readonly actorType: string,
    readonly actorId: string,
    readonly handler: string,
    message: string,
    /** The `name` of the error the handler threw, e.g. `"RangeError"`. */
    readonly errorName: string,
    options?: { cause?: unknown },
  ) {
    super(ActorHandlerError.code, message, options);
    this.name = "ActorHandlerError";
  }
}

/** A read-only query changed the actor's state. The change was discarded. */
export class QueryMutationError extends BerthError {
  static readonly code = "query-mutation";
  constructor(readonly actorType: string, readonly handler: string, readonly path: string) {
    super(
      QueryMutationError.code,
      `query ${actorType}.${handler} changed ${path}; queries must not modify state — ` +
        `move the change into a handler`,
    );
    this.name = "QueryMutationError";
  }
}

/** An actor's context was used after its turn ended (for example from a stray callback). */
export class TurnEndedError extends BerthError {
  static readonly code = "turn-ended";
  constructor(readonly actorType: string, readonly actorId: string) {
    super(
      TurnEndedError.code,
      `the context of ${actorType}/${actorId} was used after its turn ended; ` +
        `await all work inside the handler, or schedule a timer with ctx.schedule`,
    );
    this.name = "TurnEndedError";
  }
}

/** A call did not complete before its deadline. It may or may not have run. */
export class DeadlineExceededError extends BerthError {
  static readonly code = "deadline-exceeded";
  /**
   * @param target set when a request to that node had no reply within `timeoutMs` (the node
   *   may be frozen or the reply lost): the caller retries the same call id
   */
  constructor(
    readonly timeoutMs: number,
    detail = "",
    readonly target?: string,
  ) {
    super(
      DeadlineExceededError.code,
      `call did not complete within ${timeoutMs} ms${detail ? ` (${detail})` : ""}; ` +
        `raise callTimeout or look for a slow or blocked handler`,
    );
    this.name = "DeadlineExceededError";
  }
}

/**
 * No reply came because the connection it would have come on was interrupted (a NATS server
 * died and a connection moved to another): the request may or may not have been received and
 * run, as after a timeout. Berth retries calls with the same call id, so a writing call still
 * runs at most once.
 */
export class ReplyLostError extends DeadlineExceededError {
  declare readonly target: string;
  constructor(timeoutMs: number, target: string, why: string) {
    super(timeoutMs, "", target);
    this.name = "ReplyLostError";
    this.message = `no reply from ${target}: ${why}, so the reply may be lost; the outcome is unknown`;
  }
}

/** The node is stopping or stopped and accepts no calls. */
export class NodeStoppedError extends BerthError {
  static readonly code = "node-stopped";
  constructor(readonly nodeId: string) {
    super(NodeStoppedError.code, `node ${nodeId} is stopped; create a new node or call through another one`);
    this.name = "NodeStoppedError";
  }
}

/** A message or value is larger than the configured limit. */
export class PayloadTooLargeError extends BerthError {
  static readonly code = "payload-too-large";
  constructor(readonly limit: number, readonly size: number, what = "payload") {
    super(
      PayloadTooLargeError.code,
      `${what} of ${size} bytes exceeds the limit of ${limit} bytes; keep session state small ` +
        `or raise the limit (NATS max_payload; see docs/guides/nats.md#sizing)`,
    );
    this.name = "PayloadTooLargeError";
  }
}

/** A message from the wire could not be decoded or failed validation. */
export class MalformedMessageError extends BerthError {
  static readonly code = "malformed-message";
  constructor(detail: string) {
    super(MalformedMessageError.code, `malformed message: ${detail}`);
    this.name = "MalformedMessageError";
  }
}

/**
 * A partition's owner was asked for while the cluster view has no worker nodes.
 * @example
 * ```ts
 * try { table.ownerOf(7); }
 * catch (e) { if (e instanceof NoWorkersError) console.log(e.epoch); }
 * ```
 */
export class NoWorkersError extends BerthError {
  static readonly code = "no-workers";
  constructor(readonly partition: number, readonly epoch: number) {
    super(
      NoWorkersError.code,
      `no worker is up: the cluster view at epoch ${epoch} has no members, so partition ${partition} ` +
        `has no owner; start a worker node and retry`,
    );
    this.name = "NoWorkersError";
  }
}

/** The node contacted does not own the actor's partition in the caller's view. */
export class NotOwnerError extends BerthError {
  static readonly code = "not-owner";
  constructor(readonly partition: number, readonly epoch: number, readonly owner: string | null) {
    super(
      NotOwnerError.code,
      `this node does not own partition ${partition} at epoch ${epoch}` +
        (owner ? `; owner is ${owner}` : "") +
        `; the caller refreshes its view and retries`,
    );
    this.name = "NotOwnerError";
  }
}

/** An actor could not be activated (its state factory, `onActivate` or a dependency failed). */
export class ActivationError extends BerthError {
  static readonly code = "activation-failed";
  constructor(readonly actorType: string, readonly actorId: string, message: string, options?: { cause?: unknown }) {
    super(ActivationError.code, `could not activate ${actorType}/${actorId}: ${message}`, options);
    this.name = "ActivationError";
  }
}

/** A required dependency has no provider in the node's container. */
export class MissingDependencyError extends BerthError {
  static readonly code = "missing-dependency";
  constructor(readonly actorType: string, readonly dep: string, options?: { cause?: unknown }) {
    super(
      MissingDependencyError.code,
      `actor "${actorType}" needs dependency "${dep}" but the node's container has no provider for it; ` +
        `register one in createNode({ providers: (container) => container.register(...) })`,
      options,
    );
    this.name = "MissingDependencyError";
  }
}

/** A configuration value is invalid. */
export class ConfigError extends BerthError {
  static readonly code = "config";
  constructor(message: string) {
    super(ConfigError.code, message);
    this.name = "ConfigError";
  }
}

/** No node answered at the address (it is down, or never existed). */
export class NodeUnreachableError extends BerthError {
  static readonly code = "node-unreachable";
  constructor(readonly target: string) {
    super(NodeUnreachableError.code, `node ${target} is not reachable; the caller refreshes its view and retries`);
    this.name = "NodeUnreachableError";
  }
}

/** An actor called itself during its own turn, which would wait forever. */
export class SelfCallError extends BerthError {
  static readonly code = "self-call";
  constructor(readonly actorType: string, readonly actorId: string) {
    super(
      SelfCallError.code,
      `${actorType}/${actorId} called itself during its own turn, which would wait for that turn forever; ` +
        `call a plain function instead, or use ctx.schedule to run a handler later`,
    );
    this.name = "SelfCallError";
  }
}

/** An event was refused before it reached the machine. */
export class InvalidEventError extends BerthError {
  static readonly code = "invalid-event";
  constructor(detail: string) {
    super(InvalidEventError.code, `invalid event: ${detail}; send an object like { type: "NEXT" }`);
    this.name = "InvalidEventError";
  }
}

/** An xstate state value: a state's name, or an object of nested ones. */
export type MachineStateValue = string | { readonly [region: string]: MachineStateValue };

/**
 * A machine actor defined with `refuseUnhandled: true` got an event that no transition of its
 * current state accepts (xstate would silently ignore it); the call failed and nothing changed.
 */
export class EventNotAcceptedError extends BerthError {
  static readonly code = "event-not-accepted";
  constructor(
    readonly actorType: string,
    readonly actorId: string,
    readonly eventType: string,
    /** The machine's state value when it refused, e.g. `"shipping"` or `{ payment: "card" }`. */
    readonly state: MachineStateValue,
  ) {
    super(
      EventNotAcceptedError.code,
      `${actorType}/${actorId} does not accept ${eventType} in state ${JSON.stringify(state)}, so nothing changed; ` +
        `send an event this state accepts (the can(event) query tells which do)`,
    );
    this.name = "EventNotAcceptedError";
  }
}

/** The machine stopped with an error while handling an event; the event had no effect. */
export class MachineError extends BerthError {
  static readonly code = "machine-error";
  constructor(actorType: string, message: string, options?: { cause?: unknown }) {
    super(MachineError.code, `machine ${actorType} failed: ${message}`, options);
    this.name = "MachineError";
  }
}

/** A replicated write could not be confirmed; the caller must treat its outcome as unknown. */
export class ReplicationError extends BerthError {
  static readonly code = "replication-failed";
  constructor(detail: string, options?: { cause?: unknown }) {
    super(ReplicationError.code, `the turn committed here but its replication was not confirmed (${detail}); its outcome is unknown — retry with the same call (Berth does) or read the state back`, options);
    this.name = "ReplicationError";
  }
}

/**
 * A retried call that may have run already, whose outcome the actor no longer keeps (it keeps
 * its last 64 outcomes — at least 16 where they are larger than 64 KiB together — for at most
 * the dedup window): running it again could apply it twice, so it is not run. Read the state
 * back to learn whether the first attempt took effect.
 */
export class CallOutcomeUnknownError extends BerthError {
  static readonly code = "call-outcome-unknown";
  constructor(
    readonly actorType: string,
    readonly actorId: string,
    readonly callId: string,
  ) {
    super(CallOutcomeUnknownError.code, `call ${callId} to ${actorType}/${actorId} was retried after the actor forgot the outcomes of calls that old (it keeps its last ${MAX_RECENT_CALLS}, at least ${MIN_KEPT_OUTCOMES} where their answers are large, for at most the dedup window); it may have run already, so it was not run again — read the state back to learn whether it took effect`);
    this.name = "CallOutcomeUnknownError";
  }
}
