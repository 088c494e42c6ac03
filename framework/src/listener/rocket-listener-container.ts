/**
 * Turns registered `@RocketListener` declarations into PushConsumers.
 *
 * - One PushConsumer per consumer group: RocketMQ keeps ONE subscription set per group, so every
 *   listener of a group (any class, any topic) shares its consumer. Consumer-level options
 *   (orderly, messageModel, maxReconsumeTimes, consumeThreadMax, consumeFromWhere, ...) must agree
 *   within a group; a disagreement fails registration naming both listeners.
 * - Several listeners of one group on the same topic are allowed when their tag sets are disjoint
 *   (`TagA` here, `TagB` there): the subscription becomes `TagA || TagB` and messages are routed by
 *   tag. Overlapping tags (or `*` next to anything) fail registration.
 * - Per message: the MessageConverter turns the body into the handler's payload (per-listener
 *   `payloadType`), the handler gets `(payload, message)`, and its outcome follows the push
 *   consumer: return = consumed; throw or 'RECONSUME_LATER' = retry (concurrent) / suspend (orderly).
 *   The listener's `delayLevelWhenNextConsume` / `suspendCurrentQueueTimeMillis` seed the context.
 * - stop(): per consumer, stop pulling → drain in-flight handlers up to the bound
 *   (`awaitTerminationMillisWhenShutdown`, the largest of the group's listeners, or the override)
 *   → persist offsets (never past an unfinished message, so those are redelivered) → close.
 * - health(): per consumer: running, assigned queues, consumed/failed counts, last error.
 */
import type { MessageQueue } from '@rocketry/broker/protocol';
import pino from 'pino';
import type { Logger } from '../client/client-options';
import type { ConsumeContext } from '../client/consumer/consume-context';
import type { ConsumeStatus } from '../client/consumer/consumer-types';
import { PushConsumer, type PushConsumerOptions } from '../client/consumer/push-consumer';
import type { MessageExt } from '../client/message';
import { RocketListenerRegistrationError } from '../config/config-errors';
import { resolveRocketryConfig, type RocketryConfig } from '../config/rocketry-config';
import { DefaultMessageConverter, type MessageConverter } from '../converter/message-converter';
import type { RocketListenerExtras } from '../dedup/dedup-options';
import { DedupRunner } from '../dedup/dedup-runner';
import type { DeadLetterReason } from '../dlq/dead-letter';
import { DeadLetterSender } from '../dlq/dead-letter-sender';
import { resolveListenerOptions, type ResolvedListenerOptions } from './listener-definition';
import { exploreListeners, type DiscoveredListener } from './listener-metadata-explorer';

export interface RegisteredListener {
  /** `Class.method`. */
  readonly id: string;
  readonly className: string;
  readonly methodName: string | symbol;
  readonly instance: object;
  readonly kind: 'method' | 'class';
  readonly options: ResolvedListenerOptions;
}

export interface ListenerInvocation {
  listener: RegisteredListener;
  /** Converted body. */
  payload: unknown;
  message: MessageExt;
  context: ConsumeContext;
  /** Third handler argument: `{ trx }` under `dedup: { store: 'db' }` (write your effects with it), `{ dedupKey }` under any dedup. */
  extras: RocketListenerExtras;
}

/**
 * Calls the handler. The default calls `instance[method](payload, message)`; the NestJS starter
 * passes one that runs guards, interceptors, pipes and filters around it. The return value is the
 * handler's (a ConsumeStatus string is honoured, anything else means consumed).
 */
export type ListenerInvoker = (invocation: ListenerInvocation) => unknown;

export const defaultListenerInvoker: ListenerInvoker = ({ listener, payload, message, extras }) => {
  const fn = (listener.instance as Record<string | symbol, unknown>)[listener.methodName];
  if (typeof fn !== 'function') throw new TypeError(`${listener.id} is not a function`);
  return (fn as (p: unknown, m: MessageExt, x: RocketListenerExtras) => unknown).call(listener.instance, payload, message, extras);
};

export interface RocketListenerContainerOptions {
  /** @defaultValue resolveRocketryConfig() (environment included) */
  config?: RocketryConfig;
  /** @defaultValue DefaultMessageConverter */
  converter?: MessageConverter;
  /** @defaultValue silent */
  logger?: Logger;
  /** @defaultValue defaultListenerInvoker */
  invoker?: ListenerInvoker;
  /**
   * Dead letters carry their failure reason (`ROCKETRY_DLQ_REASON`): the container sends them through
   * `%RETRY%<group>` itself (dlq/README.md). false = RocketMQ's plain send-back (no reason on the
   * message; the hook still runs), e.g. where an ACL forbids producing to retry topics.
   * @defaultValue true
   */
  recordDeadLetterReason?: boolean;
  /** Extra PushConsumer options applied to every consumer (tuning, tests). */
  consumerOptions?: Partial<Omit<PushConsumerOptions, 'group' | 'namesrvAddr'>>;
}

export interface ConsumerHealth {
  group: string;
  topics: string[];
  listeners: string[];
  orderly: boolean;
  messageModel: string;
  running: boolean;
  assignedQueues: MessageQueue[];
  consumed: number;
  failed: number;
  /** Deliveries acknowledged by `dedup` without running the handler. */
  duplicates: number;
  /** Messages this consumer sent to `%DLQ%<group>`. */
  deadLetters: number;
  lastError: { message: string; listener: string | undefined; at: number } | undefined;
}

export interface RocketListenerHealth {
  /** 'up' when started and every consumer runs (also 'up' with no listeners). */
  status: 'up' | 'down';
  state: ContainerState;
  consumers: ConsumerHealth[];
  /** Listeners switched off by `enabled: false` or configuration. */
  disabled: string[];
}

export type ContainerState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

interface Entry {
  listener: RegisteredListener;
  invoker: ListenerInvoker;
}

interface GroupPlan {
  group: string;
  entries: Entry[];
}

interface GroupRuntime {
  group: string;
  consumer: PushConsumer;
  entries: Entry[];
  topics: string[];
  consumed: number;
  failed: number;
  duplicates: number;
  deadLetters: number;
  lastError: ConsumerHealth['lastError'];
  deadLetterSender: DeadLetterSender;
}

/** Options that configure the shared consumer and so must agree within a group. */
const GROUP_LEVEL: (keyof ResolvedListenerOptions)[] = [
  'orderly',
  'messageModel',
  'maxReconsumeTimes',
  'consumeThreadMax',
  'consumeFromWhere',
  'consumeTimestamp',
  'pullBatchSize',
  'instanceName',
  'nameServer',
];

const STATUSES: readonly string[] = ['CONSUME_SUCCESS', 'RECONSUME_LATER', 'SUSPEND_CURRENT_QUEUE_A_MOMENT'];

function tagsOverlap(a: ReadonlySet<string> | '*', b: ReadonlySet<string> | '*'): boolean {
  if (a === '*' || b === '*') return true;
  for (const t of a) if (b.has(t)) return true;
  return false;
}

export class RocketListenerContainer {
  readonly config: RocketryConfig;
  readonly converter: MessageConverter;
  private readonly logger: Logger;
  private readonly invoker: ListenerInvoker;
  private readonly consumerOptions: RocketListenerContainerOptions['consumerOptions'];
  private readonly plans = new Map<string, GroupPlan>();
  private readonly disabled: RegisteredListener[] = [];
  private runtimes: GroupRuntime[] = [];
  private state: ContainerState = 'created';
  private dedup: DedupRunner | undefined;
  private readonly recordDeadLetterReason: boolean;

  constructor(options: RocketListenerContainerOptions = {}) {
    this.config = options.config ?? resolveRocketryConfig();
    this.converter = options.converter ?? new DefaultMessageConverter();
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.invoker = options.invoker ?? defaultListenerInvoker;
    this.consumerOptions = options.consumerOptions;
    this.recordDeadLetterReason = options.recordDeadLetterReason ?? true;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  get currentState(): ContainerState {
    return this.state;
  }

  /** Validates one discovered listener and adds it to its group; throws RocketListenerRegistrationError. */
  register(discovered: DiscoveredListener, invoker?: ListenerInvoker): RegisteredListener {
    if (this.state === 'starting' || this.state === 'running' || this.state === 'stopping') {
      throw new RocketListenerRegistrationError(discovered.id, undefined, 'register listeners before the container starts');
    }
    const fn = (discovered.instance as Record<string | symbol, unknown>)[discovered.methodName];
    if (typeof fn !== 'function') {
      const reason =
        discovered.kind === 'class'
          ? `class-level @RocketListener needs an onMessage(payload, message) method on ${discovered.className}`
          : `${String(discovered.methodName)} is not a method`;
      throw new RocketListenerRegistrationError(discovered.id, undefined, reason);
    }
    const options = resolveListenerOptions(discovered.options, discovered.id, this.config);
    const listener: RegisteredListener = {
      id: discovered.id,
      className: discovered.className,
      methodName: discovered.methodName,
      instance: discovered.instance,
      kind: discovered.kind,
      options,
    };
    if (typeof options.onDeadLetter === 'string' && typeof (discovered.instance as Record<string, unknown>)[options.onDeadLetter] !== 'function') {
      throw new RocketListenerRegistrationError(listener.id, 'onDeadLetter', `${discovered.className} has no method ${options.onDeadLetter}`);
    }
    if (!options.enabled) {
      this.disabled.push(listener);
      return listener;
    }
    if (!options.nameServer) {
      throw new RocketListenerRegistrationError(listener.id, 'nameServer', 'no name server: set rocketmq.name-server (options.nameServer / ROCKETMQ_NAME_SERVER) or the listener nameServer option');
    }
    const plan = this.plans.get(options.group) ?? { group: options.group, entries: [] };
    for (const other of plan.entries) this.checkCompatible(other.listener, listener);
    plan.entries.push({ listener, invoker: invoker ?? this.invoker });
    this.plans.set(options.group, plan);
    return listener;
  }

  /** Registers every `@RocketListener` the instance declares. */
  registerInstance(instance: object, invoker?: ListenerInvoker): RegisteredListener[] {
    return exploreListeners(instance).map((d) => this.register(d, invoker));
  }

  private checkCompatible(a: RegisteredListener, b: RegisteredListener): void {
    const group = b.options.group;
    for (const key of GROUP_LEVEL) {
      const va = a.options[key];
      const vb = b.options[key];
      if (va !== vb) {
        throw new RocketListenerRegistrationError(
          b.id,
          key,
          `${String(vb)} conflicts with ${String(va)} of ${a.id} in the same group ${group}; listeners of one group share one consumer, so use the same ${key} or another group`,
        );
      }
    }
    if (a.options.topic === b.options.topic && tagsOverlap(a.options.tags, b.options.tags)) {
      throw new RocketListenerRegistrationError(
        b.id,
        'selector',
        `${JSON.stringify(b.options.selector)} overlaps ${JSON.stringify(a.options.selector)} of ${a.id} on topic ${b.options.topic} in group ${group}; one group has one subscription per topic, so listeners sharing a topic need disjoint tags (or use another group)`,
      );
    }
  }

  /** Every registered listener (enabled ones first). */
  listeners(): RegisteredListener[] {
    return [...[...this.plans.values()].flatMap((p) => p.entries.map((e) => e.listener)), ...this.disabled];
  }

  /** The running consumers by group. */
  consumers(): ReadonlyMap<string, PushConsumer> {
    return new Map(this.runtimes.map((r) => [r.group, r.consumer]));
  }

  /** Creates and starts one PushConsumer per group. On failure, stops those already started and rethrows. */
  async start(): Promise<void> {
    if (this.state === 'running' || this.state === 'starting') return;
    if (this.state === 'stopping') throw new RocketListenerRegistrationError('container', undefined, 'cannot start while stopping');
    this.state = 'starting';
    this.dedup = new DedupRunner(this.logger);
    const runtimes = [...this.plans.values()].map((plan) => this.createRuntime(plan));
    this.runtimes = runtimes;
    for (const l of this.disabled) this.logger.info({ listener: l.id, group: l.options.group, topic: l.options.topic }, 'rocket listener disabled');
    const results = await Promise.allSettled(runtimes.map((r) => r.consumer.start()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.allSettled(runtimes.map((r) => r.consumer.shutdown({ awaitTerminationMs: 0 })));
      await this.closeResources(runtimes);
      this.runtimes = [];
      this.state = 'stopped';
      throw failed.reason;
    }
    this.state = 'running';
  }

  private createRuntime(plan: GroupPlan): GroupRuntime {
    const first = plan.entries[0]!.listener.options;
    const consumerOptions: PushConsumerOptions = {
      ...this.consumerOptions,
      namesrvAddr: first.nameServer!,
      group: plan.group,
      instanceName: first.instanceName,
      orderly: first.orderly,
      messageModel: first.messageModel,
      maxReconsumeTimes: first.maxReconsumeTimes,
      consumeThreadMax: first.consumeThreadMax,
      consumeFromWhere: first.consumeFromWhere,
      suspendCurrentQueueTimeMillis: first.suspendCurrentQueueTimeMillis,
      delayLevelWhenNextConsume: first.delayLevelWhenNextConsume,
      awaitTerminationMillisWhenShutdown: Math.max(...plan.entries.map((e) => e.listener.options.awaitTerminationMillisWhenShutdown)),
      pullBatchSize: first.pullBatchSize,
      logger: this.consumerOptions?.logger ?? this.logger,
    };
    if (first.consumeTimestamp !== undefined) consumerOptions.consumeTimestamp = first.consumeTimestamp;
    const consumer = new PushConsumer(consumerOptions);

    // topic → entries (several only when their tags are disjoint)
    const byTopic = new Map<string, Entry[]>();
    for (const e of plan.entries) {
      const list = byTopic.get(e.listener.options.topic) ?? [];
      list.push(e);
      byTopic.set(e.listener.options.topic, list);
    }
    for (const [topic, entries] of byTopic) {
      const all = entries.some((e) => e.listener.options.tags === '*');
      const expr = all ? '*' : [...new Set(entries.flatMap((e) => [...(e.listener.options.tags as ReadonlySet<string>)]))].join(' || ');
      consumer.subscribe(topic, expr);
    }
    // The dead-letter producer shares the consumer's client settings (same client instance), nothing consumer-specific.
    const co = this.consumerOptions ?? {};
    const deadLetterSender = new DeadLetterSender({
      namesrvAddr: first.nameServer!,
      instanceName: first.instanceName,
      logger: consumerOptions.logger,
      ...(co.clientIP !== undefined ? { clientIP: co.clientIP } : {}),
      ...(co.unitName !== undefined ? { unitName: co.unitName } : {}),
      ...(co.pollNameServerIntervalMs !== undefined ? { pollNameServerIntervalMs: co.pollNameServerIntervalMs } : {}),
      ...(co.heartbeatBrokerIntervalMs !== undefined ? { heartbeatBrokerIntervalMs: co.heartbeatBrokerIntervalMs } : {}),
      ...(co.mqClientApiTimeoutMs !== undefined ? { mqClientApiTimeoutMs: co.mqClientApiTimeoutMs } : {}),
      ...(co.connectTimeoutMs !== undefined ? { connectTimeoutMs: co.connectTimeoutMs } : {}),
    });
    const runtime: GroupRuntime = {
      group: plan.group,
      consumer,
      entries: plan.entries,
      topics: [...byTopic.keys()],
      consumed: 0,
      failed: 0,
      duplicates: 0,
      deadLetters: 0,
      lastError: undefined,
      deadLetterSender,
    };
    const route = (msg: MessageExt): Entry | undefined => {
      const candidates = byTopic.get(msg.topic);
      if (!candidates) return undefined;
      if (candidates.length === 1) return candidates[0];
      return candidates.find((e) => e.listener.options.tags === '*' || (msg.tags !== undefined && e.listener.options.tags.has(msg.tags)));
    };
    const dedup = this.dedup!;
    for (const e of plan.entries) if (e.listener.options.dedup) dedup.prepare(e.listener.options.dedup);
    // Dead letters that fell back to send-back: their hook runs once the consumer reports action 'dlq'.
    const pendingHooks = new Map<string, { listener: RegisteredListener; message: MessageExt; reason: DeadLetterReason }>();
    consumer.on('consume.failure', (ev) => {
      const pending = pendingHooks.get(ev.msgId);
      if (!pending) return;
      pendingHooks.delete(ev.msgId);
      if (ev.action === 'dlq') {
        runtime.deadLetters++;
        void this.callDeadLetterHook(pending.listener, pending.message, pending.reason);
      }
    });
    const fail = (listener: RegisteredListener, text: string) => {
      runtime.failed++;
      runtime.lastError = { message: text, listener: listener.id, at: Date.now() };
    };
    const isFailure = (result: unknown) => result === 'RECONSUME_LATER' || result === 'SUSPEND_CURRENT_QUEUE_A_MOMENT';

    /** A failure that uses up the message's reconsume times goes to the DLQ here, with its reason. */
    const deadLetterIfLast = async (listener: RegisteredListener, message: MessageExt, context: ConsumeContext, reasonText: string, error: Error | undefined): Promise<boolean> => {
      const o = listener.options;
      if (o.messageModel !== 'CLUSTERING') return false;
      const last = (!o.orderly && context.delayLevelWhenNextConsume < 0) || message.reconsumeTimes >= o.effectiveMaxReconsumeTimes;
      if (!last) return false;
      const base = { message: reasonText, listener: listener.id, group: plan.group, reconsumeTimes: message.reconsumeTimes };
      const reason: DeadLetterReason = error ? { ...base, error, path: 'reason-recorded' } : { ...base, path: 'reason-recorded' };
      // Send-back path: the push consumer moves it; the hook runs when it reports action 'dlq' (bounded map).
      const viaSendBack = () => {
        if (pendingHooks.size < 10_000) pendingHooks.set(message.msgId, { listener, message, reason: { ...reason, path: 'send-back' } });
        return false;
      };
      if (!this.recordDeadLetterReason) return viaSendBack();
      try {
        await deadLetterSender.send(message, plan.group, reasonText, listener.id);
      } catch (err) {
        this.logger.warn({ err, listener: listener.id, msgId: message.msgId }, 'dead-letter copy failed; falling back to send-back (no reason on the message)');
        return viaSendBack();
      }
      runtime.deadLetters++;
      this.logger.warn({ listener: listener.id, group: plan.group, msgId: message.msgId, reconsumeTimes: message.reconsumeTimes, reason: reasonText }, 'message sent to the DLQ');
      await this.callDeadLetterHook(listener, message, reason);
      return true;
    };

    consumer.onMessage(async (message, context) => {
      const entry = route(message);
      if (!entry) {
        // Cannot happen with the subscription above unless the topic/tag changed between deployments.
        this.logger.warn({ group: plan.group, topic: message.topic, tags: message.tags, msgId: message.msgId }, 'no listener for message; acknowledged');
        return undefined;
      }
      const { listener } = entry;
      const o = listener.options;
      context.delayLevelWhenNextConsume = o.delayLevelWhenNextConsume;
      context.suspendCurrentQueueTimeMillis = o.suspendCurrentQueueTimeMillis;
      const invoke = async (extras: RocketListenerExtras) => {
        const payload = this.converter.fromMessage(message, o.payloadType);
        return entry.invoker({ listener, payload, message, context, extras });
      };
      try {
        let result: unknown;
        if (o.dedup) {
          const outcome = await dedup.run(o.dedup, plan.group, message, invoke, isFailure);
          if (outcome.kind === 'duplicate') {
            runtime.duplicates++;
            this.logger.debug({ listener: listener.id, msgId: message.msgId, key: outcome.key }, 'duplicate acknowledged without running the handler');
            return undefined;
          }
          if (outcome.kind === 'retry-later') {
            // Never run unguarded: consume again later (PROCESSING elsewhere, or the store is down).
            if (o.dedup.retryDelayLevel > 0 || context.delayLevelWhenNextConsume < 0) context.delayLevelWhenNextConsume = o.dedup.retryDelayLevel;
            fail(listener, outcome.reason);
            this.logger.info({ listener: listener.id, msgId: message.msgId, key: outcome.key, reason: outcome.reason }, 'dedup: message retried later');
            if (await deadLetterIfLast(listener, message, context, outcome.reason, outcome.error)) return undefined;
            return 'RECONSUME_LATER';
          }
          result = outcome.result;
        } else {
          result = await invoke({});
        }
        if (typeof result === 'string' && STATUSES.includes(result)) {
          if (result !== 'CONSUME_SUCCESS') {
            fail(listener, `${listener.id} returned ${result}`);
            if (await deadLetterIfLast(listener, message, context, `returned ${result}`, undefined)) return undefined;
          } else runtime.consumed++;
          return result as ConsumeStatus;
        }
        runtime.consumed++;
        return undefined;
      } catch (err) {
        const text = err instanceof Error ? err.message : String(err);
        fail(listener, text);
        this.logger.warn({ err, listener: listener.id, msgId: message.msgId, reconsumeTimes: message.reconsumeTimes }, 'rocket listener failed');
        if (await deadLetterIfLast(listener, message, context, text || (err instanceof Error ? err.name : 'error'), err instanceof Error ? err : undefined)) return undefined;
        throw err;
      }
    });
    for (const e of plan.entries) {
      const o = e.listener.options;
      this.logger.info({ listener: e.listener.id, group: o.group, topic: o.topic, selector: o.selector, orderly: o.orderly, messageModel: o.messageModel }, 'rocket listener registered');
    }
    return runtime;
  }

  /**
   * Graceful stop of every consumer in parallel: stop pulling → drain in-flight handlers up to
   * `awaitTerminationMs` (default: each group's awaitTerminationMillisWhenShutdown) → persist
   * offsets → close. Handlers still running after the bound are not acknowledged (redelivered).
   */
  async stop(options: { awaitTerminationMs?: number } = {}): Promise<void> {
    if (this.state !== 'running' && this.state !== 'starting') return;
    this.state = 'stopping';
    const opts = options.awaitTerminationMs !== undefined ? { awaitTerminationMs: options.awaitTerminationMs } : {};
    const results = await Promise.allSettled(this.runtimes.map((r) => r.consumer.shutdown(opts)));
    for (const [i, r] of results.entries()) {
      if (r.status === 'rejected') this.logger.warn({ err: r.reason, group: this.runtimes[i]?.group }, 'consumer shutdown failed');
    }
    await this.closeResources(this.runtimes);
    this.state = 'stopped';
  }

  /** Dead-letter producers and dedup stores (after the consumers stopped, so no handler still needs them). */
  private async closeResources(runtimes: readonly GroupRuntime[]): Promise<void> {
    await Promise.allSettled(runtimes.map((r) => r.deadLetterSender.close()));
    await this.dedup?.close();
    this.dedup = undefined;
  }

  /** Runs a listener's onDeadLetter (function or method name); its errors are logged, never retried. */
  private async callDeadLetterHook(listener: RegisteredListener, message: MessageExt, reason: DeadLetterReason): Promise<void> {
    const hook = listener.options.onDeadLetter;
    if (hook === undefined) return;
    try {
      const fn = typeof hook === 'string' ? (listener.instance as Record<string, unknown>)[hook] : hook;
      if (typeof fn !== 'function') throw new TypeError(`onDeadLetter ${String(hook)} is not a function`);
      await (fn as (m: MessageExt, r: DeadLetterReason) => unknown).call(listener.instance, message, reason);
    } catch (err) {
      this.logger.warn({ err, listener: listener.id, msgId: message.msgId }, 'onDeadLetter hook failed');
    }
  }

  health(): RocketListenerHealth {
    const consumers = this.runtimes.map((r): ConsumerHealth => {
      const first = r.entries[0]!.listener.options;
      return {
        group: r.group,
        topics: [...r.topics],
        listeners: r.entries.map((e) => e.listener.id),
        orderly: first.orderly,
        messageModel: first.messageModel,
        running: r.consumer.running,
        assignedQueues: r.consumer.assignedQueues(),
        consumed: r.consumed,
        failed: r.failed,
        duplicates: r.duplicates,
        deadLetters: r.deadLetters,
        lastError: r.lastError,
      };
    });
    const up = this.state === 'running' && consumers.every((c) => c.running);
    return { status: up ? 'up' : 'down', state: this.state, consumers, disabled: this.disabled.map((l) => l.id) };
  }
}
