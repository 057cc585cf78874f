import ms from "ms";
import { ConfigError } from "../errors.js";

/** A duration: milliseconds as a number, or a string such as `"250ms"`, `"30s"`, `"15m"`, `"2h"`. */
export type Duration = number | `${number}` | `${number}${"ms" | "s" | "m" | "h" | "d"}`;

/**
 * Converts a `Duration` to milliseconds, with a clear error for anything else.
 * @example toMillis("15m") // 900000
 */
export function toMillis(value: Duration, what = "duration"): number {
  const millis = typeof value === "number" ? value : ms(value as ms.StringValue);
  if (typeof millis !== "number" || !Number.isFinite(millis) || millis < 0) {
    throw new ConfigError(`${what} must be a non-negative number of ms or a string like "30s" or "15m"; got ${JSON.stringify(value)}`);
  }
  return millis;
}
