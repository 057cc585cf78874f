import test from "ava";
import { WorkSlicer } from "../../framework/src/time/WorkSlicer.js";

const busy = (ms: number): void => {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin: a job of synchronous work
  }
};

test("a burst of jobs leaves the event loop's timers and I/O room between slices", async (t) => {
  const slicer = new WorkSlicer(10);
  // 100 jobs of 5 ms: 500 ms of work that, run in one go, would hold every timer back.
  const done: number[] = [];
  const jobs = Array.from({ length: 100 }, (_, i) => slicer.run(() => (busy(5), done.push(i), i)));
  const ticks: number[] = [];
  const started = performance.now();
  const timer = setInterval(() => ticks.push(performance.now() - started), 20);
  const results = await Promise.all(jobs);
  clearInterval(timer);
  t.deepEqual(results, Array.from({ length: 100 }, (_, i) => i), "each job's result, in order");
  t.deepEqual(done, results, "jobs ran in the order given");
  t.true(ticks.length >= 10, `a 20 ms timer fired ${ticks.length} times during 500 ms of sliced work`);
  const gaps = ticks.slice(1).map((x, i) => x - (ticks[i] as number));
  t.true(Math.max(...gaps) < 150, `the longest gap between timer runs was ${Math.max(...gaps).toFixed(0)} ms`);
});

test("a job that throws rejects its own promise only", async (t) => {
  const slicer = new WorkSlicer();
  const bad = slicer.run(() => {
    throw new Error("boom");
  });
  const good = slicer.run(() => 42);
  await t.throwsAsync(bad, { message: "boom" });
  t.is(await good, 42);
  t.is(slicer.waiting, 0);
});
