import test from "ava";
import { startTestNats, type TestNats } from "./nats.js";

/**
 * Real nats-server processes for the whole test file that calls it (at its top level): started
 * before the file's first test, stopped after its last. The handle reads the running servers.
 */
export function natsForFile(kind: "single" | "cluster"): TestNats {
  let started: TestNats | undefined;
  test.before(async () => {
    started = await startTestNats(kind);
  });
  test.after.always(async () => {
    await started?.stop();
  });
  const running = (): TestNats => {
    if (started === undefined) throw new Error("this file's NATS servers are not running: use natsForFile at the file's top level, and its handle inside tests");
    return started;
  };
  return {
    get urls() {
      return running().urls;
    },
    get servers() {
      return running().servers;
    },
    stop: () => running().stop(),
  };
}
