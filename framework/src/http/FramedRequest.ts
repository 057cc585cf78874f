/**
 * The web `Request` a route sees for a request forwarded over NATS. Building a real `Request`
 * (undici: headers, a body stream, an abort signal) costs more than running a small route, and
 * routes mostly read the method, the URL, a header or two and the body as text or JSON — so
 * those come straight from the frame, and anything else (`body` as a stream, `signal`,
 * `clone()`, `formData()`…) from a real `Request` built on first use. The same trick as
 * @hono/node-server's request for Node's `IncomingMessage`.
 */
export class FramedRequest {
  #headers: Headers | undefined;
  #real: Request | undefined;
  #used = false;

  constructor(
    readonly method: string,
    readonly url: string,
    /** Flat `[name, value, …]`, names lower-case. */
    readonly headerList: readonly string[],
    private readonly content: Uint8Array,
  ) {}

  /** The body's size in bytes (it came whole in the frame). */
  get bodyLength(): number {
    return this.content.length;
  }

  /** One header's value (repeated headers joined as `Headers` joins them), without building `Headers`. */
  header(name: string): string | undefined {
    const lower = name.toLowerCase();
    let value: string | undefined;
    const list = this.headerList;
    for (let i = 0; i < list.length; i += 2) {
      if (list[i] !== lower) continue;
      const v = list[i + 1] as string;
      value = value === undefined ? v : `${value}${lower === "cookie" ? "; " : ", "}${v}`;
    }
    return value;
  }

  get headers(): Headers {
    if (this.#headers === undefined) {
      const h = new Headers();
      const list = this.headerList;
      for (let i = 0; i < list.length; i += 2) h.append(list[i] as string, list[i + 1] as string);
      this.#headers = h;
    }
    return this.#headers;
  }

  get body(): ReadableStream<Uint8Array> | null {
    return this.real().body;
  }

  get bodyUsed(): boolean {
    return this.#used || (this.#real?.bodyUsed ?? false);
  }

  get signal(): AbortSignal {
    return this.real().signal;
  }

  text(): Promise<string> {
    return this.consume().then((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8"));
  }

  json(): Promise<unknown> {
    return this.text().then(JSON.parse);
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return this.consume().then((b) => copyOf(b).buffer as ArrayBuffer);
  }

  bytes(): Promise<Uint8Array> {
    return this.consume().then(copyOf);
  }

  blob(): Promise<Blob> {
    return this.consume().then((b) => new Blob([copyOf(b)], { type: this.header("content-type") ?? "" }));
  }

  formData(): Promise<FormData> {
    return this.real().formData();
  }

  clone(): Request {
    return this.real().clone();
  }

  private consume(): Promise<Uint8Array> {
    if (this.bodyUsed) return Promise.reject(new TypeError("Body is unusable: Body has already been read"));
    this.#used = true;
    return Promise.resolve(this.content);
  }

  /** The real `Request`, built once, for everything this class does not answer itself. */
  private real(): Request {
    if (this.#real === undefined) {
      if (this.#used) throw new TypeError("Body is unusable: Body has already been read");
      const hasBody = this.method !== "GET" && this.method !== "HEAD" && this.content.length > 0;
      this.#real = new Request(this.url, { method: this.method, headers: this.headers, ...(hasBody ? { body: copyOf(this.content) } : {}) });
    }
    return this.#real;
  }
}

/**
 * A copy with a buffer of its own. Not `b.slice()`: the body may be a Node `Buffer`, whose
 * `slice` is a view of a shared pool — `.buffer` would then be the whole pool (found by a
 * 0-byte POST that arrived as 513 bytes).
 */
function copyOf(b: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(b);
}

// Routes (and Hono) treat it as a `Request`: the remaining properties come from the real one.
for (const k of ["cache", "credentials", "destination", "duplex", "integrity", "keepalive", "mode", "redirect", "referrer", "referrerPolicy"]) {
  Object.defineProperty(FramedRequest.prototype, k, {
    get(this: FramedRequest): unknown {
      return (this as unknown as { real(): Request }).real()[k as keyof Request];
    },
  });
}
Object.setPrototypeOf(FramedRequest.prototype, Request.prototype);
