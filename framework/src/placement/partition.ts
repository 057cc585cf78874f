import xxhash from "xxhash-wasm";

/**
 * Session id → partition. The id is hashed with 64-bit xxhash, so every node, in every
 * language, puts an id in the same partition. Partitions (not sessions) are what nodes own,
 * move, replicate and fence. Actors of different types with the same id share a partition,
 * so one session's actors live together.
 */
const { h64 } = await xxhash();

/**
 * The partition of an actor id.
 * @param id the actor (session) id
 * @param partitions the cluster's partition count (default 1024)
 * @example partitionOf("session-42", 1024) // a number in 0..1023
 */
export function partitionOf(id: string, partitions: number): number {
  if (partitions !== lastCount) {
    lastCount = partitions;
    lastDivisor = BigInt(partitions);
  }
  return Number(h64(id) % lastDivisor);
}

let lastCount = 1024;
let lastDivisor = 1024n;

/** The 64-bit xxhash of a string, for rendezvous ranking in placement. */
export function hash64(input: string): bigint {
  return h64(input);
}
