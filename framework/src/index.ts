/**
 * Berth's public API. Everything a user imports comes from here (or `berth/testing`).
 * See docs/ for the guides.
 */
export { defineActor } from "./actor/defineActor.js";
export type {
  ActorContext,
  ActorDefinition,
  ActorRef,
  ActorSpec,
  AnyActorDefinition,
  DeepReadonly,
  Handler,
  Query,
  QueryContext,
  RefFactory,
  Schedule,
  StateOf,
  TimerInfo,
} from "./actor/types.js";
export { token, type Token, type ClassToken, type DepsSpec, type ResolvedDeps } from "./actor/deps.js";
export { ActorIdentity, type ActorIdentityValue } from "./actor/identity.js";
export { refTarget } from "./actor/refs.js";
export { registerClass } from "./state/serializer.js";
export { none, type BackupPolicy } from "./replication/policy.js";
export { BerthNode, SelfCallError, DEFAULT_PARTITIONS, type NodeOptions, type NodeStats } from "./node/BerthNode.js";
export { createNode } from "./node/createNode.js";
export { partitionOf } from "./placement/partition.js";
export { systemClock, type Clock, type TimerHandle } from "./time/clock.js";
export { toMillis, type Duration } from "./time/duration.js";
export {
  ActivationError,
  ActorHandlerError,
  ArityError,
  BerthError,
  ConfigError,
  DeadlineExceededError,
  MalformedMessageError,
  MissingDependencyError,
  NodeStoppedError,
  NotOwnerError,
  NotSerializableError,
  PayloadTooLargeError,
  QueryMutationError,
  TurnEndedError,
  UnknownActorTypeError,
  UnknownHandlerError,
} from "./errors.js";
