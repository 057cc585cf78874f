import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { DependencyContainer } from "tsyringe";
import { actorType } from "../actor/defineActor.js";
import type { AnyActorDefinition } from "../actor/types.js";
import { ConfigError } from "../errors.js";

/** What an app module exports for `berth node` and `berth dev`. */
export interface BerthApp {
  /** The actor types every worker hosts. */
  readonly actors: readonly AnyActorDefinition[];
  /** Registers the app's services in each node's container. */
  readonly providers?: (container: DependencyContainer) => void;
}

/** The app module's file: `berth.app` in the app's package.json, else `main`, else dist/app.js or src/app.ts. */
export function appEntry(dir: string): string {
  const root = resolve(dir);
  const pkgFile = resolve(root, "package.json");
  const candidates: string[] = [];
  if (existsSync(pkgFile)) {
    const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as { main?: unknown; berth?: { app?: unknown } };
    if (typeof pkg.berth?.app === "string") candidates.push(pkg.berth.app);
    if (typeof pkg.main === "string") candidates.push(pkg.main);
  }
  candidates.push("dist/app.js", "src/app.ts", "app.ts", "app.js");
  for (const c of candidates) {
    const file = resolve(root, c);
    if (existsSync(file)) return file;
  }
  throw new ConfigError(
    `no app module in ${root}: looked for ${candidates.join(", ")}. ` +
      `Point "berth": { "app": "./dist/app.js" } in its package.json at a module exporting \`actors\` (run its build first).`,
  );
}

/** Loads an app (TypeScript entries run through tsx) and checks what it exports. */
export async function loadApp(dir: string): Promise<BerthApp> {
  const file = appEntry(dir);
  if (/\.[mc]?ts$/.test(file)) {
    const { register } = await import("tsx/esm/api");
    register();
  }
  const mod = (await import(pathToFileURL(file).href)) as Partial<BerthApp> & { default?: Partial<BerthApp> };
  const app = mod.actors !== undefined ? mod : (mod.default ?? {});
  if (!Array.isArray(app.actors) || app.actors.length === 0) {
    throw new ConfigError(`${file} must export \`actors\`: the actor definitions the app's workers host (export const actors = [Cart])`);
  }
  for (const def of app.actors) actorType(def); // throws a clear error for anything else
  if (app.providers !== undefined && typeof app.providers !== "function") throw new ConfigError(`${file}: \`providers\` must be a function (container) => void`);
  return { actors: app.actors, ...(app.providers ? { providers: app.providers } : {}) };
}
