import type { Activation } from "./Activation.js";
import type { ActorType } from "./defineActor.js";
import type { ActorRef } from "./types.js";

/** Where a reference sends its calls: the node (which routes locally or over the wire). */
export interface CallSink {
  call(type: ActorType, id: string, method: string, args: unknown[], caller: Activation | undefined): Promise<unknown>;
}

const SINK = Symbol("berth.sink");
const TYPE = Symbol("berth.type");
const ID = Symbol("berth.id");
const CALLER = Symbol("berth.caller");

interface RefFields {
  [SINK]: CallSink;
  [TYPE]: ActorType;
  [ID]: string;
  [CALLER]: Activation | undefined;
}

/** One prototype per actor type holds a method per handler and query, so a ref is four fields. */
const prototypes = new WeakMap<ActorType, object>();

function prototypeOf(type: ActorType): object {
  let proto = prototypes.get(type);
  if (proto === undefined) {
    proto = Object.create(null) as object;
    for (const name of type.handlers.keys()) {
      Object.defineProperty(proto, name, {
        value: function (this: RefFields | undefined, ...args: unknown[]): Promise<unknown> {
          if (this?.[SINK] === undefined) {
            return Promise.reject(new TypeError(`call ${type.name}.${name}() on its reference (ref.${name}(...)), not as a detached function`));
          }
          return this[SINK].call(this[TYPE], this[ID], name, args, this[CALLER]);
        },
        enumerable: true,
      });
    }
    Object.defineProperty(proto, Symbol.toStringTag, { value: `ActorRef(${type.name})` });
    prototypes.set(type, proto);
  }
  return proto;
}

/** Builds a reference to actor `id` of `type` whose calls go to `sink`. */
export function makeRef<A>(sink: CallSink, type: ActorType, id: string, caller: Activation | undefined): ActorRef<A> {
  const ref = Object.create(prototypeOf(type)) as RefFields;
  ref[SINK] = sink;
  ref[TYPE] = type;
  ref[ID] = id;
  ref[CALLER] = caller;
  return ref as unknown as ActorRef<A>;
}

/**
 * The actor type name and id a reference points at.
 * @example refTarget(node.ref(Cart, "s1")) // { type: "cart", id: "s1" }
 */
export function refTarget(ref: object): { type: string; id: string } {
  const r = ref as Partial<RefFields>;
  if (r[TYPE] === undefined || r[ID] === undefined) throw new TypeError("not an actor reference");
  return { type: r[TYPE].name, id: r[ID] };
}

/**
 * Calls a handler or query of the actor `ref` points at by its name, for callers that pick it
 * at run time (a route such as `/api/:handler`). Rejects with `UnknownHandlerError`, listing
 * the actor's handlers, when it has none of that name; otherwise it is `ref[method](...args)`.
 * @example
 * ```ts
 * const result = await callByName(node.ref(Todo, id), req.params.handler, ...req.body.args);
 * ```
 */
export function callByName(ref: object, method: string, ...args: unknown[]): Promise<unknown> {
  const r = ref as Partial<RefFields>;
  if (r[SINK] === undefined || r[TYPE] === undefined || r[ID] === undefined) return Promise.reject(new TypeError("callByName needs an actor reference (node.ref(Type, id) or ctx.ref(Type, id))"));
  if (typeof method !== "string") return Promise.reject(new TypeError(`callByName needs a handler name; got ${typeof method}`));
  return r[SINK].call(r[TYPE], r[ID], method, args, r[CALLER]);
}