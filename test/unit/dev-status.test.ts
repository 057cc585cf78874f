import test from "ava";
import type { ChildProcess } from "node:child_process";
import { renderStatus, type DevNode } from "../../framework/src/cli/devCommand.js";
import type { NatsServerHandle } from "../../framework/src/harness/index.js";

/** `berth dev`'s live status: what it prints when a NATS server it started is gone, or the status cannot be read. */

const node: DevNode = { id: "node-1", log: "/tmp/node-1.log", child: { pid: 42 } as ChildProcess, exitCode: null };
const server = (name: string, running: boolean): NatsServerHandle => ({ name, url: `nats://127.0.0.1:${name === "n1" ? 4222 : 4223}`, running }) as unknown as NatsServerHandle;

test("a NATS server that is not running gets its own line, under the epoch", (t) => {
  const lines = renderStatus({ cluster: "c", nats: [], epoch: 7, members: [] }, [node], [server("n1", false), server("n2", true)]);
  t.regex(lines[0] ?? "", /epoch 7$/);
  t.is(lines[1], "  NATS n1 (nats://127.0.0.1:4222) is not running; the nodes use the other servers");
  t.is(lines.length, 3, "one line for the server that is down, one for the node");
});

test("when the status cannot be read it says why, instead of guessing", (t) => {
  const lines = renderStatus("connected to NATS, but the view did not answer", [node], [server("n1", false)]);
  t.regex(lines[0] ?? "", /status unavailable: connected to NATS, but the view did not answer$/);
  t.regex(lines[1] ?? "", /NATS n1 .* is not running/);
});

test("a node of the same id started by hand after berth dev's one was killed shows its own pid, not the dead child", (t) => {
  const dead: DevNode = { ...node, exitCode: 137, ended: "killed by SIGKILL" };
  const member = { id: "node-1", roles: ["worker"], state: "up", inView: true, pid: 777, host: "h", partitions: 512, actors: 3, moving: 0, moves: null, rates: null, updatedAgoMs: 100, protocol: 2 };
  const lines = renderStatus({ cluster: "c", nats: [], epoch: 9, members: [member] } as unknown as Parameters<typeof renderStatus>[0], [dead], []);
  t.regex(lines[1] ?? "", /node-1 +up .*pid 777 \(not started by berth dev; its own ended: killed by SIGKILL\)$/);
  const gone = renderStatus({ cluster: "c", nats: [], epoch: 9, members: [] }, [dead], []);
  t.regex(gone[1] ?? "", /killed by SIGKILL, see \/tmp\/node-1\.log$/, "with nothing of that id in the view, the child's end as before");
});
