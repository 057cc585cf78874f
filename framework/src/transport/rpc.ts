import type { Logger } from "pino";
import { limitedLog } from "../node/logger.js";
import { DEFAULT_MAX_PAYLOAD, decodeCallReply, decodeCallRequest, encodeCallReply, encodeCallRequest, errorReply, type CallRequest } from "./wire.js";
import type { Transport } from "./types.js";
import { decodeControl, encodeControlError, encodeControlReply, isControlFrame, type ControlMessage } from "./control.js";

/** Counts kept by the call server, exported in node stats. */
export interface RpcCounters {
  served: number;
  malformed: number;
  /** Control messages served (replication, transfers). */
  control: number;
}

/**
 * Serves calls addressed to this node: decodes and validates each request, runs it through
 * `handle`, and replies with the result or the error. A malformed request gets an error
 * reply and is counted; nothing a peer sends can throw past this function.
 */
export function serveCalls(
  transport: Transport,
  handle: (req: CallRequest) => Promise<unknown>,
  options: { maxPayload?: number; log: Logger; counters: RpcCounters; control?: (msg: ControlMessage) => Promise<unknown> },
): void {
  const limit = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  // Anyone on the wire can send these: counted each, logged at most 10 a minute each.
  const malformedCall = limitedLog(options.log, "warn", "malformed call rejected");
  const malformedControl = limitedLog(options.log, "warn", "malformed control message rejected");
  transport.serve((bytes, respond) => {
    if (options.control !== undefined && isControlFrame(bytes)) return serveControl(bytes, respond, options.control, limit, { counters: options.counters, malformed: malformedControl });
    let req: CallRequest;
    try {
      req = decodeCallRequest(bytes, limit);
    } catch (error) {
      options.counters.malformed++;
      malformedCall({ err: error, bytes: bytes.length });
      return respond(errorReply(error, limit));
    }
    options.counters.served++;
    let pending: Promise<unknown>;
    try {
      pending = handle(req);
    } catch (error) {
      return respond(errorReply(error, limit));
    }
    pending.then(
      (result) => respond(encodeCallReply({ ok: true, result }, limit)),
      (error: unknown) => respond(errorReply(error, limit)),
    );
  });
}

function serveControl(
  bytes: Uint8Array,
  respond: (reply: Uint8Array) => void,
  handle: (msg: ControlMessage) => Promise<unknown>,
  limit: number,
  options: { counters: RpcCounters; malformed: (fields: Record<string, unknown>) => void },
): void {
  let msg: ControlMessage;
  try {
    msg = decodeControl(bytes, limit);
  } catch (error) {
    options.counters.malformed++;
    options.malformed({ err: error, bytes: bytes.length });
    return respond(encodeControlError(error, limit));
  }
  options.counters.control++;
  let pending: Promise<unknown>;
  try {
    pending = handle(msg);
  } catch (error) {
    return respond(encodeControlError(error, limit));
  }
  pending.then(
    (result) => respond(encodeControlReply(result, limit)),
    (error: unknown) => respond(encodeControlError(error, limit)),
  );
}

/**
 * Sends one call to node `target` and calls `onResult` with its result, or `onError` with its
 * error (rebuilt as its own class) or a transport failure. No promise in between: the caller
 * decides what one call costs.
 */
export function sendCallWith(
  transport: Transport,
  target: string,
  req: CallRequest,
  maxPayload: number,
  onResult: (result: unknown) => void,
  onError: (error: unknown) => void,
): void {
  let payload: Uint8Array;
  try {
    payload = encodeCallRequest(req, maxPayload);
  } catch (error) {
    return onError(error);
  }
  transport.send(
    target,
    payload,
    req.ttlMs,
    (reply) => {
      let result: unknown;
      try {
        result = decodeCallReply(reply, maxPayload);
      } catch (error) {
        return onError(error);
      }
      onResult(result);
    },
    onError,
  );
}

/** Sends one call to node `target` and returns its result, or throws its error as its own class. */
export function sendCall(transport: Transport, target: string, req: CallRequest, maxPayload = DEFAULT_MAX_PAYLOAD): Promise<unknown> {
  let payload: Uint8Array;
  try {
    payload = encodeCallRequest(req, maxPayload);
  } catch (error) {
    return Promise.reject(error);
  }
  return transport.request(target, payload, req.ttlMs).then((reply) => decodeCallReply(reply, maxPayload));
}
