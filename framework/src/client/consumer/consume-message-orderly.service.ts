/**
 * Orderly consumption (Java ConsumeMessageOrderlyService): per queue, one message at a time in queue
 * order, and only while this client holds the queue's broker lock (CLUSTERING). Queues take turns
 * through a ready FIFO (one entry per queue at most) and at most `consumeThreadMax` queues consume
 * at once.
 *
 * Failure: the queue is suspended for `suspendCurrentQueueTimeMillis` and the same message is
 * consumed again locally with reconsumeTimes + 1. When a failing message has already been consumed
 * `maxReconsumeTimes` times it goes to `%DLQ%<group>` (send-back with delay level -1) and the queue
 * moves on; if that send fails, the queue is suspended and the message retried (Java does the same).
 */
import type { MessageQueue } from '@rocketry/broker/protocol';
import type { Instrumentation } from '../instrumentation';
import type { MessageExt } from '../message';
import { runListener, type ConsumeContext, type MessageListener } from './consume-context';
import type { Clock, MessageModelName } from './consumer-types';
import type { ProcessQueue } from './process-queue';

export interface OrderlyServiceOptions {
  group: string;
  messageModel: MessageModelName;
  consumeThreadMax: number;
  /** Consumptions of one message before it goes to the DLQ; Infinity = never (the orderly default). */
  maxReconsumeTimes: number;
  suspendCurrentQueueTimeMillis: number;
  delayLevelWhenNextConsume: number;
  listener: MessageListener;
  /** Moves the message to `%DLQ%<group>`; resolves false (or rejects) on failure. */
  sendToDlq(msg: MessageExt, mq: MessageQueue): Promise<boolean>;
  /** A message finished: `offset` is the queue's new committable offset. */
  commitOffset(mq: MessageQueue, pq: ProcessQueue<MessageExt>, offset: number): void;
  instrumentation?: Instrumentation;
  clock: Clock;
}

interface QueueState {
  pq: ProcessQueue<MessageExt>;
  mq: MessageQueue;
  /** In the ready FIFO or running. */
  busy: boolean;
  suspendTimer: NodeJS.Timeout | undefined;
  idleWaiters: Array<() => void>;
}

export class ConsumeMessageOrderlyService {
  private readonly states = new Map<ProcessQueue<MessageExt>, QueueState>();
  private ready: QueueState[] = [];
  private running = 0;
  private stopped = false;
  private readonly allIdleWaiters: Array<() => void> = [];

  constructor(private readonly opts: OrderlyServiceOptions) {}

  get inFlight(): number {
    return this.running;
  }

  /** There may be work for this queue (messages arrived, the lock was taken, a suspension ended). */
  notify(pq: ProcessQueue<MessageExt>, mq: MessageQueue): void {
    if (this.stopped || pq.dropped) return;
    let st = this.states.get(pq);
    if (!st) {
      st = { pq, mq, busy: false, suspendTimer: undefined, idleWaiters: [] };
      this.states.set(pq, st);
    }
    if (st.busy || st.suspendTimer) return;
    st.busy = true;
    this.ready.push(st);
    this.pump();
  }

  /** Waits until no listener call runs for this queue (after it was dropped). Resolves false on timeout. */
  waitIdle(pq: ProcessQueue<MessageExt>, timeoutMs: number): Promise<boolean> {
    const st = this.states.get(pq);
    if (!st || !pq.consuming) {
      this.forget(pq);
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
      st.idleWaiters.push(() => {
        clearTimeout(timer);
        this.forget(pq);
        resolve(true);
      });
    });
  }

  /** Stops starting listener calls and waits up to `awaitTerminationMs` for running ones. */
  async shutdown(awaitTerminationMs: number): Promise<boolean> {
    this.stopped = true;
    this.ready = [];
    for (const st of this.states.values()) {
      if (st.suspendTimer) clearTimeout(st.suspendTimer);
      st.suspendTimer = undefined;
    }
    if (this.running === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      new Promise<boolean>((resolve) => this.allIdleWaiters.push(() => resolve(true))),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(0, awaitTerminationMs));
      }),
    ]);
    clearTimeout(timer);
    return done;
  }

  private forget(pq: ProcessQueue<MessageExt>): void {
    const st = this.states.get(pq);
    if (!st) return;
    if (st.suspendTimer) clearTimeout(st.suspendTimer);
    this.states.delete(pq);
  }

  private pump(): void {
    while (!this.stopped && this.running < this.opts.consumeThreadMax && this.ready.length > 0) {
      const st = this.ready.shift()!;
      this.running++;
      void this.consumeOne(st).finally(() => {
        this.running--;
        if (this.running === 0) for (const w of this.allIdleWaiters.splice(0)) w();
        this.pump();
      });
    }
  }

  /** Consumes the queue's first pending message, then hands the queue back to the FIFO if more wait. */
  private async consumeOne(st: QueueState): Promise<void> {
    const { pq, mq } = st;
    const msg = this.canConsume(pq) ? pq.firstPending() : undefined;
    if (!msg) {
      st.busy = false;
      return;
    }
    const ctx: ConsumeContext = {
      messageQueue: mq,
      orderly: true,
      delayLevelWhenNextConsume: this.opts.delayLevelWhenNextConsume,
      suspendCurrentQueueTimeMillis: this.opts.suspendCurrentQueueTimeMillis,
    };
    // Covers the listener and what follows it (DLQ send, offset commit): waitIdle waits for all of it.
    pq.consuming = true;
    let next: 'continue' | 'suspend' = 'suspend';
    try {
      next = await this.consumeMessage(st, msg, ctx);
    } finally {
      pq.consuming = false;
      st.busy = false;
      if (st.idleWaiters.length > 0) for (const w of st.idleWaiters.splice(0)) w();
    }
    if (pq.dropped || this.stopped) return;
    if (next === 'suspend') {
      const suspendMs = Math.min(Math.max(ctx.suspendCurrentQueueTimeMillis, 10), 30_000);
      st.suspendTimer = setTimeout(() => {
        st.suspendTimer = undefined;
        this.notify(pq, mq);
      }, suspendMs);
    } else if (pq.firstPending()) {
      this.notify(pq, mq);
    }
  }

  private async consumeMessage(st: QueueState, msg: MessageExt, ctx: ConsumeContext): Promise<'continue' | 'suspend'> {
    const { mq } = st;
    const started = this.opts.clock.now();
    const outcome = await runListener(this.opts.listener, msg, ctx);
    const elapsedMs = this.opts.clock.now() - started;
    const ins = this.opts.instrumentation;
    let next: 'continue' | 'suspend' = 'continue';
    if (outcome.ok) {
      if (ins?.has('consume')) ins.emit('consume', this.eventBase(msg, elapsedMs));
      this.finish(st, msg);
    } else if (msg.reconsumeTimes >= this.opts.maxReconsumeTimes) {
      let moved = false;
      try {
        moved = await this.opts.sendToDlq(msg, mq);
      } catch {
        moved = false;
      }
      if (ins?.has('consume.failure')) ins.emit('consume.failure', { ...this.eventBase(msg, elapsedMs), error: outcome.error, action: moved ? 'dlq' : 'suspend' });
      if (moved) this.finish(st, msg);
      else next = 'suspend';
    } else {
      if (ins?.has('consume.failure')) ins.emit('consume.failure', { ...this.eventBase(msg, elapsedMs), error: outcome.error, action: 'suspend' });
      msg.reconsumeTimes++;
      next = 'suspend';
    }
    return next;
  }

  private canConsume(pq: ProcessQueue<MessageExt>): boolean {
    if (pq.dropped || this.stopped) return false;
    return this.opts.messageModel === 'BROADCASTING' || pq.holdsLock();
  }

  private finish(st: QueueState, msg: MessageExt): void {
    const offset = st.pq.completeOne(msg.queueOffset);
    // Still committed after a drop: the broker lock is released only once this call returned.
    this.opts.commitOffset(st.mq, st.pq, offset);
  }

  private eventBase(msg: MessageExt, elapsedMs: number) {
    return { consumerGroup: this.opts.group, topic: msg.topic, queueId: msg.queueId, msgId: msg.msgId, reconsumeTimes: msg.reconsumeTimes, elapsedMs };
  }
}
