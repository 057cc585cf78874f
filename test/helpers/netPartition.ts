import { execFileSync } from "node:child_process";
import { createServer, Socket, type Server } from "node:net";

/**
 * Network partitions for fault tests: a node process runs in a network namespace of its own,
 * joined to the host by a veth pair, and reaches NATS only through a relay on the host side of
 * that pair. Inside the namespace 127.0.0.1 is the namespace's own loopback, so the server URLs
 * NATS gossips to clients lead nowhere: the relay is the node's one way to NATS. Cutting the
 * relay blackholes it — bytes in either direction are held, not delivered, and no connection is
 * refused or reset, as when a switch drops a link; healing delivers what was held, as TCP does
 * once the link is back. The node's HTTP port stays reachable from the host through the same
 * veth pair: a client (a load balancer that has not noticed) can still reach the cut-off node.
 *
 * Needs root (`ip netns`, `ip link`).
 */
export interface Namespace {
  readonly name: string;
  /** The host's address on the veth pair (the relay listens there). */
  readonly hostIp: string;
  /** The namespace's address (its node's HTTP port is reached there). */
  readonly nsIp: string;
  /** The command prefix that runs a program inside the namespace. */
  readonly exec: readonly string[];
  remove(): void;
}

/** Whether this process may create network namespaces (root with `ip`), and if not, why. */
export function namespacesUnavailable(): string | null {
  if (process.platform !== "linux") return "network namespaces are Linux only";
  if (process.getuid?.() !== 0) return "network namespaces need root (run npm test as root, as .ci/run does)";
  try {
    execFileSync("ip", ["-V"], { stdio: "ignore" });
  } catch {
    return "the `ip` command (iproute2) is missing: apt-get install -y iproute2";
  }
  return null;
}

/** Creates namespace `berth<k>` with a veth pair on 10.231.<k>.0/24 (host .1, namespace .2), loopback up. */
export function createNamespace(k: number): Namespace {
  const name = `berth${k}`;
  const host = `bh${k}`;
  const peer = `bn${k}`;
  const hostIp = `10.231.${k}.1`;
  const nsIp = `10.231.${k}.2`;
  const ip = (...args: string[]): void => void execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
  /** Removes the pair and the namespace, if there (deleting the host end deletes its peer). */
  const remove = (): void => {
    for (const args of [["link", "del", host], ["netns", "del", name]]) {
      try {
        ip(...args);
      } catch {
        /* not there */
      }
    }
  };
  remove(); // leftovers of a run that was killed before it cleaned up
  ip("netns", "add", name);
  ip("link", "add", host, "type", "veth", "peer", "name", peer);
  ip("link", "set", peer, "netns", name);
  ip("addr", "add", `${hostIp}/24`, "dev", host);
  ip("link", "set", host, "up");
  ip("netns", "exec", name, "ip", "addr", "add", `${nsIp}/24`, "dev", peer);
  ip("netns", "exec", name, "ip", "link", "set", peer, "up");
  ip("netns", "exec", name, "ip", "link", "set", "lo", "up");
  return {
    name,
    hostIp,
    nsIp,
    exec: ["ip", "netns", "exec", name],
    remove,
  };
}

/** A TCP relay that can be cut (blackholed) and healed. */
export interface Relay {
  /** `nats://<host>:<port>`: the URL to give the node behind the relay. */
  readonly url: string;
  /** From now on nothing passes, either way, on open or new connections. */
  cut(): void;
  /** Delivers what was held and passes everything again. */
  heal(): void;
  close(): Promise<void>;
}

/** Listens on `host` (a free port) and relays every connection to `target` (`host:port`). */
export async function startRelay(host: string, target: { host: string; port: number }): Promise<Relay> {
  let cut = false;
  const pairs = new Set<{ a: Socket; b: Socket; held: Array<[Socket, Buffer]> }>();
  const server: Server = createServer((a) => {
    const b = new Socket();
    const pair = { a, b, held: [] as Array<[Socket, Buffer]> };
    pairs.add(pair);
    const pass = (to: Socket) => (chunk: Buffer) => {
      if (cut) pair.held.push([to, chunk]);
      else to.write(chunk);
    };
    a.on("data", pass(b));
    b.on("data", pass(a));
    const end = (): void => {
      pairs.delete(pair);
      a.destroy();
      b.destroy();
    };
    // While cut, an end is held too: a blackholed link delivers no FIN either.
    a.on("close", () => (cut ? undefined : end()));
    b.on("close", () => (cut ? undefined : end()));
    a.on("error", () => undefined);
    b.on("error", () => undefined);
    b.connect(target.port, target.host);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the relay has no port");
  return {
    url: `nats://${host}:${address.port}`,
    cut() {
      cut = true;
    },
    heal() {
      cut = false;
      for (const pair of [...pairs]) {
        for (const [to, chunk] of pair.held) if (!to.destroyed) to.write(chunk);
        pair.held = [];
        if (pair.a.destroyed || pair.b.destroyed) {
          pairs.delete(pair);
          pair.a.destroy();
          pair.b.destroy();
        }
      }
    },
    async close() {
      for (const pair of pairs) {
        pair.a.destroy();
        pair.b.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
