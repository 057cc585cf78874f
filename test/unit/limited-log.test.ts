import test from "ava";
import { pino } from "pino";
import { limitedLog } from "../../framework/src/node/logger.js";

test("limitedLog writes at most `burst` lines per interval and then says how many it left out", async (t) => {
  const lines: Array<{ msg: string; suppressed?: number; n: number }> = [];
  const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string; n: number }) });
  const malformed = limitedLog(log, "warn", "malformed call rejected", 3, 100);
  for (let n = 0; n < 25; n++) malformed({ n });
  t.deepEqual(lines.map((l) => l.n), [0, 1, 2], "a flood of 25 wrote 3 lines");
  await new Promise((r) => setTimeout(r, 120));
  malformed({ n: 25 });
  t.is(lines.length, 4);
  t.is(lines[3]?.suppressed, 22, "the next line counts the 22 left out");
  t.is(lines[3]?.msg, "malformed call rejected");
  malformed({ n: 26 });
  t.is(lines[4]?.suppressed, undefined, "and only once");
});
