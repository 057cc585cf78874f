import { pino, type Logger, type LoggerOptions } from "pino";
import { ConfigError } from "../errors.js";

/** The levels a logger accepts, quietest last. */
const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

/**
 * The framework's logger: pino, structured, lowercase messages. The level comes from the
 * `logLevel` option, else `BERTH_LOG_LEVEL`, else `info`.
 */
export function createLogger(options: { level?: string; name?: string; bindings?: Record<string, unknown> } = {}): Logger {
  const level = options.level ?? process.env.BERTH_LOG_LEVEL ?? "info";
  if (!LEVELS.includes(level)) {
    const from = options.level !== undefined ? "the log level" : "BERTH_LOG_LEVEL";
    throw new ConfigError(`${from} must be one of ${LEVELS.join(", ")}; got ${JSON.stringify(level)}`);
  }
  const config: LoggerOptions = { level, base: { ...(options.bindings ?? {}) } };
  if (options.name !== undefined) config.name = options.name;
  return pino(config);
}

export type { Logger };

/**
 * One log line that anyone on the wire can cause (a malformed message, a forged header): at
 * most `burst` lines per `intervalMs`, so that a flood cannot fill the disk; the first line
 * after a quiet spell says how many were left out (`suppressed`). Count the events elsewhere.
 * @example
 * ```ts
 * const malformed = limitedLog(log, "warn", "malformed call rejected");
 * malformed({ err, bytes: 12 });
 * ```
 */
export function limitedLog(log: Logger, level: "warn" | "error", msg: string, burst = 10, intervalMs = 60_000): (fields: Record<string, unknown>) => void {
  let windowStart = Number.NEGATIVE_INFINITY;
  let inWindow = 0;
  let suppressed = 0;
  return (fields) => {
    const now = Date.now();
    if (now - windowStart >= intervalMs) {
      windowStart = now;
      inWindow = 0;
    }
    if (inWindow >= burst) {
      suppressed++;
      return;
    }
    inWindow++;
    log[level](suppressed > 0 ? { ...fields, suppressed } : fields, msg);
    suppressed = 0;
  };
}
