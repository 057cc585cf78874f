/** The NATS harness: real nats-server processes for `berth dev`, integration tests and benchmarks. */
export { findNatsServer, findProgram } from "./findNatsServer.js";
export { startNatsServer } from "./startNatsServer.js";
export { startNatsCluster } from "./startNatsCluster.js";
export { reapStaleServers } from "./reapStaleServers.js";
export { NatsServerNotFoundError, NatsServerStartError, NatsServerStopError, type NatsServerStartFailure } from "./errors.js";
export type { NatsCluster, NatsServerHandle, ServerAuthorization, ServerTls, StartNatsClusterOptions, StartNatsServerOptions } from "./types.js";
