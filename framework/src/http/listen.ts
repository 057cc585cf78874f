import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError } from "../errors.js";

/**
 * Binds `server` to `host:port` and resolves with the port (the chosen one for port 0). A port in
 * use or not allowed fails with a `ConfigError` naming `flag`, the option that set it.
 */
export function listen(server: Server, port: number, host: string, flag: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      reject(
        err.code === "EADDRINUSE"
          ? new ConfigError(`port ${port} on ${host} is already in use; stop what uses it or choose another port (${flag})`)
          : err.code === "EACCES"
            ? new ConfigError(`not allowed to listen on ${host}:${port}; use a port above 1023 or run with the needed privileges (${flag})`)
            : err,
      );
    });
    server.listen({ port, host }, () => resolve((server.address() as AddressInfo).port));
  });
}
