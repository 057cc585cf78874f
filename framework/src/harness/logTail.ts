import { closeSync, openSync, readSync, statSync } from "node:fs";

/** Current size of `file` (0 if missing): the offset where the next start attempt's output begins. */
export function logSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** nats-server's line prefix: `[pid] 2026/11/22 06:10:26.621066 `. */
const PREFIX = /^\[\d+\] \S+ \S+ /;

/** Runs of lines equal but for their prefix (e.g. repeated health check warnings) become one line. */
function collapseRepeats(lines: readonly string[]): string[] {
  const out: string[] = [];
  let previous: string | undefined;
  let repeats = 0;
  const flush = (): void => {
    if (repeats > 0) out.push(`  … repeated ${repeats} more time${repeats === 1 ? "" : "s"}`);
    repeats = 0;
  };
  for (const line of lines) {
    const body = line.replace(PREFIX, "");
    if (body === previous) {
      repeats++;
      continue;
    }
    flush();
    out.push(line);
    previous = body;
  }
  flush();
  return out;
}

/** The last `maxLines` lines written to `file` after byte `fromOffset` (at most 16 KiB are read). */
export function readLogTail(file: string, fromOffset = 0, maxLines = 25): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const size = statSync(file).size;
    const start = Math.max(fromOffset, size - 16 * 1024);
    const buffer = Buffer.alloc(Math.max(0, size - start));
    readSync(fd, buffer, 0, buffer.length, start);
    const lines = collapseRepeats(buffer.toString("utf8").split("\n").filter((l) => l.trim() !== ""));
    return lines.slice(-maxLines).join("\n");
  } catch {
    return "";
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
