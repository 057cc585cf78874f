import type { NatsServerSpec } from "./types.js";

/** A double-quoted string in NATS config syntax. */
function quote(value: string): string {
  return JSON.stringify(value);
}

/**
 * The `nats-server` config for `spec`: loopback only, HTTP monitoring on, JetStream with
 * 256 MB memory / 2 GB file limits, and for cluster members a `cluster` block whose
 * routes list every member (a server ignores the route to itself).
 */
export function renderServerConfig(spec: NatsServerSpec): string {
  const lines = [
    "# Written by the Berth NATS harness on every start; edits are overwritten.",
    `server_name: ${quote(spec.name)}`,
    `listen: 127.0.0.1:${spec.port}`,
    `http: 127.0.0.1:${spec.httpPort}`,
  ];
  if (spec.jetstream) {
    lines.push(
      "jetstream {",
      `  store_dir: ${quote(spec.storeDir)}`,
      "  max_memory_store: 256MB",
      "  max_file_store: 2GB",
      "}",
    );
  }
  if (spec.cluster) {
    lines.push(
      "cluster {",
      `  name: ${quote(spec.cluster.name)}`,
      `  listen: 127.0.0.1:${spec.cluster.port}`,
      "  routes: [",
      ...spec.cluster.routePorts.map((p) => `    nats-route://127.0.0.1:${p}`),
      "  ]",
      "}",
    );
  }
  return lines.join("\n") + "\n";
}
