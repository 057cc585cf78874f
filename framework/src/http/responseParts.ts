/**
 * A route's `Response` taken apart for a response frame: status, headers as a flat list, and the
 * body — in full when the route gave a string or bytes, as a stream otherwise.
 *
 * Routes build their responses with @hono/node-server's lightweight `Response` (it replaces the
 * global one once a node serves HTTP): the status, body and headers given to the constructor are
 * kept in a symbol-keyed cache, and reading them through the web API would first build a real
 * undici `Response`. So they are read from that cache when it is there (the symbol is found by
 * its description, once), and through the web API otherwise — the same answer either way,
 * test/unit/http-frames.test.ts checks both.
 */

export interface ResponseParts {
  readonly status: number;
  /** Flat `[name, value, …]`, names lower-case, hop-by-hop headers and content-length left out. */
  readonly headers: string[];
  readonly body: Uint8Array | ReadableStream<Uint8Array> | null;
}

type Cache = [number, unknown, unknown];

let cacheSymbol: symbol | null | undefined;

function cacheOf(res: Response): Cache | undefined {
  if (cacheSymbol === undefined) {
    const found = Object.getOwnPropertySymbols(res).find((s) => s.description === "cache");
    if (found === undefined) return undefined; // not a cached response: look again on the next one
    cacheSymbol = found;
  }
  if (cacheSymbol === null) return undefined;
  const c = (res as unknown as Record<symbol, unknown>)[cacheSymbol];
  return Array.isArray(c) && c.length === 3 && typeof c[0] === "number" ? (c as Cache) : undefined;
}

/** Headers a forwarded response must not carry: the forwarder's connection to its client is its own. */
const DROPPED = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "content-length"]);

function pushHeader(out: string[], name: string, value: string): void {
  const lower = name.toLowerCase();
  if (!DROPPED.has(lower)) out.push(lower, value);
}

function headerList(h: unknown, hasBody: boolean): string[] {
  const out: string[] = [];
  if (h instanceof Headers) {
    for (const [name, value] of h) pushHeader(out, name, value);
  } else if (Array.isArray(h)) {
    for (const pair of h as unknown[]) if (Array.isArray(pair) && pair.length === 2) pushHeader(out, String(pair[0]), String(pair[1]));
  } else if (typeof h === "object" && h !== null) {
    for (const [name, value] of Object.entries(h as Record<string, unknown>)) {
      if (Array.isArray(value)) for (const v of value) pushHeader(out, name, String(v));
      else if (value !== undefined) pushHeader(out, name, String(value));
    }
  }
  // As Response does (and @hono/node-server writes): a body without a type is text.
  if (hasBody && !out.includes("content-type")) out.push("content-type", "text/plain; charset=UTF-8");
  return out;
}

function bodyOf(body: unknown): Uint8Array | ReadableStream<Uint8Array> | null | Blob {
  if (body === null || body === undefined) return null;
  if (typeof body === "string") return Buffer.from(body, "utf8");
  if (body instanceof Uint8Array) return body;
  if (body instanceof Blob) return body;
  return body as ReadableStream<Uint8Array>;
}

/** The parts of `res`, reading a `Blob` body into bytes. */
export async function responseParts(res: Response): Promise<ResponseParts> {
  const cached = cacheOf(res);
  let status: number;
  let headers: string[];
  let body: Uint8Array | ReadableStream<Uint8Array> | Blob | null;
  if (cached !== undefined) {
    status = cached[0];
    body = bodyOf(cached[1]);
    headers = headerList(cached[2], body !== null);
  } else {
    status = res.status;
    body = res.body;
    headers = headerList(res.headers, false);
  }
  if (body instanceof Blob) body = new Uint8Array(await body.arrayBuffer());
  return { status, headers, body };
}
