import type { AnyActorDefinition } from "berth";
import { Checkout } from "./checkout.js";

/** What `berth dev` and `berth node` load (package.json "berth.app"): the actor types every worker hosts… */
export const actors: AnyActorDefinition[] = [Checkout];

/** …and the HTTP routes every worker serves. */
export { http } from "./http.js";
