/**
 * A strict parser of the Prometheus text exposition format 0.0.4, for tests: it rejects what
 * Prometheus would reject, and what our own conventions forbid (counters not ending in `_total`,
 * samples without a `# TYPE`, histograms whose buckets do not add up).
 */

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly types: ReadonlyMap<string, MetricType>;
  readonly help: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
  /** The value of the one sample named `name` whose labels include `labels`; throws if not exactly one. */
  value(name: string, labels?: Readonly<Record<string, string>>): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(["counter", "gauge", "histogram", "summary", "untyped"]);

export function parseExposition(text: string): Exposition {
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline");
  const types = new Map<string, MetricType>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    if (line.length === 0) throw new Error(`${where}: empty line`);
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (m === null) return; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name`);
      if (kind === "HELP") {
        if (help.has(name)) throw new Error(`${where}: second HELP for ${name}`);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ""))) throw new Error(`${where}: bad escape in HELP`);
        help.set(name, rest.replace(/\\n/g, "\n").replace(/\\\\/g, "\\"));
        return;
      }
      if (types.has(name)) throw new Error(`${where}: second TYPE for ${name}`);
      if (!TYPES.has(rest as MetricType)) throw new Error(`${where}: unknown type ${rest}`);
      if (samples.some((s) => familyOf(s.name, types) === name)) throw new Error(`${where}: TYPE after samples of ${name}`);
      if (rest === "counter" && !name.endsWith("_total")) throw new Error(`${where}: counter ${name} does not end in _total`);
      types.set(name, rest as MetricType);
      return;
    }
    const sample = parseSample(line, where);
    const family = familyOf(sample.name, types);
    if (family === null) throw new Error(`${where}: sample without a # TYPE line before it`);
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(key)) throw new Error(`${where}: duplicate series`);
    seen.add(key);
    if (types.get(family) === "counter" && !(sample.value >= 0)) throw new Error(`${where}: a counter must be a non-negative number`);
    samples.push(sample);
  });
  for (const [name, type] of types) if (type === "histogram") checkHistogram(name, samples);
  for (const name of types.keys()) if (!help.has(name)) throw new Error(`${name} has no HELP`);
  return {
    types,
    help,
    samples,
    value(name, labels = {}) {
      const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      if (found.length !== 1) throw new Error(`${found.length} samples named ${name} with ${JSON.stringify(labels)}`);
      return (found[0] as Sample).value;
    },
  };
}

function familyOf(sample: string, types: ReadonlyMap<string, MetricType>): string | null {
  if (types.has(sample)) return types.get(sample) === "histogram" ? null : sample;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (sample.endsWith(suffix)) {
      const base = sample.slice(0, -suffix.length);
      const t = types.get(base);
      if (t === "histogram" || (t === "summary" && suffix !== "_bucket")) return base;
    }
  }
  return null;
}

function parseSample(line: string, where: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( -?\d+)?$/.exec(line);
  if (m === null) throw new Error(`${where}: not a sample line`);
  const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
  const labels: Record<string, string> = {};
  if (labelText !== undefined) {
    let rest = labelText.slice(1, -1);
    while (rest.length > 0) {
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/.exec(rest);
      if (lm === null) throw new Error(`${where}: bad labels`);
      const [all, k, v] = lm as unknown as [string, string, string];
      if (!LABEL_NAME.test(k) || k.startsWith("__")) throw new Error(`${where}: bad label name ${k}`);
      if (k in labels) throw new Error(`${where}: label ${k} twice`);
      labels[k] = v.replace(/\\(["\\n])/g, (_m, c: string) => (c === "n" ? "\n" : c));
      rest = rest.slice(all.length);
    }
  }
  const value = valueText === "+Inf" ? Infinity : valueText === "-Inf" ? -Infinity : valueText === "NaN" ? NaN : Number(valueText);
  if (Number.isNaN(value) && valueText !== "NaN") throw new Error(`${where}: value ${valueText} is not a number`);
  return { name, labels, value };
}

function checkHistogram(name: string, samples: readonly Sample[]): void {
  const series = new Map<string, { buckets: Array<[number, number]>; sum?: number; count?: number }>();
  const keyOf = (labels: Readonly<Record<string, string>>): string => JSON.stringify(Object.entries(labels).filter(([k]) => k !== "le").sort());
  for (const s of samples) {
    if (s.name !== `${name}_bucket` && s.name !== `${name}_sum` && s.name !== `${name}_count`) continue;
    const key = keyOf(s.labels);
    const entry = series.get(key) ?? series.set(key, { buckets: [] }).get(key);
    if (entry === undefined) continue;
    if (s.name === `${name}_bucket`) {
      const le = s.labels.le;
      if (le === undefined) throw new Error(`${name}_bucket without le`);
      entry.buckets.push([le === "+Inf" ? Infinity : Number(le), s.value]);
    } else if (s.name === `${name}_sum`) entry.sum = s.value;
    else if (s.name === `${name}_count`) entry.count = s.value;
  }
  if (series.size === 0) throw new Error(`histogram ${name} has no samples`);
  for (const [key, e] of series) {
    if (e.sum === undefined || e.count === undefined) throw new Error(`histogram ${name}${key} lacks _sum or _count`);
    const last = e.buckets[e.buckets.length - 1];
    if (last === undefined || last[0] !== Infinity) throw new Error(`histogram ${name}${key} lacks the +Inf bucket (last)`);
    if (last[1] !== e.count) throw new Error(`histogram ${name}${key}: +Inf bucket ${last[1]} != _count ${e.count}`);
    for (let i = 1; i < e.buckets.length; i++) {
      const [le, n] = e.buckets[i] as [number, number];
      const [prevLe, prevN] = e.buckets[i - 1] as [number, number];
      if (!(le > prevLe)) throw new Error(`histogram ${name}${key}: bucket bounds do not ascend`);
      if (n < prevN) throw new Error(`histogram ${name}${key}: buckets are not cumulative`);
    }
  }
}
