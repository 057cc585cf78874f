import { MalformedMessageError } from "../errors.js";

/** One step of a path into a state: an object key, an array index, or a Map key. */
export type PathSegment = string | number;

/** One change to a state. Paths are relative to the state's root. */
export type DeltaOp =
  | { readonly op: "set"; readonly path: readonly PathSegment[]; readonly value: unknown }
  | { readonly op: "del"; readonly path: readonly PathSegment[] }
  | { readonly op: "push"; readonly path: readonly PathSegment[]; readonly values: readonly unknown[] };

/** The changes one turn made to an actor's state, in order. */
export type Delta = DeltaOp[];

/**
 * Applies a delta produced by `commitValue` to a copy of the state it was computed against
 * and returns the new root (a `set` at the empty path replaces the root).
 * Throws `MalformedMessageError` if the delta does not fit the state, which means the copy
 * is not the one the delta was computed against.
 *
 * The values in `delta` are adopted, not copied: pass a delta that nobody else mutates.
 */
export function applyDelta(root: unknown, delta: readonly DeltaOp[]): unknown {
  for (const op of delta) {
    // No state has such a field (the state walker refuses it): a malformed message, which must not reach a prototype.
    if (op.path.includes("__proto__")) throw new MalformedMessageError(`delta path ${op.path.join(".")} names __proto__`);
    if (op.path.length === 0) {
      if (op.op === "set") root = op.value;
      else if (op.op === "push" && Array.isArray(root)) for (const v of op.values) root.push(v);
      else throw new MalformedMessageError(`delta op "${op.op}" does not apply to the root`);
      continue;
    }
    const parent = resolve(root, op.path, op.path.length - 1);
    const last = op.path[op.path.length - 1] as PathSegment;
    switch (op.op) {
      case "set":
        if (parent instanceof Map) parent.set(last, op.value);
        else (parent as Record<PathSegment, unknown>)[last] = op.value;
        break;
      case "del":
        if (parent instanceof Map) parent.delete(last);
        else delete (parent as Record<PathSegment, unknown>)[last];
        break;
      case "push": {
        const target = parent instanceof Map ? parent.get(last) : Object.hasOwn(parent, last) ? (parent as Record<PathSegment, unknown>)[last] : undefined;
        if (!Array.isArray(target)) throw new MalformedMessageError(`delta appends to a non-array at ${op.path.join(".")}`);
        for (const v of op.values) target.push(v);
        break;
      }
    }
  }
  return root;
}

function resolve(root: unknown, path: readonly PathSegment[], length: number): object {
  let node = root;
  for (let i = 0; i < length; i++) {
    const seg = path[i] as PathSegment;
    if (node instanceof Map) node = node.get(seg);
    // Own fields only: a step named `__proto__` (or `constructor`) never leads out of the state.
    else if (typeof node === "object" && node !== null) node = Object.hasOwn(node, seg) ? (node as Record<PathSegment, unknown>)[seg] : undefined;
    else node = undefined;
  }
  if (typeof node !== "object" || node === null) {
    throw new MalformedMessageError(`delta path ${path.slice(0, length + 1).join(".")} does not exist in the state`);
  }
  return node;
}
