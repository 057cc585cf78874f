import { createServer, type AddressInfo, type Server } from "node:net";

/**
 * Ports this process already handed out, so two servers started concurrently never get
 * the same port even if the OS offers it twice. Bounded; oldest entries go first.
 */
const handedOut = new Set<number>();
const MAX_REMEMBERED = 4096;

function listenOnAnyPort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ port: 0, host: "127.0.0.1", exclusive: true }, () => resolve(server));
  });
}

/**
 * Asks the OS for `count` distinct free TCP ports on 127.0.0.1 (listen on port 0, read the
 * port, close). A port can still be taken between this call and the server's bind; the
 * callers detect "address already in use" and retry with fresh ports.
 *
 * @example
 * ```ts
 * const [port, httpPort] = await freePorts(2);
 * ```
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  const ports: number[] = [];
  try {
    // Keep every probe socket open until all ports are chosen, so they are distinct.
    for (let tries = 0; ports.length < count; tries++) {
      if (tries > count + 64) throw new Error(`could not find ${count} free ports on 127.0.0.1`);
      const server = await listenOnAnyPort();
      servers.push(server);
      const { port } = server.address() as AddressInfo;
      if (!handedOut.has(port)) ports.push(port);
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((done) => s.close(() => done()))));
  }
  for (const port of ports) {
    handedOut.delete(port);
    handedOut.add(port);
  }
  for (const port of handedOut) {
    if (handedOut.size <= MAX_REMEMBERED) break;
    handedOut.delete(port);
  }
  return ports;
}
