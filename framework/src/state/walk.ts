import { NotSerializableError } from "../errors.js";
import { isRefusedKey, isRegisteredPrototype } from "./serializer.js";
import type { Delta, PathSegment } from "./delta.js";

/**
 * The state walker: one pass over a value that validates it is serializable, copies it, and
 * (on commit) computes the delta against the last committed copy while sharing every
 * unchanged subtree. It is why a turn costs ~100 ns on small states where a superjson round
 * trip would cost >1 µs — see docs/architecture.md#turns.
 *
 * Accepted: string, number (incl. NaN, ±Infinity, -0), boolean, bigint, undefined, null,
 * plain objects, arrays, Map, Set, Date, RegExp, URL, and instances of classes registered
 * with `registerClass`. Everything superjson round-trips, nothing it does not.
 */

/** Deeper than this is treated as a cycle (shared references are copied, cycles refused). */
const MAX_DEPTH = 64;

/** Marks a key absent from the previous object (distinct from a present `undefined`). */
const ABSENT: unique symbol = Symbol("absent");
/** Levels of a very deep path an error shows. */
const SHOWN_LEVELS = 8;

class Walk {
  readonly stack: PathSegment[] = [];
  /** Arrays of the committed tree that this commit may change in place (see `commitValue`). */
  owned: WeakSet<object> | null = null;
  /**
   * Changes to owned arrays, made once the whole walk succeeded: a walk that fails half-way
   * (a value that cannot be committed) must leave the committed tree as it was.
   * Flat triples: the array, the index (-1: append the values), the value or values.
   */
  readonly writes: unknown[] = [];
  constructor(
    public what: string,
    public ops: Delta | null,
  ) {}

  fail(reason: string): never {
    // A cycle's path repeats itself for MAX_DEPTH levels: its first few say where it starts.
    const path = this.stack.length > SHOWN_LEVELS * 2 ? `${formatPath(this.what, this.stack.slice(0, SHOWN_LEVELS))}… (${this.stack.length - SHOWN_LEVELS} levels more)` : formatPath(this.what, this.stack);
    throw new NotSerializableError(this.what, path, reason);
  }

  /**
   * A field named `__proto__`, `constructor` or `prototype`: superjson refuses them as a
   * prototype pollution risk, so a state holding one could be committed yet never moved or
   * snapshotted; and assigning `__proto__` (JSON.parse makes one from a message) would set the
   * copy's prototype instead.
   */
  failField(key: string): never {
    this.stack.push(key);
    return this.fail(`is a field named ${key}, which is not serializable (superjson refuses it as a prototype pollution risk)`);
  }

  emitSet(value: unknown): void {
    this.ops?.push({ op: "set", path: this.stack.slice(), value });
  }

  /** A validated deep copy of `value`. */
  copy(value: unknown): unknown {
    switch (typeof value) {
      case "string":
      case "number":
      case "boolean":
      case "bigint":
      case "undefined":
        return value;
      case "object":
        return value === null ? null : this.copyObject(value);
      case "function":
        return this.fail("is a function");
      case "symbol":
        return this.fail("is a symbol");
    }
  }

  private copyObject(value: object): unknown {
    if (this.stack.length >= MAX_DEPTH) this.fail(`is nested more than ${MAX_DEPTH} levels deep (a cycle?)`);
    if (Array.isArray(value)) {
      const n = value.length;
      const out = new Array<unknown>(n);
      for (let i = 0; i < n; i++) {
        const v: unknown = value[i];
        // Primitives need no copy and cannot fail: no path step to keep (most elements).
        if (isPrimitive(v)) out[i] = v;
        else {
          this.stack.push(i);
          out[i] = this.copy(v);
          this.stack.pop();
        }
      }
      return out;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    // Null-prototype objects become ordinary ones, as superjson rebuilds them.
    if (proto === Object.prototype || proto === null) return this.copyFields(value, {});
    if (value instanceof Map) {
      const out = new Map<unknown, unknown>();
      for (const [k, v] of value) {
        const key = this.copyKey(k);
        this.stack.push(mapSegment(key));
        out.set(key, this.copy(v));
        this.stack.pop();
      }
      return out;
    }
    if (value instanceof Set) {
      const out = new Set<unknown>();
      let i = 0;
      for (const v of value) {
        this.stack.push(i++);
        out.add(this.copy(v));
        this.stack.pop();
      }
      return out;
    }
    if (value instanceof Date) return new Date(value.getTime());
    if (value instanceof RegExp) return new RegExp(value.source, value.flags);
    if (value instanceof URL) return new URL(value.href);
    if (proto !== null && typeof proto === "object" && isRegisteredPrototype(proto)) {
      return this.copyFields(value, Object.create(proto) as object);
    }
    return this.fail(`is an instance of ${describeClass(value)}, which is not serializable`);
  }

  private copyKey(key: unknown): unknown {
    if (typeof key === "object" && key !== null) return this.copy(key);
    if (typeof key === "function" || typeof key === "symbol") this.fail(`has a Map key that is a ${typeof key}`);
    return key;
  }

  private copyFields(value: object, out: object): object {
    const src = value as Record<string, unknown>;
    const dst = out as Record<string, unknown>;
    for (const key in src) {
      if (!Object.hasOwn(src, key)) continue;
      if (isRefusedKey(key)) this.failField(key);
      const v = src[key];
      if (isPrimitive(v)) dst[key] = v;
      else {
        this.stack.push(key);
        dst[key] = this.copy(v);
        this.stack.pop();
      }
    }
    return out;
  }

  /**
   * Returns the committed form of `live` given the previous committed form `prev`: `prev`
   * itself (or its subtrees) where nothing changed, fresh copies where something did.
   * Records set/delete/append operations in `ops` when collecting a delta.
   */
  commit(live: unknown, prev: unknown): unknown {
    switch (typeof live) {
      case "string":
      case "boolean":
      case "bigint":
      case "undefined":
        if (live !== prev) this.emitSet(live);
        return live;
      case "number":
        if (!Object.is(live, prev)) this.emitSet(live);
        return live;
      case "object":
        if (live === null) {
          if (prev !== null) this.emitSet(null);
          return null;
        }
        return this.commitObject(live, prev);
      default:
        return this.copy(live); // throws for functions and symbols
    }
  }

  private replace(live: unknown): unknown {
    const copy = this.copy(live);
    this.emitSet(copy);
    return copy;
  }

  private commitObject(live: object, prev: unknown): unknown {
    if (typeof prev !== "object" || prev === null) return this.replace(live);
    if (this.stack.length >= MAX_DEPTH) this.fail(`is nested more than ${MAX_DEPTH} levels deep (a cycle?)`);
    let proto: unknown = Object.getPrototypeOf(live);
    if (proto === Object.prototype) {
      // The common case first: a plain object (committed plain objects always have this prototype).
      return Object.getPrototypeOf(prev) === Object.prototype ? this.commitFields(live, prev, proto) : this.replace(live);
    }
    if (Array.isArray(live)) return Array.isArray(prev) ? this.commitArray(live, prev) : this.replace(live);
    if (proto === null) proto = Object.prototype;
    if (proto !== Object.getPrototypeOf(prev)) return this.replace(live);
    if (proto === Object.prototype) return this.commitFields(live, prev, proto);
    if (live instanceof Map) return this.commitMap(live, prev as Map<unknown, unknown>);
    if (live instanceof Set) return setsEqual(live, prev as Set<unknown>) ? prev : this.replace(live);
    if (live instanceof Date) return live.getTime() === (prev as Date).getTime() || (Number.isNaN(live.getTime()) && Number.isNaN((prev as Date).getTime())) ? prev : this.replace(live);
    if (live instanceof RegExp) {
      const p = prev as RegExp;
      return live.source === p.source && live.flags === p.flags ? prev : this.replace(live);
    }
    if (live instanceof URL) return live.href === (prev as URL).href ? prev : this.replace(live);
    if (proto !== null && typeof proto === "object" && isRegisteredPrototype(proto)) return this.commitFields(live, prev, proto);
    return this.fail(`is an instance of ${describeClass(live)}, which is not serializable`);
  }

  private commitArray(live: unknown[], prev: unknown[]): unknown {
    const n = live.length;
    const m = prev.length;
    if (n < m) return this.replace(live);
    // An array this actor's earlier commits made, that nobody else holds, is changed in place
    // (after the walk) instead of copied: an append to a long list costs the append.
    const inPlace = this.owned?.has(prev) === true;
    let out: unknown[] | null = null;
    for (let i = unchangedPrefix(live, prev, m); i < m; i++) {
      const lv: unknown = live[i];
      const pv: unknown = prev[i];
      // An unchanged primitive (most elements): nothing to record, no path step to keep.
      if (unchangedPrimitive(lv, pv)) continue;
      this.stack.push(i);
      const v = this.commit(lv, pv);
      this.stack.pop();
      if (Object.is(v, pv)) continue; // not `===`: a change from 0 to -0 is a change
      if (inPlace) this.writes.push(prev, i, v);
      else (out ??= prev.slice(0, m))[i] = v;
    }
    if (n > m) {
      const appended = this.appended(live, m, n);
      if (inPlace) this.writes.push(prev, -1, appended);
      else {
        out ??= prev.slice(0, m);
        for (const v of appended) out.push(v);
      }
    }
    if (inPlace || out === null) return prev;
    this.owned?.add(out); // made here: the next commit may change it in place
    return out;
  }

  /** The committed copies of `live[m..n)`, recorded as one push. */
  private appended(live: unknown[], m: number, n: number): unknown[] {
    const appended = new Array<unknown>(n - m);
    for (let i = m; i < n; i++) {
      const lv: unknown = live[i];
      let v = lv;
      if (!isPrimitive(lv)) {
        this.stack.push(i);
        v = this.copy(lv);
        this.stack.pop();
      }
      appended[i - m] = v;
    }
    this.ops?.push({ op: "push", path: this.stack.slice(), values: appended });
    return appended;
  }

  /** Makes the deferred changes to owned arrays (the walk succeeded). */
  applyWrites(): void {
    const w = this.writes;
    for (let x = 0; x < w.length; x += 3) {
      const arr = w[x] as unknown[];
      const index = w[x + 1] as number;
      if (index >= 0) arr[index] = w[x + 2];
      else for (const v of w[x + 2] as unknown[]) arr.push(v);
    }
    w.length = 0;
  }

  private commitFields(live: object, prev: object, proto: unknown): unknown {
    const src = live as Record<string, unknown>;
    const old = prev as Record<string, unknown>;
    let out: Record<string, unknown> | null = null;
    let shared = 0;
    for (const key in src) {
      if (!Object.hasOwn(src, key)) continue;
      const lv = src[key];
      const present = Object.hasOwn(old, key);
      if (!present && isRefusedKey(key)) this.failField(key);
      const before = present ? old[key] : ABSENT;
      let v: unknown;
      if (present && unchangedPrimitive(lv, before)) {
        v = before; // an unchanged primitive: the common case, no recursion
      } else {
        this.stack.push(key);
        v = present ? this.commit(lv, before) : this.replace(lv);
        this.stack.pop();
      }
      if (present) shared++;
      if (out === null && !Object.is(v, before)) out = cloneFieldsUntil(old, src, key, proto);
      if (out !== null) out[key] = v;
    }
    // Keys present before but gone now.
    let total = 0;
    for (const key in old) if (Object.hasOwn(old, key)) total++;
    if (total !== shared) {
      out ??= cloneFieldsUntil(old, src, null, proto);
      for (const key in old) {
        if (!Object.hasOwn(old, key) || Object.hasOwn(src, key)) continue;
        this.stack.push(key);
        this.ops?.push({ op: "del", path: this.stack.slice() });
        this.stack.pop();
      }
    }
    return out ?? prev;
  }

  private commitMap(live: Map<unknown, unknown>, prev: Map<unknown, unknown>): unknown {
    // Per-entry deltas need keys that survive the wire as path segments (strings, finite
    // numbers), in the new map and in the old (a deleted key is a path too); others (objects,
    // NaN, Infinity…) replace the map.
    for (const k of live.keys()) if (!isPathKey(k)) return this.replace(live);
    for (const k of prev.keys()) if (!isPathKey(k)) return this.replace(live);
    let changed = false;
    const out = new Map<unknown, unknown>();
    for (const [k, v] of live) {
      this.stack.push(k as PathSegment);
      let c: unknown;
      if (prev.has(k)) {
        const before = prev.get(k);
        c = this.commit(v, before);
        if (!Object.is(c, before)) changed = true;
      } else {
        c = this.copy(v);
        this.emitSet(c);
        changed = true;
      }
      this.stack.pop();
      out.set(k, c);
    }
    if (prev.size !== live.size || changed) {
      for (const k of prev.keys()) {
        if (live.has(k)) continue;
        changed = true;
        this.stack.push(k as PathSegment);
        this.ops?.push({ op: "del", path: this.stack.slice() });
        this.stack.pop();
      }
    }
    return changed ? out : prev;
  }
}

/** A value the walker keeps as it is: no copy, nothing to validate (functions and symbols are not). */
function isPrimitive(v: unknown): boolean {
  const t = typeof v;
  return t === "object" ? v === null : t !== "function" && t !== "symbol";
}

/**
 * How many leading elements of `live` are the same primitive as in `prev`, in a loop the JIT
 * keeps tight. It stops at the first object (a live and a committed tree share none, but an
 * object is the general loop's to walk either way) and at a zero (0 and -0 are identical to
 * `===` but not the same value), leaving them to the general loop.
 */
function unchangedPrefix(live: unknown[], prev: unknown[], m: number): number {
  let i = 0;
  for (; i < m; i++) {
    const v = live[i];
    if (v !== prev[i] || v === 0 || (typeof v === "object" && v !== null)) break;
  }
  return i;
}

/** Whether `live` is a primitive equal to `prev` (`Object.is` for numbers: NaN, -0): nothing to commit. */
function unchangedPrimitive(live: unknown, prev: unknown): boolean {
  return typeof live === "number" ? Object.is(live, prev) : isPrimitive(live) && live === prev;
}

/** Whether a Map key can be a delta path segment. */
function isPathKey(k: unknown): k is PathSegment {
  return typeof k === "string" || (typeof k === "number" && Number.isFinite(k));
}

/** A new object with the prototype `proto` holding `old`'s fields that `src` still has, in `src`'s order up to `stop`. */
function cloneFieldsUntil(old: Record<string, unknown>, src: Record<string, unknown>, stop: string | null, proto: unknown): Record<string, unknown> {
  const out = (proto === Object.prototype ? {} : Object.create(proto as object)) as Record<string, unknown>;
  for (const key in src) {
    if (key === stop) break;
    if (Object.hasOwn(src, key) && Object.hasOwn(old, key)) out[key] = old[key];
  }
  return out;
}

function setsEqual(a: Set<unknown>, b: Set<unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const v of a) {
    // Objects inside sets are compared by identity, which never holds between live and committed copies.
    if (typeof v === "object" && v !== null) return false;
    if (!b.has(v)) return false;
  }
  return true;
}

function mapSegment(key: unknown): PathSegment {
  return typeof key === "string" || typeof key === "number" ? key : `<${typeof key} key>`;
}

function describeClass(value: object): string {
  const ctor = (value as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor?.name === "string" && ctor.name ? ctor.name : "an unknown class";
}

/** Formats a path for messages: `state.items["a b"][2]`. */
export function formatPath(root: string, path: readonly PathSegment[]): string {
  let s = root;
  for (const seg of path) {
    if (typeof seg === "number") s += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(seg)) s += `.${seg}`;
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s;
}

/**
 * A validated deep copy. Throws `NotSerializableError` naming the offending field.
 * @param what how the value is named in errors, e.g. `"args"` or `"state"`
 */
export function copyValue<T>(value: T, what: string): T {
  const t = typeof value;
  if (t !== "object" && t !== "function" && t !== "symbol") return value; // primitives need no copy
  return new Walk(what, null).copy(value) as T;
}

/** `copyValue` for an argument list: returns `args` itself when every argument is a primitive. */
export function copyArgs(args: unknown[], what: string): unknown[] {
  for (let i = 0; i < args.length; i++) {
    const t = typeof args[i];
    if (t === "object" || t === "function" || t === "symbol") return new Walk(what, null).copy(args) as unknown[];
  }
  return args;
}

/**
 * Validates `live` and returns its committed copy, sharing unchanged subtrees of `prev`
 * (`prev` itself when nothing changed). With a `delta` array, also appends the operations
 * that turn `prev` into `live`.
 *
 * With `owned`, the caller vouches that nobody but itself holds the arrays in that set (the
 * committed tree was not handed out since they were made): those are changed in place — only
 * once the whole walk succeeded — and the arrays this commit creates are added to it. Without
 * it, `prev` is never changed.
 */
export function commitValue(live: unknown, prev: unknown, what: string, delta: Delta | null, owned: WeakSet<object> | null = null): unknown {
  // Commits run once per writing turn: reuse one walker unless a getter re-entered us.
  const walk = spare ?? new Walk(what, null);
  spare = null;
  walk.what = what;
  walk.ops = delta;
  walk.owned = owned;
  try {
    const committed = walk.commit(live, prev);
    if (walk.writes.length > 0) walk.applyWrites();
    walk.ops = null;
    walk.owned = null;
    spare = walk; // the stack is empty again after a walk that returned
    return committed;
  } catch (error) {
    walk.stack.length = 0;
    walk.writes.length = 0;
    walk.ops = null;
    walk.owned = null;
    spare = walk;
    throw error;
  }
}

/** Whether `live` differs from the committed `prev` (validating it on the way). */
export function hasChanged(live: unknown, prev: unknown, what: string): boolean {
  return !Object.is(commitValue(live, prev, what, null), prev);
}

/**
 * Where `live` first differs from the committed `prev`, as a formatted path under `root`
 * (`"state.items[2]"`), or null when they are equal. For reporting what a query changed.
 */
export function firstChange(live: unknown, prev: unknown, root: string): string | null {
  if (!hasChanged(live, prev, root)) return null;
  const delta: Delta = [];
  commitValue(live, prev, root, delta);
  const first = delta[0];
  return first ? formatPath(root, first.path) : root;
}

let spare: Walk | null = null;
