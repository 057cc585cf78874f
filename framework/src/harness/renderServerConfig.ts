import type { NatsServerSpec } from "./types.js";

/** A double-quoted string in NATS config syntax. */
function quote(value: string): string {
  return JSON.stringify(value);
}

/**
 * The `nats-server` config for `spec`: loopback only, HTTP monitoring on, JetStream with
 * 256 MB memory / 2 GB file limits, client `authorization` and `tls` when asked for (tests of
 * auth), and for cluster members a `cluster` block whose routes list every member (a server
 * ignores the route to itself).
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
  if (spec.authorization) {
    const a = spec.authorization;
    lines.push("authorization {", ...("token" in a ? [`  token: ${quote(a.token)}`] : [`  user: ${quote(a.user)}`, `  password: ${quote(a.password)}`]), "}");
  }
  if (spec.tls) {
    lines.push(
      "tls {",
      `  cert_file: ${quote(spec.tls.certFile)}`,
      `  key_file: ${quote(spec.tls.keyFile)}`,
      ...(spec.tls.caFile ? [`  ca_file: ${quote(spec.tls.caFile)}`] : []),
      `  verify: ${spec.tls.verify === true}`,
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
