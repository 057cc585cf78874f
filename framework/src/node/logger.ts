import { pino, type Logger, type LoggerOptions } from "pino";

/**
 * The framework's logger: pino, structured, lowercase messages. The level comes from the
 * `logLevel` option, else `BERTH_LOG_LEVEL`, else `info`.
 */
export function createLogger(options: { level?: string; name?: string; bindings?: Record<string, unknown> } = {}): Logger {
  const level = options.level ?? process.env.BERTH_LOG_LEVEL ?? "info";
  const config: LoggerOptions = { level, base: { ...(options.bindings ?? {}) } };
  if (options.name !== undefined) config.name = options.name;
  return pino(config);
}

export type { Logger };
