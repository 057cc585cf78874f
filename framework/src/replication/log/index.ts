/** The event log: per-actor entries and per-partition takeover markers in one JetStream stream. */
export { openEventLog, NatsEventLog, MAX_ACTORS_PER_READ } from "./NatsEventLog.js";
export { EventLogUnavailableError, EventLogClosedError, EventLogReadError, InvalidLogEntryError } from "./errors.js";
export type { EventLog, EventLogOptions, EventLogStats, LogEntry, StoredEntry, TakeoverMarker } from "./types.js";
