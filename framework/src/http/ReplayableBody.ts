import type { IncomingMessage, ClientRequest } from "node:http";

/**
 * A request body streamed to one upstream at a time, with its bytes kept (up to a limit) so
 * the request can be sent again if the first node answers "not mine" (421) or cannot be
 * reached. Bodies beyond the limit still stream; they just cannot be retried.
 */
export class ReplayableBody {
  private chunks: Buffer[] = [];
  private size = 0;
  private sink: ClientRequest | null = null;
  private ended = false;
  private overflowed = false;
  private waitingDrain = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly maxBytes: number,
  ) {
    req.on("data", (chunk: Buffer) => this.onData(chunk));
    req.on("end", () => {
      this.ended = true;
      this.sink?.end();
    });
  }

  /** Whether the whole body is still available to send again. */
  get replayable(): boolean {
    return !this.overflowed;
  }

  /** Sends the body to `sink`: the bytes seen so far, then the rest as it arrives. */
  pipeTo(sink: ClientRequest): void {
    this.sink = sink;
    for (const c of this.chunks) sink.write(c);
    if (this.ended) sink.end();
    else this.req.resume();
  }

  /** Stops sending to the current upstream (it failed); the client's body waits until the next `pipeTo`. */
  detach(): void {
    this.sink = null;
    this.waitingDrain = false;
    if (!this.ended) this.req.pause();
  }

  private onData(chunk: Buffer): void {
    if (!this.overflowed) {
      this.size += chunk.length;
      if (this.size > this.maxBytes) {
        this.overflowed = true;
        this.chunks = [];
      } else {
        this.chunks.push(chunk);
      }
    }
    const sink = this.sink;
    if (sink !== null && !sink.write(chunk) && !this.waitingDrain) {
      this.waitingDrain = true;
      this.req.pause();
      sink.once("drain", () => {
        this.waitingDrain = false;
        if (this.sink === sink) this.req.resume();
      });
    }
  }
}
