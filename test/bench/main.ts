/**
 * The benchmark program: `npm run bench -- [--json] [--only name,...]`.
 * Every benchmark measures its baseline in the same run, on the same machine, and reports a
 * ratio — absolute figures on a shared 2-core machine mean little; ratios do.
 */
import { parseArgs } from "node:util";
import { benchmarks } from "./registry.js";
import type { BenchResult } from "./types.js";

const { values } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    only: { type: "string" },
    quick: { type: "boolean", default: false },
  },
});
const only = values.only?.split(",").map((s) => s.trim()).filter(Boolean);
const unknown = only?.filter((n) => !benchmarks.some((b) => b.name === n)) ?? [];
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; available: ${benchmarks.map((b) => b.name).join(", ")}`);
  process.exit(2);
}
const selected = benchmarks.filter((b) => !only || only.includes(b.name));
const results: BenchResult[] = [];
for (const bench of selected) {
  if (!values.json) process.stderr.write(`running ${bench.name}...\n`);
  const started = Date.now();
  for (const result of await bench.run({ quick: values.quick })) {
    results.push(result);
    if (values.json) console.log(JSON.stringify(result));
  }
  if (!values.json) process.stderr.write(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
if (!values.json) {
  for (const r of results) {
    const { name, ...fields } = r;
    console.log(`\n${name}`);
    for (const [k, v] of Object.entries(fields)) console.log(`  ${k.padEnd(22)} ${typeof v === "number" ? formatNumber(v) : String(v)}`);
  }
}

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return v.toFixed(v < 10 ? 3 : 1);
}
