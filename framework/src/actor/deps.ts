import type { DependencyContainer, InjectionToken } from "tsyringe";
import { MissingDependencyError } from "../errors.js";

/**
 * Dependency injection with explicit tokens. Berth never relies on emitted decorator
 * metadata (esbuild and tsx do not emit it), so every dependency is named by a token:
 * a class, or a typed token made with `token<T>()`.
 */

/** A typed injection token. At run time it is a symbol; its type parameter is the service type. */
export type Token<T> = symbol & { readonly __service?: T };

/**
 * Creates a typed token for a service that is not a class (an interface, a config object).
 * @param description shown in error messages, e.g. `"prices"`
 * @example
 * ```ts
 * interface Prices { total(items: Map<string, number>): number }
 * export const PricesToken = token<Prices>("prices");
 * const node = createNode({ actors: [Cart], providers: (c) => c.register(PricesToken, { useValue: myPrices }) });
 * ```
 */
export function token<T>(description: string): Token<T> {
  return Symbol(description) as Token<T>;
}

/** A class usable as its own token (resolved by `new`, with constructor injection via `@inject`). */
export type ClassToken<T> = abstract new (...args: never[]) => T;

/** The `deps` of an actor: a record of tokens. */
export type DepsSpec = Record<string, Token<unknown> | ClassToken<unknown>>;

/** The services a `deps` record resolves to. */
export type ResolvedDeps<D> = {
  readonly [K in keyof D]: D[K] extends Token<infer T> ? T : D[K] extends ClassToken<infer I> ? I : never;
};

/** Resolves every dependency of `spec` from `container`, naming the missing one on failure. */
export function resolveDeps<D extends DepsSpec>(actorType: string, spec: D, container: DependencyContainer): ResolvedDeps<D> {
  const out: Record<string, unknown> = {};
  for (const [name, tok] of Object.entries(spec)) {
    try {
      out[name] = container.resolve(tok as InjectionToken<unknown>);
    } catch (cause) {
      throw new MissingDependencyError(actorType, `${name} (${describeToken(tok)})`, { cause });
    }
  }
  return out as ResolvedDeps<D>;
}

function describeToken(tok: unknown): string {
  if (typeof tok === "symbol") return tok.description ?? "symbol";
  if (typeof tok === "function") return tok.name || "anonymous class";
  return String(tok);
}
