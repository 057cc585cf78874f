import type { HistogramSnapshot } from "./Histogram.js";

/**
 * The Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): `# HELP` and `# TYPE` per
 * family, then one line per sample. Written by hand: it is a page of code, and prom-client
 * would bring a registry, default process metrics and a second way to name things.
 */

/** The content type scrapers expect for this format. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type Labels = Readonly<Record<string, string>>;

/** One metric family: counters (names end in `_total`), gauges, or histograms (in seconds). */
export type MetricFamily =
  | { readonly name: string; readonly help: string; readonly type: "counter" | "gauge"; readonly samples: ReadonlyArray<{ readonly labels?: Labels; readonly value: number }> }
  | { readonly name: string; readonly help: string; readonly type: "histogram"; readonly histograms: ReadonlyArray<{ readonly labels?: Labels; readonly value: HistogramSnapshot }> };

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Renders families as exposition text, each sample carrying `common` labels first (e.g. `node`).
 * Throws on a malformed name (a programming error, caught by the tests).
 */
export function renderExposition(families: readonly MetricFamily[], common: Labels = {}): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const f of families) {
    if (!NAME.test(f.name)) throw new Error(`invalid metric name ${JSON.stringify(f.name)}`);
    if (seen.has(f.name)) throw new Error(`metric ${f.name} rendered twice`);
    seen.add(f.name);
    if (f.type === "counter" && !f.name.endsWith("_total")) throw new Error(`counter ${f.name} must end in _total`);
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    if (f.type === "histogram") {
      for (const h of f.histograms) {
        const labels = { ...common, ...h.labels };
        for (const [le, n] of h.value.buckets) lines.push(`${f.name}_bucket${labelText({ ...labels, le: formatValue(le) })} ${formatValue(n)}`);
        lines.push(`${f.name}_bucket${labelText({ ...labels, le: "+Inf" })} ${formatValue(h.value.count)}`);
        lines.push(`${f.name}_sum${labelText(labels)} ${formatValue(h.value.sum)}`);
        lines.push(`${f.name}_count${labelText(labels)} ${formatValue(h.value.count)}`);
      }
    } else {
      for (const s of f.samples) lines.push(`${f.name}${labelText({ ...common, ...s.labels })} ${formatValue(s.value)}`);
    }
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

function labelText(labels: Labels): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    if (!LABEL.test(k) || k.startsWith("__")) throw new Error(`invalid label name ${JSON.stringify(k)}`);
    parts.push(`${k}="${v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`);
  }
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}
