import type { AnyActorDefinition } from "berth";
import { Cart } from "./cart.js";

/** The app as `berth node` and `berth dev` load it: the actor types every worker hosts… */
export const actors: AnyActorDefinition[] = [Cart];

/** …and the HTTP routes every worker serves (`berth node --http`). */
export { http } from "./http.js";

export { Cart } from "./cart.js";
