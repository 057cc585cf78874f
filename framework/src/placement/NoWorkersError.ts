import { BerthError } from "../errors.js";

/**
 * A partition's owner was asked for while the cluster view has no worker nodes.
 * @example
 * ```ts
 * try { table.ownerOf(7); }
 * catch (e) { if (e instanceof NoWorkersError) console.log(e.epoch); }
 * ```
 */
export class NoWorkersError extends BerthError {
  static readonly code = "no-workers";
  constructor(readonly partition: number, readonly epoch: number) {
    super(
      NoWorkersError.code,
      `no worker is up: the cluster view at epoch ${epoch} has no members, so partition ${partition} ` +
        `has no owner; start a worker node and retry`,
    );
    this.name = "NoWorkersError";
  }
}
