import { defineActor } from "berth";

/** Thrown for an increment the counter refuses; callers receive it as an `ActorHandlerError`. */
export class CounterInputError extends Error {
  override name = "CounterInputError";
}

/**
 * A counter: one actor per id, living on one node of the cluster. Calls to one counter run
 * one at a time, so concurrent increments never lose an update; a handler that throws leaves
 * the count as it was.
 */
export const Counter = defineActor("counter", {
  state: () => ({ count: 0 }),
  handlers: {
    increment(ctx, by: number = 1): number {
      if (!Number.isSafeInteger(by) || by < 1) throw new CounterInputError(`increment by a positive integer; got ${String(by)}`);
      ctx.state.count += by;
      return ctx.state.count;
    },
    reset(ctx): number {
      ctx.state.count = 0;
      return 0;
    },
  },
  queries: {
    value: (ctx): number => ctx.state.count,
  },
});
