import test from "ava";
import { defineActor } from "berth";
import { createTestNode } from "berth/testing";
import { renderExposition, type MetricFamily } from "../../framework/src/metrics/exposition.js";
import { Histogram } from "../../framework/src/metrics/Histogram.js";
import { Rate } from "../../framework/src/metrics/Rate.js";
import { parseExposition } from "../helpers/prometheus.js";

test("the exposition renders counters, gauges and histograms that a strict parser reads back", (t) => {
  const h = new Histogram([0.01, 0.1, 1]);
  for (const s of [0.005, 0.05, 0.05, 0.5, 3]) h.observe(s);
  const families: MetricFamily[] = [
    { name: "x_calls_total", help: 'Calls, with "quotes" and a \\ backslash\nand a newline.', type: "counter", samples: [{ value: 3 }] },
    { name: "x_state", help: "A gauge per state.", type: "gauge", samples: [{ labels: { state: 'up "now"\n\\' }, value: 1 }, { labels: { state: "down" }, value: 0 }] },
    { name: "x_duration_seconds", help: "Durations.", type: "histogram", histograms: [{ value: h.snapshot() }] },
  ];
  const text = renderExposition(families, { node: "n-1" });
  const e = parseExposition(text);
  t.is(e.types.get("x_calls_total"), "counter");
  t.is(e.help.get("x_calls_total"), 'Calls, with "quotes" and a \\ backslash\nand a newline.');
  t.is(e.value("x_calls_total", { node: "n-1" }), 3);
  t.is(e.value("x_state", { state: 'up "now"\n\\' }), 1, "label values are escaped and read back");
  t.is(e.value("x_duration_seconds_bucket", { le: "0.01" }), 1);
  t.is(e.value("x_duration_seconds_bucket", { le: "0.1" }), 3);
  t.is(e.value("x_duration_seconds_bucket", { le: "1" }), 4);
  t.is(e.value("x_duration_seconds_bucket", { le: "+Inf" }), 5);
  t.is(e.value("x_duration_seconds_count"), 5);
  t.true(Math.abs(e.value("x_duration_seconds_sum") - 3.605) < 1e-9);
  t.true(e.samples.every((s) => s.labels.node === "n-1"), "every sample carries the node label");
});

test("the renderer refuses what Prometheus would: bad names, counters without _total, twice the same family", (t) => {
  t.throws(() => renderExposition([{ name: "calls", help: "x", type: "counter", samples: [{ value: 1 }] }]), { message: /must end in _total/ });
  t.throws(() => renderExposition([{ name: "9lives", help: "x", type: "gauge", samples: [{ value: 1 }] }]), { message: /invalid metric name/ });
  t.throws(() => renderExposition([{ name: "g", help: "x", type: "gauge", samples: [{ labels: { "bad-label": "v" }, value: 1 }] }]), { message: /invalid label name/ });
  const g: MetricFamily = { name: "g", help: "x", type: "gauge", samples: [{ value: 1 }] };
  t.throws(() => renderExposition([g, g]), { message: /twice/ });
  t.is(renderExposition([]), "");
});

test("the test parser is strict: it rejects malformed expositions", (t) => {
  const bad = [
    "x_total 1\n", // no TYPE
    "# HELP x_total h\n# TYPE x_total counter\nx_total 1", // no final newline
    "# HELP x h\n# TYPE x counter\nx 1\n", // counter without _total
    "# HELP x h\n# TYPE x gauge\nx{a=\"b\\q\"} 1\n", // bad escape
    "# HELP x h\n# TYPE x gauge\nx one\n", // not a number
    "# HELP x h\n# TYPE x gauge\nx 1\nx 2\n", // duplicate series
    "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", // not cumulative
    "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", // no +Inf
    "# TYPE x gauge\nx 1\n", // no HELP
    "# HELP x h\n# TYPE x gauge\n\nx 1\n", // empty line
  ];
  for (const text of bad) t.throws(() => parseExposition(text), undefined, JSON.stringify(text));
});

test("a histogram counts every observation in its bucket, cumulatively, with an exact sum", (t) => {
  const h = new Histogram([1, 2]);
  h.observe(0.5);
  h.observe(1);
  h.observe(1.5);
  h.observe(9);
  h.observe(-1); // ignored: a duration is never negative
  h.observe(Number.NaN);
  const s = h.snapshot();
  t.deepEqual(s.buckets, [[1, 2], [2, 3]]);
  t.is(s.count, 4);
  t.is(s.sum, 12);
  t.throws(() => new Histogram([2, 1]), { instanceOf: RangeError });
});

test("a rate is the counter's growth per second between samples", (t) => {
  const r = new Rate();
  t.is(r.sample(100, 10_000), 0, "no rate from a single sample");
  t.is(r.sample(600, 15_000), 100);
  t.is(r.sample(650, 15_100), 100, "a sample too close to the previous one keeps the last rate");
  t.is(r.sample(10, 20_000), 0, "a counter that went backwards (restart) gives 0, not a negative rate");
});

const Counter = defineActor("counter", {
  state: () => ({ n: 0 }),
  handlers: {
    inc(ctx) {
      ctx.state.n++;
    },
  },
});

test("every node reports its process: memory, heap, CPU, start time and event-loop delay", async (t) => {
  const node = await createTestNode({ actors: [Counter], id: "proc" });
  const x = parseExposition(node.metrics());
  t.true(x.value("process_resident_memory_bytes") >= x.value("nodejs_heap_size_used_bytes"));
  t.true(x.value("nodejs_heap_size_total_bytes") >= x.value("nodejs_heap_size_used_bytes"));
  t.true(x.value("process_cpu_seconds_total") > 0);
  const started = x.value("process_start_time_seconds");
  t.true(started <= Date.now() / 1000 && started > Date.now() / 1000 - 3_600, `start time ${started}`);
  t.is(x.types.get("nodejs_eventloop_delay_seconds"), "gauge");
  t.true(x.value("nodejs_eventloop_delay_seconds", { quantile: "0.99" }) >= 0);
  await node.stop();
});

test("a standalone node's metrics parse, and move with calls", async (t) => {
  const node = await createTestNode({ actors: [Counter], id: "solo" });
  const before = parseExposition(node.metrics());
  t.is(before.value("berth_actors_active", { node: "solo" }), 0);
  t.is(before.value("berth_activations_total"), 0);
  await node.ref(Counter, "a").inc();
  await node.ref(Counter, "b").inc();
  const after = parseExposition(node.metrics());
  t.is(after.value("berth_actors_active"), 2);
  t.is(after.value("berth_activations_total"), 2);
  await node.passivateAll();
  t.is(parseExposition(node.metrics()).value("berth_passivations_total"), 2);
  await node.stop();
});
