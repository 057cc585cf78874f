import type { SerializedActor } from "../actor/record.js";
import { MalformedMessageError } from "../errors.js";

/**
 * How a partition's actors are cut into pull replies, and put back together. A reply must fit
 * NATS' `max_payload` (1 MiB by default): actors are packed into chunks of at most `chunkChars`
 * characters of serialized record, and an actor larger than that is cut into pieces, one per
 * chunk, that the receiver joins (each piece says `[index, count]`). 256 Ki characters stay
 * under 1 MiB on the wire even when every character needs 3 bytes of UTF-8 or an escape.
 */
export const CHUNK_CHARS = 256 * 1024;

/** The largest actor a move joins from pieces (a bound on what a peer can make us buffer). */
const MAX_PIECES = 1024;

function cost(a: SerializedActor): number {
  return a.data.length + a.id.length + a.type.length + 64 + a.due.length * 32;
}

/** Packs actors into chunks; an actor above `chunkChars` becomes pieces, each alone in its chunk. */
export function toChunks(actors: readonly SerializedActor[], chunkChars = CHUNK_CHARS): SerializedActor[][] {
  const chunks: SerializedActor[][] = [[]];
  let size = 0;
  const add = (a: SerializedActor): void => {
    const n = cost(a);
    if (size + n > chunkChars && (chunks[chunks.length - 1] as SerializedActor[]).length > 0) {
      chunks.push([]);
      size = 0;
    }
    (chunks[chunks.length - 1] as SerializedActor[]).push(a);
    size += n;
  };
  for (const a of actors) {
    if (a.data.length <= chunkChars) {
      add(a);
      continue;
    }
    const count = Math.ceil(a.data.length / chunkChars);
    for (let i = 0; i < count; i++) add({ ...a, data: a.data.slice(i * chunkChars, (i + 1) * chunkChars), part: [i, count] });
  }
  return chunks;
}

/** Joins the pieces of actors that were cut (they arrive in order); throws on a broken sequence. */
export function joinPieces(received: readonly SerializedActor[]): SerializedActor[] {
  const out: SerializedActor[] = [];
  let open: { first: SerializedActor; pieces: string[]; count: number } | null = null;
  for (const a of received) {
    if (a.part === undefined) {
      if (open !== null) throw new MalformedMessageError(`moved actor ${open.first.type}/${open.first.id} is missing pieces`);
      out.push(a);
      continue;
    }
    const [index, count] = a.part;
    if (!Number.isInteger(index) || !Number.isInteger(count) || count < 2 || count > MAX_PIECES || index < 0 || index >= count) {
      throw new MalformedMessageError(`moved actor ${a.type}/${a.id} has a malformed piece number`);
    }
    if (index === 0) {
      if (open !== null) throw new MalformedMessageError(`moved actor ${open.first.type}/${open.first.id} is missing pieces`);
      open = { first: a, pieces: [a.data], count };
    } else if (open === null || open.first.type !== a.type || open.first.id !== a.id || open.count !== count || open.pieces.length !== index) {
      throw new MalformedMessageError(`moved actor ${a.type}/${a.id}: piece ${index} of ${count} out of order`);
    } else {
      open.pieces.push(a.data);
    }
    if (open.pieces.length === open.count) {
      const { type, id, lastUsed, due } = open.first;
      out.push({ type, id, data: open.pieces.join(""), lastUsed, due });
      open = null;
    }
  }
  if (open !== null) throw new MalformedMessageError(`moved actor ${open.first.type}/${open.first.id} is missing pieces`);
  return out;
}
