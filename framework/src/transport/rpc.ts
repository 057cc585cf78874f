import type { Logger } from "pino";
import { DEFAULT_MAX_PAYLOAD, decodeCallReply, decodeCallRequest, encodeCallReply, encodeCallRequest, errorReply, type CallRequest } from "./wire.js";
import type { Transport } from "./types.js";

/** Counts kept by the call server, exported in node stats. */
export interface RpcCounters {
  served: number;
  malformed: number;
}

/**
 * Serves calls addressed to this node: decodes and validates each request, runs it through
 * `handle`, and replies with the result or the error. A malformed request gets an error
 * reply and is counted; nothing a peer sends can throw past this function.
 */
export function serveCalls(
  transport: Transport,
  handle: (req: CallRequest) => Promise<unknown>,
  options: { maxPayload?: number; log: Logger; counters: RpcCounters },
): void {
  const limit = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  transport.serve(async (bytes) => {
    let req: CallRequest;
    try {
      req = decodeCallRequest(bytes, limit);
    } catch (error) {
      options.counters.malformed++;
      options.log.warn({ err: error, bytes: bytes.length }, "malformed call rejected");
      return errorReply(error, limit);
    }
    options.counters.served++;
    try {
      return encodeCallReply({ ok: true, result: await handle(req) }, limit);
    } catch (error) {
      return errorReply(error, limit);
    }
  });
}

/** Sends one call to node `target` and returns its result, or throws its error as its own class. */
export async function sendCall(transport: Transport, target: string, req: CallRequest, maxPayload = DEFAULT_MAX_PAYLOAD): Promise<unknown> {
  const reply = await transport.request(target, encodeCallRequest(req, maxPayload), req.ttlMs);
  return decodeCallReply(reply, maxPayload);
}
