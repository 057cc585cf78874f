import type { AnyActorDefinition } from "berth";
import { Cart } from "./cart.js";

/** The app as `berth node` and `berth dev` load it: the actor types every worker hosts. */
export const actors: AnyActorDefinition[] = [Cart];

export { Cart } from "./cart.js";
