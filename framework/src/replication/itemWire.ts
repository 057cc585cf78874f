import { packValue } from "../transport/wire.js";
import type { ReplItem } from "./items.js";

/**
 * Replication items on the wire. Each item is encoded once, when it is queued (shared by every
 * backup it goes to), as a packed value: plain JSON, or superjson's form when a value needs it.
 * A batch message joins the encoded items without encoding them again, up to a budget that keeps
 * it under the server's `max_payload`. An item larger than `PIECE_CHARS` — a turn that changed a
 * lot, or the full record of a large actor — is cut into pieces, each its own item, that the
 * backup joins before applying (BackupStore). Without that, one large actor stalled replication
 * to its backup for every actor behind it: the batch was refused by the server, resent forever.
 */

/** Characters of encoded item per piece. A JSON character is at most 3 bytes of UTF-8. */
export const PIECE_CHARS = 128 * 1024;

/** An encoded item, or a piece of one (`partial` for every piece but the last). */
export interface WireItem {
  readonly text: string;
  readonly partial: boolean;
}

/** Encodes an item, cut into pieces if it is larger than `pieceChars`. */
export function encodeItem(item: ReplItem, pieceChars = PIECE_CHARS): WireItem[] {
  const text = JSON.stringify(packValue(item));
  if (text.length <= pieceChars) return [{ text, partial: false }];
  const n = Math.ceil(text.length / pieceChars);
  const out: WireItem[] = [];
  for (let x = 0; x < n; x++) {
    const piece: ReplItem = { k: "fp", p: item.p, t: item.t, i: item.i, s: item.s, x, n, d: text.slice(x * pieceChars, (x + 1) * pieceChars) };
    out.push({ text: JSON.stringify({ j: piece }), partial: x < n - 1 });
  }
  return out;
}

/** Characters of items one batch message may carry: `max_payload` at 3 bytes a character, less the envelope. */
export function batchBudget(maxPayload: number): number {
  return Math.max(PIECE_CHARS, Math.floor((maxPayload - 1024) / 3));
}
