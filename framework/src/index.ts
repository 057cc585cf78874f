/**
 * Berth's public API. Everything a user imports comes from here (or `berth/testing`).
 * See docs/ for the guides.
 */
// tsyringe needs the Reflect polyfill before it loads; importing Berth first guarantees it.
import "reflect-metadata";
export { defineActor, updates } from "./actor/defineActor.js";
export { defineMachineActor, type MachineActorOptions, type MachineHandlers, type MachineQueries, type MachineView } from "./actor/defineMachineActor.js";
export type {
  ActorContext,
  ActorDefinition,
  ActorRef,
  ActorSpec,
  ActorUpdate,
  AnyActorDefinition,
  DeepReadonly,
  Handler,
  Query,
  QueryContext,
  ReadFrom,
  RefFactory,
  Schedule,
  StateOf,
  TimerInfo,
  UpdateOf,
  UpdatesSpec,
  Watch,
} from "./actor/types.js";
export { token, type Token, type ClassToken, type DepsSpec, type ResolvedDeps } from "./actor/deps.js";
export { ActorIdentity, type ActorIdentityValue } from "./actor/identity.js";
/** tsyringe's decorators and types, re-exported so they load after the Reflect polyfill. */
export { inject, injectable, Lifecycle, type DependencyContainer } from "tsyringe";
export { callByName, refTarget } from "./actor/refs.js";
export { keepRunningOnStrayErrors } from "./node/strayErrors.js";
export { registerClass } from "./state/serializer.js";
export { none, async, sync, type BackupPolicy, type ReplicationPlan, type TurnInfo } from "./replication/policy.js";
export { BerthNode, DEFAULT_PARTITIONS, type NodeOptions, type NodeStats } from "./node/BerthNode.js";
export { createNode } from "./node/createNode.js";
export { ClusterNode, type ClusterNodeOptions, type ClusterStats } from "./node/ClusterNode.js";
export type { BackupReadStats } from "./replication/BackupReader.js";
export type { NatsOptions } from "./transport/nats/connectNats.js";
export { resolveNatsUrls } from "./cli/natsUrls.js";
export type { MembershipTiming } from "./membership/Membership.js";
export type { Role, View, Member, NodeRecord } from "./membership/types.js";
export { partitionOf } from "./placement/partition.js";
export { systemClock, type Clock, type TimerHandle } from "./time/clock.js";
export { toMillis, type Duration } from "./time/duration.js";
export {
  ActivationError,
  ActorHandlerError,
  ArityError,
  BerthError,
  CallOutcomeUnknownError,
  ConfigError,
  DeadlineExceededError,
  ReplyLostError,
  MalformedMessageError,
  MissingDependencyError,
  NodeStoppedError,
  NotOwnerError,
  NotSerializableError,
  PayloadTooLargeError,
  QueryMutationError,
  SelfCallError,
  InvalidEventError,
  EventNotAcceptedError,
  MachineError,
  NodeUnreachableError,
  ReplicationError,
  TurnEndedError,
  UnknownActorTypeError,
  UnknownHandlerError,
  type MachineStateValue,
} from "./errors.js";
