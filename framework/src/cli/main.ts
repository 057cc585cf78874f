import { Command } from "commander";
import { readFileSync } from "node:fs";
import { commands } from "./commands.js";

/**
 * `berth` — create, run and inspect Berth apps. Each command lives in its own file and
 * registers itself in commands.ts; this file only builds the program and reports errors.
 */
const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

const program = new Command("berth")
  .description("Stateful clustered applications in TypeScript: session actors on NATS.")
  .version(pkg.version)
  .showHelpAfterError("(run berth --help for usage)");
for (const register of commands) register(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  console.error(`berth: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
