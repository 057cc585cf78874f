import type { Command } from "commander";

/** Every CLI command, as a function that adds it to the program. */
export const commands: ReadonlyArray<(program: Command) => void> = [];
