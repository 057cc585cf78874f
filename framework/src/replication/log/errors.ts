import { BerthError } from "../../errors.js";

/**
 * JetStream did not acknowledge an append or a takeover marker in time (a stream leader
 * election that outlasted the timeout, NATS unreachable, or the stream missing). The write may
 * or may not be stored; retrying with the same entry is safe (it carries the same message id
 * and is stored once while within the stream's 2-minute duplicate window).
 */
export class EventLogUnavailableError extends BerthError {
  static readonly code = "event-log-unavailable";
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    const cause = options?.cause instanceof Error ? options.cause.message : options?.cause === undefined ? "" : String(options.cause);
    super(
      EventLogUnavailableError.code,
      `the event log did not acknowledge ${what} within ${timeoutMs} ms (${attempts} attempt(s)${cause ? `; last error: ${cause}` : ""}); ` +
        `its outcome is unknown — retry the same entry (it is deduplicated), and check that NATS and its JetStream stream are up`,
      options,
    );
    this.name = "EventLogUnavailableError";
  }
}

/** An entry or marker handed to the log is out of range; nothing was written. */
export class InvalidLogEntryError extends BerthError {
  static readonly code = "invalid-log-entry";
  constructor(detail: string) {
    super(InvalidLogEntryError.code, `invalid event log entry: ${detail}`);
    this.name = "InvalidLogEntryError";
  }
}

/** The event log was closed; it accepts no more appends or reads. */
export class EventLogClosedError extends BerthError {
  static readonly code = "event-log-closed";
  constructor() {
    super(EventLogClosedError.code, "the event log is closed; open a new one with openEventLog()");
    this.name = "EventLogClosedError";
  }
}

/** A read could not complete (NATS or the stream unavailable, or no progress in time). Nothing was returned. */
export class EventLogReadError extends BerthError {
  static readonly code = "event-log-read-failed";
  constructor(detail: string, options?: { cause?: unknown }) {
    super(EventLogReadError.code, `reading the event log failed: ${detail}; retry once NATS and the stream are up`, options);
    this.name = "EventLogReadError";
  }
}
