import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, isAbsolute, join, relative, resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import type { Readable, Writable } from "node:stream";
import type { Command } from "commander";
import { ConfigError } from "../errors.js";
import { copyTemplate, FRAMEWORK_DIR, isSourceCheckout, listTemplates, type TemplateInfo } from "./templates.js";

/** The template `berth new` uses when asked to choose for you (`--yes`, or Enter at the prompt). */
export const DEFAULT_TEMPLATE = "session-cart";

interface NewOptions {
  template?: string;
  yes?: boolean;
  force?: boolean;
  name?: string;
  berth?: string;
}

/** `berth new <dir>`: a new app from one of the templates, ready for `npm install && npm start`. */
export function registerNew(program: Command): void {
  program
    .command("new")
    .description("create an app from a template: a complete project with tests, `npm start` and `npm test`")
    .argument("<dir>", "the folder to create (it must be empty or not exist)")
    .option("-t, --template <name>", "the template to copy (run without it in a terminal to choose)")
    .option("-y, --yes", `use the default template (${DEFAULT_TEMPLATE}) when --template is not given, without asking`)
    .option("--force", "write into a folder that is not empty (files with the same names are overwritten)")
    .option("--name <pkg>", "the package name (default: the folder's name)")
    .option("--berth <spec>", "the berth dependency to write, e.g. ^0.1.0 or file:../berth/framework (default: this berth)")
    .action((dir: string, opts: NewOptions) => runNew(dir, opts));
}

async function runNew(dir: string, opts: NewOptions): Promise<void> {
  const templates = listTemplates();
  const target = resolve(dir);
  // Check everything that can be wrong before asking anything.
  const name = opts.name ?? basename(target);
  const nameProblem = packageNameProblem(name);
  if (nameProblem !== null) {
    const hint = opts.name === undefined ? `the folder's name "${name}" is not a valid npm package name (${nameProblem}); pass --name <pkg>, e.g. --name ${suggestName(name)}` : `--name "${name}" is not a valid npm package name (${nameProblem})`;
    throw new ConfigError(hint);
  }
  if (existsSync(target)) {
    if (!statSync(target).isDirectory()) throw new ConfigError(`${target} exists and is not a folder; choose another <dir>`);
    if (readdirSync(target).length > 0 && opts.force !== true) {
      throw new ConfigError(`${target} is not empty; choose a new folder, or pass --force to write into it (files with the same names are overwritten)`);
    }
  }
  const template = await chooseTemplate(templates, opts);
  const spec = opts.berth ?? defaultBerthSpec();

  const written = copyTemplate(template.dir, target);
  const pkgFile = join(target, "package.json");
  const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as { name?: string; dependencies?: Record<string, string> };
  pkg.name = name;
  pkg.dependencies = { ...pkg.dependencies, berth: spec };
  writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);

  const shown = isAbsolute(dir) ? target : relative(process.cwd(), target);
  say(`created ${shown === "" ? "." : shown} from the ${template.name} template (package "${name}", berth ${spec}):`);
  for (const file of written) say(`  ${file}`);
  say("");
  say("next:");
  say(`  ${shown === "" ? "" : `cd ${shellQuote(shown)} && `}npm install && npm start`);
  say("  npm test");
}

/** The template named by `--template`, the default with `--yes`, or the user's choice on a terminal. */
async function chooseTemplate(templates: readonly TemplateInfo[], opts: NewOptions): Promise<TemplateInfo> {
  const known = templates.map((t) => t.name).join(", ");
  if (opts.template !== undefined) {
    const found = templates.find((t) => t.name === opts.template);
    if (found === undefined) throw new ConfigError(`unknown template "${opts.template}"; the templates are: ${known}`);
    return found;
  }
  const byDefault = templates.find((t) => t.name === DEFAULT_TEMPLATE) ?? (templates[0] as TemplateInfo);
  if (opts.yes === true) return byDefault;
  if (process.stdin.isTTY !== true || process.stdout.isTTY !== true) {
    throw new ConfigError(`no template chosen and no terminal to ask on: pass --template <name> (${known}), or --yes for the default (${byDefault.name})`);
  }
  const chosen = await askTemplate(templates, byDefault.name, { input: process.stdin, output: process.stdout });
  return templates.find((t) => t.name === chosen) as TemplateInfo;
}

/**
 * Asks which template to use: the list with one line each, answered by number or name;
 * Enter takes the default. Asks again (up to three times) on an answer it does not know.
 */
export async function askTemplate(templates: readonly TemplateInfo[], byDefault: string, io: { input: Readable; output: Writable }): Promise<string> {
  const rl = createInterface({ input: io.input, output: io.output });
  try {
    const width = Math.max(...templates.map((t) => t.name.length));
    io.output.write("Which template?\n");
    templates.forEach((t, i) => io.output.write(`  ${i + 1}) ${t.name.padEnd(width)}  ${t.description}${t.name === byDefault ? " (default)" : ""}\n`));
    for (let attempt = 0; attempt < 3; attempt++) {
      const answer = (await rl.question(`template [${byDefault}]: `)).trim();
      if (answer === "") return byDefault;
      const byNumber = /^\d+$/.test(answer) ? templates[Number(answer) - 1] : undefined;
      const found = byNumber ?? templates.find((t) => t.name === answer);
      if (found !== undefined) return found.name;
      io.output.write(`no template "${answer}"; answer 1 to ${templates.length} or a name\n`);
    }
    throw new ConfigError(`no template chosen; pass --template <name> (${templates.map((t) => t.name).join(", ")})`);
  } finally {
    rl.close();
  }
}

/**
 * The `berth` dependency a new app gets: this framework folder by path when it runs from a
 * source checkout (the framework is not published yet, or you are working on it), else the
 * published version it was installed as.
 */
export function defaultBerthSpec(frameworkDir: string = FRAMEWORK_DIR): string {
  if (isSourceCheckout(frameworkDir)) return `file:${resolve(frameworkDir)}`;
  const pkg = JSON.parse(readFileSync(join(frameworkDir, "package.json"), "utf8")) as { version: string };
  return `^${pkg.version}`;
}

/** Why `name` is not a valid npm package name, or null if it is one (npm's rules for new packages). */
export function packageNameProblem(name: string): string | null {
  if (name.length === 0) return "it is empty";
  if (name.length > 214) return "at most 214 characters";
  if (name !== name.toLowerCase()) return "lowercase only";
  if (name.trim() !== name) return "no leading or trailing spaces";
  const m = /^(?:@([^/]+)\/)?([^/]+)$/.exec(name);
  if (m === null) return "a name, or @scope/name";
  for (const part of [m[1], m[2]]) {
    if (part === undefined) continue;
    if (part.startsWith(".") || part.startsWith("_")) return "it cannot start with . or _";
    if (!/^[a-z0-9][a-z0-9._~-]*$/.test(part)) return "letters, digits, - . _ ~ only";
  }
  if (m[1] === undefined && (m[2] === "node_modules" || m[2] === "favicon.ico")) return "that name is reserved";
  return null;
}

/** A valid package name close to `name`, for the error's example. */
function suggestName(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9._~-]+/g, "-").replace(/^[._-]+|-+$/g, "");
  return s === "" ? "my-app" : s;
}

function shellQuote(path: string): string {
  return /^[\w./~-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}
