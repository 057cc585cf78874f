import type { AnyActorDefinition } from "berth";
import { Counter } from "./counter.js";

/** What `berth dev` and `berth node` load (package.json "berth.app"): the actor types every worker hosts. */
export const actors: AnyActorDefinition[] = [Counter];
