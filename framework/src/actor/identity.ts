import { token } from "./deps.js";

/** Which actor an activation's child container serves: inject it into per-actor services. */
export interface ActorIdentityValue {
  readonly type: string;
  readonly id: string;
}

/**
 * Token registered in every activation's child container.
 * @example
 * ```ts
 * class AuditLog { constructor(@inject(ActorIdentity) readonly who: ActorIdentityValue) {} }
 * ```
 */
export const ActorIdentity = token<ActorIdentityValue>("berth.actorIdentity");
