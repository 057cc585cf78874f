// The remote-call baseline's server: a plain NATS subscription that echoes every request.
import { connect } from "@nats-io/transport-node";

const nc = await connect({ servers: process.argv[2] as string, noAsyncTraces: true });
nc.subscribe("bench.echo", { callback: (_err, msg) => void msg.respond(msg.data) });
await nc.flush();
process.stdout.write("ready\n");
setInterval(() => {
  if (process.ppid === 1) process.exit(0);
}, 500).unref();
