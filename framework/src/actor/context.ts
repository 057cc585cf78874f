import type { Logger } from "pino";
import { ConfigError, TurnEndedError } from "../errors.js";
import { toMillis, type Duration } from "../time/duration.js";
import type { Activation } from "./Activation.js";
import type { ActorContext, ActorRef, AnyActorDefinition, DeepReadonly, QueryContext, Schedule, TimerInfo } from "./types.js";

/**
 * The objects handlers and queries receive. A context is valid for one turn only: using it
 * after the turn ended (from a stray callback) throws `TurnEndedError` instead of changing
 * state outside a transaction.
 */

class BaseContext {
  /** Cleared by the runtime when the turn ends. */
  open = true;

  constructor(protected readonly act: Activation) {}

  check(): void {
    if (!this.open) throw new TurnEndedError(this.act.type.name, this.act.id);
  }

  get actorType(): string {
    return this.act.type.name;
  }

  get id(): string {
    return this.act.id;
  }

  get deps(): never {
    this.check();
    return this.act.deps as never;
  }

  now(): Date {
    return new Date(this.act.host.clock.now());
  }

  get log(): Logger {
    return this.act.host.log.child({ actor: this.act.type.name, id: this.act.id });
  }

  ref<A extends AnyActorDefinition>(def: A, id: string): ActorRef<A> {
    this.check();
    return this.act.host.refs.ref(def, id, this.act);
  }
}

/** The context of a writing turn. */
export class WriteContext extends BaseContext implements ActorContext<unknown, never> {
  get state(): unknown {
    this.check();
    return this.act.live;
  }

  set state(value: unknown) {
    this.check();
    this.act.live = value;
  }

  get schedule(): Schedule {
    this.check();
    return new TurnSchedule(this.act, this);
  }

  destroy(): void {
    this.check();
    this.act.destroyRequested = true;
  }

  publish(update: unknown): void {
    this.check();
    this.act.addUpdate(update);
  }
}

/** The context of a query: the same, minus anything that changes the actor. */
export class ReadContext extends BaseContext implements QueryContext<unknown, never> {
  get state(): DeepReadonly<unknown> {
    this.check();
    return this.act.live;
  }
}

class TurnSchedule implements Schedule {
  constructor(
    private readonly act: Activation,
    private readonly ctx: BaseContext,
  ) {}

  after(delay: Duration, handler: string, ...args: unknown[]): string {
    return this.at(this.act.host.clock.now() + toMillis(delay, "schedule.after delay"), handler, ...args);
  }

  at(when: Date | number, handler: string, ...args: unknown[]): string {
    this.ctx.check();
    const due = typeof when === "number" ? when : when.getTime();
    if (!Number.isFinite(due)) throw new ConfigError(`schedule.at needs a valid date or timestamp; got ${String(when)}`);
    return this.act.addTimer(due, handler, args);
  }

  cancel(timerId: string): boolean {
    this.ctx.check();
    return this.act.cancelTimer(timerId);
  }

  list(): readonly TimerInfo[] {
    this.ctx.check();
    return this.act.pendingTimers();
  }
}
