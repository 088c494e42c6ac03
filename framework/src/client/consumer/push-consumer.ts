/**
 * PushConsumer: RocketMQ DefaultMQPushConsumer semantics over the broker's pull API.
 *
 *   start ─► routes ─► heartbeat ─► rebalance (at start, every rebalanceIntervalMs, on NOTIFY_CONSUMER_IDS_CHANGED)
 *                                      │ per assigned queue: ProcessQueue + one pull loop
 *   pull loop: [orderly: hold the broker lock] → flow control → long-poll PULL_MESSAGE → ProcessQueue
 *                                      → concurrently / orderly consume service → committed offset
 *   offsets: persisted every persistConsumerOffsetIntervalMs (client instance task), at drop and at shutdown,
 *            and committed through the pull sysFlag (CLUSTERING).
 *
 * PULL_OFFSET_MOVED (21) is handled like Java: the queue is dropped, the broker's nextBeginOffset is
 * stored and persisted, and a rebalance shortly after re-adds the queue from that offset. (ali-ons
 * instead continues in place; dropping keeps a ProcessQueue's offsets monotone.)
 */
import {
  buildPullSysFlag,
  buildSubscriptionData,
  isRetryTopic,
  isSubAll,
  MessageConst,
  messageQueueKey,
  retryTopic,
  type ConsumerData,
  type MessageQueue,
  type SubscriptionData,
} from '@rocketry/broker/protocol';
import { MQClientError } from '../errors';
import { Instrumentation, type ClientEventListener, type ClientEventName } from '../instrumentation';
import type { MessageExt } from '../message';
import { getOrCreateClientInstance, type ConsumerHandle, type MQClientInstance } from '../mq-client-instance';
import { allocateMessageQueueAveragely, type AllocateMessageQueueStrategy } from './allocate-message-queue';
import type { MessageListener } from './consume-context';
import { ConsumeMessageConcurrentlyService } from './consume-message-concurrently.service';
import { ConsumeMessageOrderlyService } from './consume-message-orderly.service';
import { systemClock, type Clock } from './consumer-types';
import { LocalFileOffsetStore, RemoteBrokerOffsetStore, type OffsetStore } from './offset-store';
import { ProcessQueue, type FlowControlLimits } from './process-queue';
import { resolvePushConsumerOptions, type PushConsumerOptions, type ResolvedPushConsumerOptions } from './push-consumer-options';

export type { PushConsumerOptions } from './push-consumer-options';

/** Java PULL_TIME_DELAY_MILLS_WHEN_FLOW_CONTROL: re-check a flow-controlled queue after 50 ms. */
const FLOW_CONTROL_RECHECK_MS = 50;
/** Orderly: retry taking a queue's broker lock after this (Java waits 3000; a shorter wait hands queues over faster). */
const LOCK_RETRY_MS = 1_000;
/** Re-check a queue whose topic has no subscription (Java PULL_TIME_DELAY_MILLS_WHEN_SUSPEND). */
const NO_SUBSCRIPTION_RECHECK_MS = 1_000;
/** Re-add a queue dropped for PULL_OFFSET_MOVED after this. */
const OFFSET_MOVED_READD_MS = 1_000;
/** Orderly drop: longest wait for the running listener before unlocking anyway (the client lock TTL). */
const ORDERLY_DRAIN_MAX_MS = 30_000;

export interface ShutdownOptions {
  /** Longest wait for in-flight listeners; default `awaitTerminationMillisWhenShutdown`. */
  awaitTerminationMs?: number;
}

interface QueueEntry {
  mq: MessageQueue;
  pq: ProcessQueue<MessageExt>;
  /** Orderly: the start offset is read once the lock is first held (Java previouslyLocked). */
  offsetReady: boolean;
}

type State = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

export class PushConsumer {
  readonly options: ResolvedPushConsumerOptions;
  readonly instrumentation: Instrumentation;
  private readonly clientOptions: PushConsumerOptions;
  private readonly clock: Clock;
  private readonly allocate: AllocateMessageQueueStrategy;
  private readonly subscriptions = new Map<string, SubscriptionData>();
  private listener: MessageListener | undefined;
  private state: State = 'created';
  private instance: MQClientInstance | undefined;
  private offsetStore: OffsetStore | undefined;
  private concurrently: ConsumeMessageConcurrentlyService | undefined;
  private orderlyService: ConsumeMessageOrderlyService | undefined;
  /** Assigned queues by messageQueueKey. */
  private readonly table = new Map<string, QueueEntry>();
  /** Orderly queues dropped but still finishing their running listener (lock kept, renewed). */
  private readonly draining = new Map<string, QueueEntry>();
  private timers: NodeJS.Timeout[] = [];
  private rebalanceRunning: Promise<void> | undefined;
  private rebalanceAgain = false;
  private readonly sleepers = new Set<() => void>();
  private readonly flowLimits: FlowControlLimits;
  private starting: Promise<void> | undefined;

  constructor(options: PushConsumerOptions) {
    this.options = resolvePushConsumerOptions(options);
    this.clientOptions = options;
    this.clock = options.clock ?? systemClock;
    this.allocate = options.allocateMessageQueueStrategy ?? allocateMessageQueueAveragely;
    this.instrumentation = options.instrumentation ?? new Instrumentation();
    this.flowLimits = {
      maxCachedCount: this.options.pullThresholdForQueue,
      maxCachedBytes: this.options.pullThresholdSizeForQueueBytes,
      maxSpan: this.options.orderly ? undefined : this.options.consumeConcurrentlyMaxSpan,
    };
  }

  get group(): string {
    return this.options.group;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** `ip@instance` once started. */
  get clientId(): string | undefined {
    return this.instance?.clientId;
  }

  /** Queues assigned to this consumer right now. */
  assignedQueues(): MessageQueue[] {
    return [...this.table.values()].map((e) => ({ ...e.mq }));
  }

  /** Subscribes a topic with a tag expression (`'*'`, `'TagA || TagB'`). May be called again to change it. */
  subscribe(topic: string, subExpression = '*'): this {
    if (typeof topic !== 'string' || topic.length === 0) throw new MQClientError('ILLEGAL_ARGUMENT', 'topic is required');
    this.subscriptions.set(topic, buildSubscriptionData(topic, subExpression, this.clock.now()));
    if (this.state === 'running') {
      void this.instance!.updateTopicRouteFromNameServer(topic)
        .catch(() => undefined)
        .then(() => this.instance!.sendHeartbeatToAllBrokers())
        .then(() => this.triggerRebalance());
    }
    return this;
  }

  unsubscribe(topic: string): this {
    this.subscriptions.delete(topic);
    if (this.state === 'running') void this.instance!.sendHeartbeatToAllBrokers().then(() => this.triggerRebalance());
    return this;
  }

  /** Sets the listener (one per consumer). */
  onMessage(listener: MessageListener): this {
    if (typeof listener !== 'function') throw new MQClientError('ILLEGAL_ARGUMENT', 'listener must be a function');
    if (this.state !== 'created') throw new MQClientError('ILLEGAL_ARGUMENT', 'set the listener before start()');
    this.listener = listener;
    return this;
  }

  /** Subscribes to instrumentation events (pull, consume, consume.failure, rebalance). */
  on<K extends ClientEventName>(name: K, listener: ClientEventListener<K>): () => void {
    return this.instrumentation.on(name, listener);
  }

  /** Connects, registers the group, rebalances; resolves once the first rebalance assigned queues. */
  start(): Promise<void> {
    if (this.state !== 'created') return Promise.reject(new MQClientError('ILLEGAL_ARGUMENT', `consumer ${this.group} cannot start in state ${this.state}`));
    if (!this.listener) return Promise.reject(new MQClientError('ILLEGAL_ARGUMENT', 'call onMessage(listener) before start()'));
    if (this.subscriptions.size === 0) return Promise.reject(new MQClientError('ILLEGAL_ARGUMENT', 'subscribe to at least one topic before start()'));
    this.state = 'starting';
    this.starting = this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const o = this.options;
    if (o.messageModel === 'CLUSTERING') {
      const rt = retryTopic(o.group);
      if (!this.subscriptions.has(rt)) this.subscriptions.set(rt, buildSubscriptionData(rt, '*', this.clock.now()));
    }
    const instance = getOrCreateClientInstance(this.clientOptions);
    this.instance = instance;
    const logger = instance.logger;
    this.offsetStore =
      o.messageModel === 'CLUSTERING'
        ? new RemoteBrokerOffsetStore(
            {
              // setZeroIfNotFound=false: a new group starts where consumeFromWhere says, not at 0 because the
              // topic is young (the Java broker's default substitution; brokers before 5.x ignore the field).
              queryOffset: (mq) =>
                instance.api.queryConsumerOffset(this.brokerAddrOf(mq), { consumerGroup: o.group, topic: mq.topic, queueId: mq.queueId, setZeroIfNotFound: false }),
              updateOffset: (mq, offset, oneway) => {
                const header = { consumerGroup: o.group, topic: mq.topic, queueId: mq.queueId, commitOffset: offset };
                const addr = this.brokerAddrOf(mq);
                return oneway ? instance.api.updateConsumerOffsetOneway(addr, header) : instance.api.updateConsumerOffset(addr, header);
              },
            },
            (err, mq) => logger.warn({ err, mq }, 'persist consumer offset failed'),
          )
        : new LocalFileOffsetStore(o.offsetStoreDir, (err) => logger.warn({ err }, 'persist local offsets failed'));
    try {
      await this.offsetStore.load();
    } catch (err) {
      this.state = 'created';
      throw err;
    }

    const listener = this.listener!;
    const commitOffset = (mq: MessageQueue, pq: ProcessQueue<MessageExt>, offset: number) => this.commitOffset(mq, pq, offset);
    if (o.orderly) {
      this.orderlyService = new ConsumeMessageOrderlyService({
        group: o.group,
        messageModel: o.messageModel,
        consumeThreadMax: o.consumeThreadMax,
        maxReconsumeTimes: o.maxReconsumeTimes,
        suspendCurrentQueueTimeMillis: o.suspendCurrentQueueTimeMillis,
        delayLevelWhenNextConsume: o.delayLevelWhenNextConsume,
        listener,
        sendToDlq: (msg, mq) => this.sendMessageBack(msg, -1, mq),
        commitOffset,
        instrumentation: this.instrumentation,
        clock: this.clock,
      });
    } else {
      this.concurrently = new ConsumeMessageConcurrentlyService({
        group: o.group,
        messageModel: o.messageModel,
        consumeThreadMax: o.consumeThreadMax,
        maxReconsumeTimes: o.maxReconsumeTimes,
        delayLevelWhenNextConsume: o.delayLevelWhenNextConsume,
        suspendCurrentQueueTimeMillis: o.suspendCurrentQueueTimeMillis,
        listener,
        sendBack: (msg, delayLevel, mq) => this.sendMessageBack(msg, delayLevel, mq),
        commitOffset,
        instrumentation: this.instrumentation,
        clock: this.clock,
      });
    }

    if (!instance.registerConsumer(this.handle())) {
      this.state = 'created';
      throw new MQClientError('ILLEGAL_ARGUMENT', `consumer group ${o.group} is already running in client ${instance.clientId}`);
    }
    try {
      await instance.start();
      await Promise.all([...this.subscriptions.keys()].map((t) => instance.updateTopicRouteFromNameServer(t).catch(() => undefined)));
      await instance.sendHeartbeatToAllBrokers();
    } catch (err) {
      this.state = 'stopped';
      await instance.unregisterConsumer(o.group).catch(() => undefined);
      await instance.shutdown().catch(() => undefined);
      throw err;
    }
    this.state = 'running';
    this.every(o.rebalanceIntervalMs, () => this.triggerRebalance());
    if (o.orderly && o.messageModel === 'CLUSTERING') this.every(o.lockRenewIntervalMs, () => this.lockAll());
    await this.triggerRebalance();
  }

  /**
   * Stops pulling, waits up to `awaitTerminationMs` for running listeners, persists offsets (never
   * past an unfinished message, so those are redelivered), unlocks orderly queues and unregisters.
   */
  async shutdown(opts: ShutdownOptions = {}): Promise<void> {
    if (this.state === 'starting') await this.starting?.catch(() => undefined);
    if (this.state !== 'running') return;
    this.state = 'stopping';
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const wake of [...this.sleepers]) wake();
    const instance = this.instance!;
    const awaitMs = opts.awaitTerminationMs ?? this.options.awaitTerminationMillisWhenShutdown;
    if (this.rebalanceRunning) await this.rebalanceRunning.catch(() => undefined);
    if (this.concurrently) await this.concurrently.shutdown(awaitMs);
    if (this.orderlyService) await this.orderlyService.shutdown(awaitMs);
    const entries = [...this.table.values(), ...this.draining.values()];
    // Late listeners must not move offsets any more: what they finish is redelivered.
    for (const e of entries) e.pq.dropped = true;
    const store = this.offsetStore!;
    if (this.options.messageModel === 'CLUSTERING') {
      await Promise.all(entries.map((e) => store.persist(e.mq)));
    } else {
      await store.persistAll(entries.map((e) => e.mq));
    }
    if (this.options.orderly) await this.unlock(entries.map((e) => e.mq));
    this.table.clear();
    this.draining.clear();
    await instance.unregisterConsumer(this.options.group).catch(() => undefined);
    await instance.shutdown();
    this.state = 'stopped';
  }

  // ---------------------------------------------------------------------------------------------
  // Client-instance hooks

  private handle(): ConsumerHandle {
    return {
      group: this.options.group,
      consumerData: () => this.consumerData(),
      subscribedTopics: () => this.subscriptions.keys(),
      onConsumerIdsChanged: () => {
        void this.triggerRebalance();
      },
      persistConsumerOffset: () => this.persistOffsets(),
    };
  }

  private consumerData(): ConsumerData {
    return {
      groupName: this.options.group,
      consumeType: 'CONSUME_PASSIVELY',
      messageModel: this.options.messageModel,
      consumeFromWhere: this.options.consumeFromWhere,
      subscriptionDataSet: [...this.subscriptions.values()],
      unitMode: false,
    };
  }

  private async persistOffsets(): Promise<void> {
    if (this.state !== 'running' || !this.offsetStore) return;
    const mqs = [...this.table.values()].map((e) => e.mq);
    if (mqs.length > 0) await this.offsetStore.persistAll(mqs);
  }

  // ---------------------------------------------------------------------------------------------
  // Rebalance

  /** Runs a rebalance now, or once more after the running one (calls during a run coalesce). */
  triggerRebalance(): Promise<void> {
    if (this.state !== 'running') return Promise.resolve();
    if (this.rebalanceRunning) {
      this.rebalanceAgain = true;
      return this.rebalanceRunning;
    }
    const run = async () => {
      do {
        this.rebalanceAgain = false;
        await this.doRebalance();
      } while (this.rebalanceAgain && this.state === 'running');
    };
    this.rebalanceRunning = run()
      .catch((err: unknown) => this.instance?.logger.warn({ err, group: this.group }, 'rebalance failed'))
      .finally(() => {
        this.rebalanceRunning = undefined;
      });
    return this.rebalanceRunning;
  }

  private async doRebalance(): Promise<void> {
    const instance = this.instance!;
    for (const topic of [...this.subscriptions.keys()]) {
      if (this.state !== 'running') return;
      let mqAll = instance.getSubscribeQueues(topic);
      if (!mqAll) {
        await instance.updateTopicRouteFromNameServer(topic).catch(() => undefined);
        mqAll = instance.getSubscribeQueues(topic);
      }
      if (!mqAll) continue;
      let allocated: MessageQueue[];
      let consumerCount = 1;
      if (this.options.messageModel === 'BROADCASTING') {
        allocated = mqAll;
      } else {
        let cids: string[];
        try {
          cids = await instance.findConsumerIdList(topic, this.options.group);
        } catch (err) {
          instance.logger.warn({ err, topic, group: this.group }, 'consumer list failed; keeping the current queues');
          continue;
        }
        if (cids.length === 0) continue;
        consumerCount = cids.length;
        allocated = this.allocate(this.options.group, instance.clientId, mqAll, cids);
      }
      await this.updateProcessQueueTable(topic, allocated, consumerCount);
    }
    // Topics no longer subscribed.
    const dropped: QueueEntry[] = [];
    for (const entry of this.table.values()) if (!this.subscriptions.has(entry.mq.topic)) dropped.push(entry);
    await Promise.all(dropped.map((e) => this.dropQueue(e)));
  }

  private async updateProcessQueueTable(topic: string, allocated: MessageQueue[], consumerCount: number): Promise<void> {
    const wanted = new Map(allocated.map((mq) => [messageQueueKey(mq), mq]));
    const removed: QueueEntry[] = [];
    for (const [key, entry] of this.table) if (entry.mq.topic === topic && !wanted.has(key)) removed.push(entry);
    await Promise.all(removed.map((e) => this.dropQueue(e)));

    const added: MessageQueue[] = [];
    for (const [key, mq] of wanted) {
      if (this.table.has(key) || this.draining.has(key) || this.state !== 'running') continue;
      const pq = new ProcessQueue<MessageExt>(this.clock, this.options.lockMaxLiveTimeMs);
      const entry: QueueEntry = { mq, pq, offsetReady: false };
      if (!this.options.orderly) {
        this.offsetStore!.removeOffset(mq);
        try {
          pq.nextOffset = await this.computePullFromWhere(mq);
          entry.offsetReady = true;
        } catch (err) {
          this.instance!.logger.warn({ err, mq }, 'cannot read the start offset; retrying at the next rebalance');
          continue;
        }
        if (this.state !== 'running' || this.table.has(key)) continue;
      }
      this.table.set(key, entry);
      added.push(mq);
      this.pullLoop(entry).catch((err: unknown) => this.instance?.logger.error({ err, mq }, 'pull loop stopped by a bug'));
    }
    if ((added.length > 0 || removed.length > 0) && this.instrumentation.has('rebalance')) {
      this.instrumentation.emit('rebalance', {
        consumerGroup: this.group,
        topic,
        queues: allocated,
        added,
        removed: removed.map((e) => e.mq),
        consumerCount,
      });
    }
  }

  /** The queue is no longer ours: stop it, persist its offset, and (orderly) unlock it once idle. */
  private async dropQueue(entry: QueueEntry): Promise<void> {
    const key = messageQueueKey(entry.mq);
    if (this.table.get(key) !== entry) return;
    this.table.delete(key);
    entry.pq.dropped = true;
    const store = this.offsetStore!;
    if (this.options.orderly && this.options.messageModel === 'CLUSTERING') {
      this.draining.set(key, entry);
      (async () => {
        await this.orderlyService!.waitIdle(entry.pq, ORDERLY_DRAIN_MAX_MS);
        if (this.state !== 'running') return;
        await store.persist(entry.mq);
        store.removeOffset(entry.mq);
        await this.unlock([entry.mq]);
        entry.pq.clear();
        this.draining.delete(key);
        // The queue may have come back to us meanwhile (it was skipped while draining).
        void this.triggerRebalance();
      })().catch((err: unknown) => this.instance?.logger.error({ err, mq: entry.mq }, 'orderly drop failed'));
      return;
    }
    await store.persist(entry.mq);
    store.removeOffset(entry.mq);
    entry.pq.clear();
  }

  /** Start offset of a newly assigned queue (Java RebalancePushImpl.computePullFromWhere). */
  private async computePullFromWhere(mq: MessageQueue): Promise<number> {
    const stored = await this.offsetStore!.readStore(mq);
    if (stored.found) return stored.offset;
    const api = this.instance!.api;
    switch (this.options.consumeFromWhere) {
      case 'CONSUME_FROM_FIRST_OFFSET':
        return 0;
      case 'CONSUME_FROM_TIMESTAMP':
        if (isRetryTopic(mq.topic)) return api.getMaxOffset(this.brokerAddrOf(mq), mq.topic, mq.queueId);
        return api.searchOffsetByTimestamp(this.brokerAddrOf(mq), mq.topic, mq.queueId, this.options.consumeTimestamp);
      case 'CONSUME_FROM_LAST_OFFSET':
      default:
        // A new group's retry queue holds only its own retries: read it all.
        if (isRetryTopic(mq.topic)) return 0;
        return api.getMaxOffset(this.brokerAddrOf(mq), mq.topic, mq.queueId);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Pull

  private async pullLoop(entry: QueueEntry): Promise<void> {
    const { mq, pq } = entry;
    const o = this.options;
    const instance = this.instance!;
    const live = () => this.state === 'running' && !pq.dropped;
    while (live()) {
      if (o.orderly && o.messageModel === 'CLUSTERING') {
        if (!pq.holdsLock() && !(await this.lockOne(entry))) {
          await this.sleep(LOCK_RETRY_MS);
          continue;
        }
        if (!entry.offsetReady) {
          try {
            this.offsetStore!.removeOffset(mq);
            pq.nextOffset = await this.computePullFromWhere(mq);
            entry.offsetReady = true;
          } catch (err) {
            instance.logger.warn({ err, mq }, 'cannot read the start offset');
            await this.sleep(o.pullTimeDelayMillsWhenException);
            continue;
          }
          if (!live()) break;
        }
      }
      if (pq.flowControlReason(this.flowLimits) !== undefined) {
        await this.sleep(FLOW_CONTROL_RECHECK_MS);
        continue;
      }
      const sub = this.subscriptions.get(mq.topic);
      if (!sub) {
        await this.sleep(NO_SUBSCRIPTION_RECHECK_MS);
        continue;
      }
      let addr = instance.findBrokerAddressInSubscribe(mq.brokerName)?.brokerAddr;
      if (!addr) {
        await instance.updateTopicRouteFromNameServer(mq.topic).catch(() => undefined);
        addr = instance.findBrokerAddressInSubscribe(mq.brokerName)?.brokerAddr;
      }
      if (!addr) {
        this.emitPull(mq, 'ERROR', 0, pq.nextOffset, 0, new MQClientError('NO_BROKER_ADDRESS', `no address of broker ${mq.brokerName}`));
        await this.sleep(o.pullTimeDelayMillsWhenException);
        continue;
      }
      const commitOffset = o.messageModel === 'CLUSTERING' ? (this.offsetStore!.readMemory(mq) ?? 0) : 0;
      const postSub = o.postSubscriptionWhenPull;
      const started = this.clock.now();
      let res;
      try {
        res = await instance.api.pullMessage(
          addr,
          {
            consumerGroup: o.group,
            topic: mq.topic,
            queueId: mq.queueId,
            queueOffset: pq.nextOffset,
            maxMsgNums: o.pullBatchSize,
            sysFlag: buildPullSysFlag(commitOffset > 0, true, postSub),
            commitOffset,
            suspendTimeoutMillis: o.brokerSuspendMaxTimeMillis,
            subscription: postSub ? sub.subString : undefined,
            subVersion: sub.subVersion,
            expressionType: postSub ? sub.expressionType : undefined,
          },
          o.consumerTimeoutMillisWhenSuspend,
          mq.brokerName,
        );
      } catch (err) {
        if (!live()) break;
        this.emitPull(mq, 'ERROR', 0, pq.nextOffset, this.clock.now() - started, err instanceof Error ? err : new Error(String(err)));
        await this.sleep(o.pullTimeDelayMillsWhenException);
        continue;
      }
      // A pull that returns after the queue was dropped is ignored: the next owner pulls again.
      if (!live()) break;
      const elapsedMs = this.clock.now() - started;
      switch (res.status) {
        case 'FOUND': {
          const msgs = this.filterAndReset(res.messages, sub);
          const added = pq.putMessages(msgs, res.nextBeginOffset);
          this.emitPull(mq, 'FOUND', added.length, res.nextBeginOffset, elapsedMs);
          if (added.length === 0) this.correctTagsOffset(entry);
          else if (this.concurrently) this.concurrently.submit(pq, mq, added);
          else this.orderlyService!.notify(pq, mq);
          break;
        }
        case 'NO_NEW_MSG':
        case 'NO_MATCHED_MSG':
          pq.nextOffset = res.nextBeginOffset;
          this.emitPull(mq, res.status, 0, res.nextBeginOffset, elapsedMs);
          this.correctTagsOffset(entry);
          break;
        case 'OFFSET_ILLEGAL':
          this.emitPull(mq, 'OFFSET_ILLEGAL', 0, res.nextBeginOffset, elapsedMs);
          await this.onOffsetMoved(entry, res.nextBeginOffset);
          return;
      }
    }
  }

  /** Nothing pending: the queue's progress is the next pull offset (Java correctTagsOffset). */
  private correctTagsOffset(entry: QueueEntry): void {
    if (entry.pq.cachedCount === 0 && entry.pq.nextOffset >= 0) this.commitOffset(entry.mq, entry.pq, entry.pq.nextOffset);
  }

  private async onOffsetMoved(entry: QueueEntry, nextBeginOffset: number): Promise<void> {
    const key = messageQueueKey(entry.mq);
    this.instance!.logger.warn({ mq: entry.mq, from: entry.pq.nextOffset, to: nextBeginOffset }, 'pull offset moved; dropping the queue');
    const store = this.offsetStore!;
    entry.pq.dropped = true;
    store.updateOffset(entry.mq, nextBeginOffset, false);
    await store.persist(entry.mq);
    if (this.table.get(key) === entry) {
      // Re-enter the table as a fresh queue through dropQueue's bookkeeping (orderly: unlock when idle).
      this.table.delete(key);
      store.removeOffset(entry.mq);
      if (this.options.orderly) await this.unlock([entry.mq]);
      entry.pq.clear();
    }
    await this.sleep(OFFSET_MOVED_READD_MS);
    void this.triggerRebalance();
  }

  /** Client-side tag filter (the broker filters by hash only) and `%RETRY%` topic reset. */
  private filterAndReset(msgs: MessageExt[], sub: SubscriptionData): MessageExt[] {
    const all = isSubAll(sub);
    const groupRetryTopic = retryTopic(this.options.group);
    const out: MessageExt[] = [];
    for (const msg of msgs) {
      if (!all && (msg.tags === undefined || !sub.tagsSet.includes(msg.tags))) continue;
      if (msg.topic === groupRetryTopic) {
        const original = msg.properties[MessageConst.RETRY_TOPIC];
        if (original) msg.topic = original;
      }
      out.push(msg);
    }
    return out;
  }

  private commitOffset(mq: MessageQueue, pq: ProcessQueue<MessageExt>, offset: number): void {
    if (offset < 0 || !this.offsetStore) return;
    const key = messageQueueKey(mq);
    const owner = this.table.get(key) ?? this.draining.get(key);
    if (owner?.pq !== pq) return;
    if (pq.dropped && !this.draining.has(key)) return;
    this.offsetStore.updateOffset(mq, offset, true);
  }

  private emitPull(mq: MessageQueue, status: string, messageCount: number, nextBeginOffset: number, elapsedMs: number, error?: Error): void {
    if (!this.instrumentation.has('pull')) return;
    const ev = { consumerGroup: this.group, messageQueue: mq, status, messageCount, nextBeginOffset, elapsedMs };
    this.instrumentation.emit('pull', error ? { ...ev, error } : ev);
  }

  // ---------------------------------------------------------------------------------------------
  // Orderly locks

  private lockBody(mqs: MessageQueue[]) {
    return { consumerGroup: this.options.group, clientId: this.instance!.clientId, onlyThisBroker: false, mqSet: mqs };
  }

  private async lockOne(entry: QueueEntry): Promise<boolean> {
    const addr = this.instance!.findBrokerAddressInSubscribe(entry.mq.brokerName, 0, true)?.brokerAddr;
    if (!addr) return false;
    // The lease counts from before the request: the broker's lease started no earlier than this.
    const sentAt = this.clock.now();
    try {
      const locked = await this.instance!.api.lockBatchMQ(addr, this.lockBody([entry.mq]));
      const key = messageQueueKey(entry.mq);
      const ok = locked.some((m) => messageQueueKey(m) === key);
      if (ok && this.table.get(key) !== entry && this.draining.get(key) !== entry) {
        // Dropped while the request was in flight.
        await this.unlock([entry.mq]);
        return false;
      }
      if (ok) {
        entry.pq.locked = true;
        entry.pq.lastLockTimestamp = sentAt;
        this.orderlyService?.notify(entry.pq, entry.mq);
      }
      return ok;
    } catch (err) {
      this.instance!.logger.warn({ err, mq: entry.mq }, 'lock failed');
      return false;
    }
  }

  /** Renews every held or wanted lock, per broker (Java RebalanceImpl.lockAll). */
  private async lockAll(): Promise<void> {
    if (this.state !== 'running') return;
    const byBroker = new Map<string, QueueEntry[]>();
    for (const e of [...this.table.values(), ...this.draining.values()]) {
      const list = byBroker.get(e.mq.brokerName) ?? [];
      list.push(e);
      byBroker.set(e.mq.brokerName, list);
    }
    await Promise.all(
      [...byBroker].map(async ([brokerName, entries]) => {
        const addr = this.instance!.findBrokerAddressInSubscribe(brokerName, 0, true)?.brokerAddr;
        if (!addr) return;
        let locked: MessageQueue[];
        const sentAt = this.clock.now();
        try {
          locked = await this.instance!.api.lockBatchMQ(addr, this.lockBody(entries.map((e) => e.mq)));
        } catch (err) {
          this.instance!.logger.warn({ err, brokerName }, 'lock renewal failed');
          return;
        }
        const ok = new Set(locked.map(messageQueueKey));
        const stale: MessageQueue[] = [];
        for (const e of entries) {
          const key = messageQueueKey(e.mq);
          if (this.table.get(key) !== e && this.draining.get(key) !== e) {
            // Dropped and unlocked while this renewal was in flight: give the lock back at once.
            if (ok.has(key)) stale.push(e.mq);
            continue;
          }
          if (ok.has(key)) {
            const wasHeld = e.pq.holdsLock();
            e.pq.locked = true;
            e.pq.lastLockTimestamp = sentAt;
            if (!wasHeld) this.orderlyService?.notify(e.pq, e.mq);
          } else {
            e.pq.locked = false;
          }
        }
        if (stale.length > 0) await this.unlock(stale);
      }),
    );
  }

  private async unlock(mqs: MessageQueue[]): Promise<void> {
    const byBroker = new Map<string, MessageQueue[]>();
    for (const mq of mqs) {
      const list = byBroker.get(mq.brokerName) ?? [];
      list.push(mq);
      byBroker.set(mq.brokerName, list);
    }
    await Promise.all(
      [...byBroker].map(async ([brokerName, list]) => {
        const addr = this.instance!.findBrokerAddressInSubscribe(brokerName, 0, true)?.brokerAddr;
        if (!addr) return;
        await this.instance!.api.unlockBatchMQ(addr, this.lockBody(list)).catch((err: unknown) => {
          this.instance!.logger.warn({ err, brokerName }, 'unlock failed');
        });
      }),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Send back

  /** CONSUMER_SEND_MSG_BACK to the master of the message's broker; false when it did not take it. */
  private async sendMessageBack(msg: MessageExt, delayLevel: number, mq: MessageQueue): Promise<boolean> {
    const instance = this.instance;
    if (!instance || instance.closed) return false;
    const brokerName = msg.brokerName ?? mq.brokerName;
    const addr = instance.findBrokerAddressInPublish(brokerName) ?? msg.storeHost;
    const max = this.options.maxReconsumeTimes;
    try {
      await instance.api.consumerSendMessageBack(addr, {
        offset: msg.commitLogOffset,
        group: this.options.group,
        delayLevel,
        originMsgId: msg.msgId,
        originTopic: msg.topic,
        maxReconsumeTimes: Number.isFinite(max) ? max : 2_147_483_647,
      });
      return true;
    } catch (err) {
      instance.logger.warn({ err, msgId: msg.msgId }, 'send back failed');
      return false;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  private brokerAddrOf(mq: MessageQueue): string {
    const addr = this.instance!.findBrokerAddressInSubscribe(mq.brokerName)?.brokerAddr;
    if (!addr) throw new MQClientError('NO_BROKER_ADDRESS', `no address of broker ${mq.brokerName}`, { retriable: true });
    return addr;
  }

  private every(ms: number, task: () => Promise<unknown>): void {
    const timer = setInterval(() => {
      task().catch((err: unknown) => this.instance?.logger.warn({ err }, 'periodic consumer task failed'));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  /** Sleeps, but wakes at once on shutdown. */
  private sleep(ms: number): Promise<void> {
    if (this.state !== 'running') return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }
}
