#!/usr/bin/env node
// `node scripts/ensure-tools.mjs [--check] <tool>...`: makes sure the programs an npm script
// needs are installed before it runs (`npm test`, `npm start`, `npm run bench`, `npm run
// test:faults`). A missing tool is installed with apt-get where that is possible (Debian/Ubuntu,
// as root); elsewhere (and always with --check, which installs nothing) the script names the
// install command and exits 1, so the README's commands either work on a fresh machine or say
// exactly what is missing. Everything it prints goes to stderr, so `npm run bench -- --json`
// still prints only JSON.
//
// Known tools: nats-server (found as the framework finds it, NATS_SERVER_BIN included),
// redis-server (the http-session benchmark's baseline), openssl (the TLS tests make their
// certificates with it). Other programs are looked for as the framework looks for nats-server.
import { spawnSync } from "node:child_process";
import { findNatsServer, findProgram } from "../framework/dist/harness/findNatsServer.js";

/** What each tool is for, its apt package, and the command to install it elsewhere. */
const TOOLS = {
  "nats-server": { why: "the NATS servers of tests, benchmarks and `npm start`", apt: "nats-server", elsewhere: "https://docs.nats.io/running-a-nats-service/introduction/installation, or set NATS_SERVER_BIN" },
  "redis-server": { why: "the Redis baseline of the http-session benchmark", apt: "redis-server", elsewhere: "brew install redis (macOS)" },
  openssl: { why: "the certificates of the TLS tests", apt: "openssl", elsewhere: "brew install openssl (macOS)" },
};

/** The path of `tool`, or undefined when it is not installed. */
function find(tool) {
  if (tool === "nats-server") {
    try {
      return findNatsServer();
    } catch {
      return undefined;
    }
  }
  return findProgram(tool).path;
}

function canUseApt() {
  return process.platform === "linux" && process.getuid?.() === 0 && find("apt-get") !== undefined;
}

function apt(args) {
  return spawnSync("apt-get", args, { stdio: ["ignore", 2, 2], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } }).status === 0;
}

const args = process.argv.slice(2);
const checkOnly = args.includes("--check");
const wanted = args.filter((arg) => arg !== "--check");
const unknown = wanted.filter((tool) => !(tool in TOOLS));
if (unknown.length > 0) {
  console.error(`ensure-tools: unknown tool ${unknown.join(", ")}; known: ${Object.keys(TOOLS).join(", ")}`);
  process.exit(2);
}
const missing = wanted.filter((tool) => find(tool) === undefined);
if (missing.length === 0) process.exit(0);

const packages = missing.map((tool) => TOOLS[tool].apt);
if (checkOnly || !canUseApt()) {
  console.error(`This needs ${missing.join(" and ")}, which ${missing.length === 1 ? "is" : "are"} not installed:`);
  for (const tool of missing) console.error(`  - ${tool}: ${TOOLS[tool].why}; install it with: apt-get install -y ${TOOLS[tool].apt} (Debian/Ubuntu), or ${TOOLS[tool].elsewhere}`);
  if (!checkOnly && process.platform === "linux" && find("apt-get") !== undefined) console.error("(npm test and npm start install it themselves when they run as root.)");
  process.exit(1);
}
console.error(`ensure-tools: installing ${packages.join(" ")} with apt-get (needed for ${missing.map((t) => TOOLS[t].why).join("; ")})`);
// The package lists of a fresh image may be empty: install, and on failure update them and try again.
if (!apt(["install", "-y", "-qq", ...packages]) && !(apt(["update", "-qq"]) && apt(["install", "-y", "-qq", ...packages]))) {
  console.error(`ensure-tools: apt-get could not install ${packages.join(" ")}; install ${missing.length === 1 ? "it" : "them"} by hand and run this again`);
  process.exit(1);
}
const stillMissing = missing.filter((tool) => find(tool) === undefined);
if (stillMissing.length > 0) {
  console.error(`ensure-tools: apt-get finished, yet ${stillMissing.join(", ")} cannot be found in ${findProgram(stillMissing[0]).searched.join(", ")}`);
  process.exit(1);
}
for (const tool of missing) console.error(`ensure-tools: ${tool} is at ${find(tool)}`);
