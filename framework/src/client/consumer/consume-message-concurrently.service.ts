/**
 * Concurrent consumption (Java ConsumeMessageConcurrentlyService): messages of every assigned queue go
 * through one FIFO work queue; at most `consumeThreadMax` listener calls run at once.
 *
 * The work queue is bounded by flow control: a queue stops being pulled once it caches
 * `pullThresholdForQueue` messages, so the FIFO holds at most (queues × (threshold + pullBatchSize)).
 *
 * A message stays pending in its ProcessQueue until it is finished (consumed, sent back, or dropped
 * in BROADCASTING), so the committed offset never passes it. Failure in CLUSTERING goes back to the
 * broker (CONSUMER_SEND_MSG_BACK) with the context's delayLevelWhenNextConsume; if that fails the
 * message is consumed again locally after `localRetryDelayMs`, as Java does.
 */
import type { MessageQueue } from '@rocketry/broker/protocol';
import type { Instrumentation } from '../instrumentation';
import type { MessageExt } from '../message';
import { runListener, type ConsumeContext, type MessageListener } from './consume-context';
import type { Clock, MessageModelName } from './consumer-types';
import type { ProcessQueue } from './process-queue';

/** Java `submitConsumeRequestLater`: 5 s before a message whose send-back failed is consumed again. */
export const LOCAL_RETRY_DELAY_MS = 5_000;

export interface ConcurrentlyServiceOptions {
  group: string;
  messageModel: MessageModelName;
  consumeThreadMax: number;
  maxReconsumeTimes: number;
  delayLevelWhenNextConsume: number;
  suspendCurrentQueueTimeMillis: number;
  listener: MessageListener;
  /** CONSUMER_SEND_MSG_BACK for one message; resolves false (or rejects) when the broker did not take it. */
  sendBack(msg: MessageExt, delayLevel: number, mq: MessageQueue): Promise<boolean>;
  /** A message of a live queue finished: `offset` is the queue's new committable offset. */
  commitOffset(mq: MessageQueue, pq: ProcessQueue<MessageExt>, offset: number): void;
  instrumentation?: Instrumentation;
  clock: Clock;
  localRetryDelayMs?: number;
}

interface WorkItem {
  pq: ProcessQueue<MessageExt>;
  mq: MessageQueue;
  msg: MessageExt;
}

export class ConsumeMessageConcurrentlyService {
  private queue: WorkItem[] = [];
  private head = 0;
  private running = 0;
  private stopped = false;
  private readonly idleWaiters: Array<() => void> = [];
  /** Messages waiting for a local retry, in due order (constant delay → FIFO). */
  private retryLater: Array<{ item: WorkItem; dueAt: number }> = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly localRetryDelayMs: number;

  constructor(private readonly opts: ConcurrentlyServiceOptions) {
    this.localRetryDelayMs = opts.localRetryDelayMs ?? LOCAL_RETRY_DELAY_MS;
  }

  /** Listener calls running now. */
  get inFlight(): number {
    return this.running;
  }

  /** Messages waiting for a free slot. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  submit(pq: ProcessQueue<MessageExt>, mq: MessageQueue, msgs: readonly MessageExt[]): void {
    if (this.stopped) return;
    for (const msg of msgs) this.queue.push({ pq, mq, msg });
    this.pump();
  }

  /**
   * Stops starting listener calls (queued messages stay pending in their queues and are redelivered
   * later) and waits up to `awaitTerminationMs` for the running ones. Resolves true when all finished.
   */
  async shutdown(awaitTerminationMs: number): Promise<boolean> {
    this.stopped = true;
    this.queue = [];
    this.head = 0;
    this.retryLater = [];
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.running === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true))),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(0, awaitTerminationMs));
      }),
    ]);
    clearTimeout(timer);
    return finished;
  }

  private pump(): void {
    while (!this.stopped && this.running < this.opts.consumeThreadMax && this.head < this.queue.length) {
      const item = this.queue[this.head++]!;
      if (item.pq.dropped) continue;
      this.running++;
      void this.consume(item).finally(() => {
        this.running--;
        if (this.running === 0) this.notifyIdle();
        this.pump();
      });
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters.splice(0);
    for (const w of waiters) w();
  }

  private async consume(item: WorkItem): Promise<void> {
    const { pq, mq, msg } = item;
    const ctx: ConsumeContext = {
      messageQueue: mq,
      orderly: false,
      delayLevelWhenNextConsume: this.opts.delayLevelWhenNextConsume,
      suspendCurrentQueueTimeMillis: this.opts.suspendCurrentQueueTimeMillis,
    };
    const started = this.opts.clock.now();
    const outcome = await runListener(this.opts.listener, msg, ctx);
    const elapsedMs = this.opts.clock.now() - started;
    const ins = this.opts.instrumentation;
    if (outcome.ok) {
      if (ins?.has('consume')) ins.emit('consume', this.eventBase(msg, elapsedMs));
      this.finish(item);
      return;
    }
    if (this.opts.messageModel === 'BROADCASTING') {
      // Java and ali-ons drop failed broadcast messages: there is no per-consumer retry topic.
      if (ins?.has('consume.failure')) ins.emit('consume.failure', { ...this.eventBase(msg, elapsedMs), error: outcome.error, action: 'drop' });
      this.finish(item);
      return;
    }
    const delayLevel = ctx.delayLevelWhenNextConsume;
    const toDlq = delayLevel < 0 || msg.reconsumeTimes >= this.opts.maxReconsumeTimes;
    let accepted = false;
    if (!pq.dropped) {
      try {
        accepted = await this.opts.sendBack(msg, delayLevel, mq);
      } catch {
        accepted = false;
      }
    }
    if (ins?.has('consume.failure')) {
      ins.emit('consume.failure', { ...this.eventBase(msg, elapsedMs), error: outcome.error, action: accepted ? (toDlq ? 'dlq' : 'retry') : 'local-retry' });
    }
    if (accepted) {
      this.finish(item);
    } else if (!pq.dropped && !this.stopped) {
      // Stays pending (offset held); consumed again here later.
      msg.reconsumeTimes++;
      this.scheduleLocalRetry(item);
    }
  }

  private finish(item: WorkItem): void {
    const offset = item.pq.completeOne(item.msg.queueOffset);
    if (!item.pq.dropped) this.opts.commitOffset(item.mq, item.pq, offset);
  }

  private scheduleLocalRetry(item: WorkItem): void {
    this.retryLater.push({ item, dueAt: this.opts.clock.now() + this.localRetryDelayMs });
    this.armRetryTimer();
  }

  private armRetryTimer(): void {
    if (this.retryTimer || this.retryLater.length === 0 || this.stopped) return;
    const waitMs = Math.max(0, this.retryLater[0]!.dueAt - this.opts.clock.now());
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      const now = this.opts.clock.now();
      let n = 0;
      while (n < this.retryLater.length && this.retryLater[n]!.dueAt <= now) n++;
      const due = this.retryLater.splice(0, n);
      for (const { item } of due) if (!item.pq.dropped) this.queue.push(item);
      this.pump();
      this.armRetryTimer();
    }, waitMs);
  }

  private eventBase(msg: MessageExt, elapsedMs: number) {
    return { consumerGroup: this.opts.group, topic: msg.topic, queueId: msg.queueId, msgId: msg.msgId, reconsumeTimes: msg.reconsumeTimes, elapsedMs };
  }
}
