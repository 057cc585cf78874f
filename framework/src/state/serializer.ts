import { SuperJSON } from "superjson";
import { ConfigError } from "../errors.js";

/**
 * The one serializer of the framework. Actor state, call arguments, results, deltas and
 * snapshots all go through this instance, so what round-trips in one place round-trips
 * everywhere. Dates, Maps, Sets, bigint, RegExp, URL and registered classes survive.
 */
export const serializer = new SuperJSON();

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

/** Serializes a value to a JSON string with the framework's serializer. */
export function stringify(value: unknown): string {
  return serializer.stringify(value);
}

/** Parses a string produced by `stringify`. Throws on malformed input. */
export function parse(text: string): unknown {
  return serializer.parse(text);
}
