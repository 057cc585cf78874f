import * as errors from "../errors.js";
import { BerthError } from "../errors.js";

/** An error as it crosses the wire. */
export interface WireError {
  readonly code: string;
  readonly name: string;
  readonly message: string;
  /** The error's own fields (e.g. `actorType`, `handler`), JSON-safe. */
  readonly data?: Record<string, unknown>;
}

/** Error classes by their static `code`, from every class in errors.ts. */
const byCode = new Map<string, typeof BerthError>();
for (const cls of Object.values(errors)) {
  if (typeof cls !== "function" || !(cls.prototype instanceof BerthError)) continue;
  const code = (cls as { code?: unknown }).code;
  if (typeof code === "string") byCode.set(code, cls as typeof BerthError);
}

const OWN = new Set(["name", "message", "code", "stack", "cause"]);

/** Converts any thrown value into its wire form. */
export function toWireError(error: unknown): WireError {
  if (error instanceof BerthError) {
    const data: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(error)) if (!OWN.has(k) && isJsonSafe(v)) data[k] = v;
    return { code: error.code, name: error.name, message: error.message, data };
  }
  const e = error instanceof Error ? error : new Error(String(error));
  return { code: "internal", name: e.name, message: e.message };
}

/**
 * Rebuilds the error a remote node raised, as the same class when Berth knows the code, so
 * `instanceof ActorHandlerError` works for remote calls exactly as for local ones.
 */
export function fromWireError(wire: WireError): Error {
  const cls = byCode.get(wire.code);
  // A native Error (so every tool treats it as one) with the class's prototype, built without
  // running the class's constructor, whose message would be recomputed from other arguments.
  const error = Reflect.construct(Error, [wire.message], cls ?? BerthError) as BerthError & Record<string, unknown>;
  for (const [k, v] of Object.entries(wire.data ?? {})) {
    if (!OWN.has(k) && k !== "__proto__" && k !== "constructor" && k !== "prototype") {
      Object.defineProperty(error, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
  }
  Object.defineProperty(error, "name", { value: cls ? wire.name : "BerthError", writable: true, configurable: true });
  (error as { code: string }).code = wire.code;
  Object.defineProperty(error, "stack", { value: `${error.name}: ${wire.message}\n    at (remote node)`, writable: true, configurable: true });
  return error;
}

function isJsonSafe(v: unknown): boolean {
  if (v === null || typeof v === "string" || typeof v === "boolean") return true;
  if (typeof v === "number") return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(isJsonSafe);
  if (typeof v === "object") return Object.values(v as object).every(isJsonSafe);
  return false;
}
