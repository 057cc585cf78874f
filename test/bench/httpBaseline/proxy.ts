// The http-session baseline's load balancer: round-robin over the app servers, keep-alive
// connections to them, bodies streamed both ways — what a plain non-sticky LB does (the
// sessions are in Redis, so any app server can answer). Usage: proxy.ts <port> <upstream-port>...
import { Agent, createServer, request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http";

const [port, ...upstreams] = process.argv.slice(2).map(Number) as [number, ...number[]];
const agent = new Agent({ keepAlive: true, maxFreeSockets: 1024, scheduling: "lifo" });
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"]);

function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

let next = 0;
const server = createServer((req, res) => {
  const upstream = upstreams[next++ % upstreams.length] as number;
  const headers = endToEnd(req.headers);
  headers["x-forwarded-for"] = req.socket.remoteAddress ?? "";
  const up = request({ agent, host: "127.0.0.1", port: upstream, method: req.method, path: req.url, headers }, (ur) => {
    res.writeHead(ur.statusCode ?? 502, ur.statusMessage, endToEnd(ur.headers));
    ur.pipe(res);
  });
  up.on("error", () => {
    if (res.headersSent) res.destroy();
    else res.writeHead(502, { "content-type": "application/json" }).end('{"error":"upstream failed"}');
  });
  req.pipe(up);
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(port, "127.0.0.1", () => process.stdout.write("ready\n"));

setInterval(() => {
  if (process.ppid === 1) process.exit(0);
}, 500).unref();
