/**
 * How many arguments a handler accepts, read from the function itself, so that calls from
 * untyped callers (HTTP, the CLI, another language) get an `ArityError` instead of a
 * handler running with `undefined` where it expected a value.
 *
 * `min` is `fn.length` (parameters before the first default). `max` counts every declared
 * parameter by scanning the source's parameter list, or is Infinity with a rest parameter.
 * TypeScript erases `x?: T`, so an optional parameter needs a default (`x = 1`) to be optional
 * at run time — the ArityError message says so.
 */
export function paramCount(fn: (...args: never[]) => unknown): { min: number; max: number } {
  const min = fn.length;
  const list = parameterList(Function.prototype.toString.call(fn));
  if (list === null) return { min, max: Infinity };
  const params = splitTopLevel(list);
  if (params.some((p) => p.startsWith("..."))) return { min, max: Infinity };
  return { min, max: Math.max(min, params.length) };
}

/** The text between the parameter list's parentheses, or null if it cannot be found. */
function parameterList(src: string): string | null {
  let i = 0;
  // `x => ...` and `async x => ...`: one parameter without parentheses.
  const arrow = /^(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(src);
  if (arrow) return arrow[1] ?? null;
  i = src.indexOf("(");
  if (i < 0) return null;
  let depth = 0;
  for (let j = i; j < src.length; j++) {
    const c = src[j];
    if (c === '"' || c === "'" || c === "`") {
      j = skipString(src, j);
      continue;
    }
    if (c === "/" && src[j + 1] === "*") {
      j = src.indexOf("*/", j + 2) + 1;
      if (j <= 0) return null;
      continue;
    }
    if (c === "/" && src[j + 1] === "/") {
      j = src.indexOf("\n", j);
      if (j < 0) return null;
      continue;
    }
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      depth--;
      if (depth === 0) return src.slice(i + 1, j);
    }
  }
  return null;
}

function skipString(src: string, start: number): number {
  const quote = src[start];
  for (let j = start + 1; j < src.length; j++) {
    if (src[j] === "\\") j++;
    else if (src[j] === quote) return j;
  }
  return src.length;
}

function splitTopLevel(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (let j = 0; j < list.length; j++) {
    const c = list[j] as string;
    if (c === '"' || c === "'" || c === "`") {
      const end = skipString(list, j);
      cur += list.slice(j, end + 1);
      j = end;
      continue;
    }
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    if (c === "," && depth === 0) {
      out.push(cur.trim());
      cur = "";
    } else cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out.filter((p) => p.length > 0 && !p.startsWith("/*"));
}
