import type { Command } from "commander";
import { registerDev } from "./devCommand.js";
import { registerNew } from "./newCommand.js";
import { registerNode } from "./nodeCommand.js";
import { registerStatus } from "./statusCommand.js";

/** Every CLI command, as a function that adds it to the program. */
export const commands: ReadonlyArray<(program: Command) => void> = [registerNew, registerDev, registerNode, registerStatus];
