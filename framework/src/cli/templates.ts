import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../errors.js";

/** The framework package's folder (the one holding package.json, bin/ and dist/). */
export const FRAMEWORK_DIR = fileURLToPath(new URL("../../", import.meta.url));

/** A template `berth new` can copy. */
export interface TemplateInfo {
  readonly name: string;
  /** One line, from the template's package.json `description`. */
  readonly description: string;
  readonly dir: string;
}

/**
 * Template files stored under another name, because npm would drop or misread the real one
 * when the framework is packed (npm never publishes a `.gitignore`).
 */
const STORED_AS: Readonly<Record<string, string>> = { _gitignore: ".gitignore" };

/** What is never copied from a template folder: build output and installs left by working on it in place. */
const SKIPPED = new Set(["node_modules", "dist", ".berth", "package-lock.json"]);

/** Whether the framework runs from a source checkout of the repository (not from an npm install). */
export function isSourceCheckout(frameworkDir: string = FRAMEWORK_DIR): boolean {
  return !resolve(frameworkDir).split(sep).includes("node_modules");
}

/**
 * Where the templates are. In a source checkout: `templates/` at the repository's top,
 * beside `framework/`. In the published package: `templates/` inside it, copied there by the
 * framework's `prepack` script (`framework/scripts/prepack.mjs`).
 */
export function templatesDir(frameworkDir: string = FRAMEWORK_DIR): string {
  const candidates = isSourceCheckout(frameworkDir) ? [resolve(frameworkDir, "../templates"), resolve(frameworkDir, "templates")] : [resolve(frameworkDir, "templates")];
  const found = candidates.find((dir) => existsSync(dir) && statSync(dir).isDirectory());
  if (found === undefined) throw new ConfigError(`no templates found (looked in ${candidates.join(", ")}); reinstall berth, or run it from a checkout of its repository`);
  return found;
}

/** The templates in `dir`, by name: every folder holding a package.json. */
export function listTemplates(dir: string = templatesDir()): TemplateInfo[] {
  const out: TemplateInfo[] = [];
  for (const name of readdirSync(dir).sort()) {
    const pkgFile = join(dir, name, "package.json");
    if (!existsSync(pkgFile)) continue;
    const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as { description?: unknown };
    out.push({ name, description: typeof pkg.description === "string" ? pkg.description : "", dir: join(dir, name) });
  }
  return out;
}

/**
 * Copies a template's files into `target` (created if missing), restoring names stored under
 * another name (`_gitignore` → `.gitignore`). Returns the written paths, relative to `target`.
 */
export function copyTemplate(from: string, target: string): string[] {
  return copyTree(from, target, true).sort();
}

/**
 * Copies every template, and the folder's README, into `into` (the framework's `templates/`
 * when it is packed), so the published package carries them. Stored names are kept: that copy
 * is what npm packs. Used by `framework/scripts/prepack.mjs`.
 */
export function bundleTemplates(from: string, into: string): string[] {
  const templates = listTemplates(from);
  for (const t of templates) copyTree(t.dir, join(into, t.name), false);
  const readme = join(from, "README.md");
  if (existsSync(readme)) copyFileSync(readme, join(into, "README.md"));
  return templates.map((t) => t.name);
}

function copyTree(from: string, to: string, restoreNames: boolean, base = to): string[] {
  const written: string[] = [];
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (SKIPPED.has(entry.name)) continue;
    const src = join(from, entry.name);
    if (entry.isDirectory()) {
      written.push(...copyTree(src, join(to, entry.name), restoreNames, base));
    } else if (entry.isFile()) {
      const dest = join(to, (restoreNames ? STORED_AS[entry.name] : undefined) ?? entry.name);
      copyFileSync(src, dest);
      written.push(relative(base, dest).split(sep).join("/"));
    }
  }
  return written;
}
