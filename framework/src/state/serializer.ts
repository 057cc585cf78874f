import { SuperJSON, type SuperJSONResult, type SuperJSONValue } from "superjson";
import { ConfigError } from "../errors.js";

/**
 * SuperJSON without its referential equalities. Berth's values are trees — states, arguments
 * and results are copied at every boundary, so no two places share an object — and superjson
 * 2.2 files every `NaN` as one shared object: `{ m: new Map([[NaN, 1]]), n: NaN }` came back
 * with an empty map. Nor may a peer's message make two places of a state one object.
 */
class TreeSerializer extends SuperJSON {
  override serialize(object: SuperJSONValue): SuperJSONResult {
    return withoutReferences(super.serialize(object));
  }

  override deserialize<T = unknown>(payload: SuperJSONResult, options?: { inPlace?: boolean }): T {
    return super.deserialize<T>(withoutReferences(payload), options);
  }
}

function withoutReferences(result: SuperJSONResult): SuperJSONResult {
  if (result.meta?.referentialEqualities === undefined) return result;
  const { referentialEqualities: _dropped, ...meta } = result.meta;
  return { ...result, meta };
}

/**
 * The one serializer of the framework. Actor state, call arguments, results, deltas and
 * snapshots all go through this instance, so what round-trips in one place round-trips
 * everywhere. Dates, Maps, Sets, bigint, RegExp, URL and registered classes survive.
 */
export const serializer: SuperJSON = new TreeSerializer();

/** Prototypes of registered classes, for the state walker (see `walk.ts`). */
const registeredPrototypes = new Map<object, string>();

/**
 * Makes instances of a class serializable in actor state, arguments and results. Register
 * each class once, on every node, with an identifier that never changes (it is written to
 * the event log).
 *
 * @param cls the class; instances are rebuilt with its prototype and their own fields
 * @param identifier a stable name, e.g. `"money"`
 * @example
 * ```ts
 * class Money { constructor(public cents = 0) {} }
 * registerClass(Money, "money");
 * ```
 */
export function registerClass(cls: abstract new (...args: never[]) => object, identifier: string): void {
  const proto = cls.prototype as object;
  const existing = registeredPrototypes.get(proto);
  if (existing !== undefined) {
    if (existing === identifier) return;
    throw new ConfigError(`class ${cls.name} is already registered as "${existing}"; an identifier must never change`);
  }
  for (const id of registeredPrototypes.values()) {
    if (id === identifier) throw new ConfigError(`class identifier "${identifier}" is already taken; choose a unique one`);
  }
  registeredPrototypes.set(proto, identifier);
  serializer.registerClass(cls as unknown as Parameters<SuperJSON["registerClass"]>[0], identifier);
}

/** Whether `proto` belongs to a class registered with `registerClass`. */
export function isRegisteredPrototype(proto: object): boolean {
  return registeredPrototypes.has(proto);
}

/**
 * Serializes a value to a JSON string with the framework serializer. Plain JSON values (the
 * common case) skip superjson's walk — 20× slower than JSON.stringify here — and give the very
 * text superjson would: `{"json":…}` with no `meta`.
 */
export function stringify(value: unknown): string {
  // Keys superjson refuses (prototype pollution guards) take its path, so they fail as before.
  return isPlainJson(value, 0, isRefusedKey) ? `{"json":${JSON.stringify(value)}}` : serializer.stringify(value);
}

/** Whether superjson's stringify refuses an object key (its prototype pollution guard): the state walker refuses such fields too. */
export function isRefusedKey(key: string): boolean {
  return key === "__proto__" || key === "constructor" || key === "prototype";
}

const isProtoKey = (key: string): boolean => key === "__proto__";

/** Parses a string produced by `stringify`. Throws on malformed input. */
export function parse(text: string): unknown {
  return serializer.parse(text);
}

/**
 * Whether JSON.stringify/parse round-trips `value` exactly (no superjson needed).
 * @param refused object keys that make a value not plain (`__proto__` by default)
 */
export function isPlainJson(value: unknown, depth = 0, refused: (key: string) => boolean = isProtoKey): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object": {
      if (value === null) return true;
      if (depth > 32) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!(i in value) || !isPlainJson(value[i], depth + 1, refused)) return false;
        return true;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      for (const k in value) {
        if (!Object.hasOwn(value, k)) continue;
        const v = (value as Record<string, unknown>)[k];
        if (v === undefined || refused(k) || !isPlainJson(v, depth + 1, refused)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}
