/**
 * ProcessQueue: the messages of one assigned queue that were pulled and are not yet finished, in
 * queue-offset order, plus the queue's flow-control counters and (orderly) lock state.
 *
 * Offset rule: the committable offset is the lowest offset still pending (pulled, not finished), or
 * the next pull offset when nothing is pending, so a committed offset never passes a message that is
 * still being consumed or waiting to be consumed (Java ProcessQueue.removeMessage).
 *
 * Pending messages live in an array in offset order (pulls are sequential per queue, so appends are
 * monotone) with a head index: completion is O(1), head advance is amortised O(1).
 */
import type { Clock } from './consumer-types';

/** What the queue needs from a message. */
export interface QueuedMessage {
  queueOffset: number;
  body: Buffer;
}

/** Java ProcessQueue REBALANCE_LOCK_MAX_LIVE_TIME: a client treats its lock as expired after 30 s without renewal. */
export const REBALANCE_LOCK_MAX_LIVE_TIME_MS = 30_000;

/** Per-queue pull limits (Java pullThresholdForQueue / pullThresholdSizeForQueue / consumeConcurrentlyMaxSpan). */
export interface FlowControlLimits {
  maxCachedCount: number;
  maxCachedBytes: number;
  /** Concurrent mode only; undefined = no span limit (orderly). */
  maxSpan?: number;
}

export type FlowControlReason = 'count' | 'size' | 'span';

interface Entry<M> {
  readonly offset: number;
  readonly msg: M;
  done: boolean;
}

export class ProcessQueue<M extends QueuedMessage> {
  /** Set when the queue is no longer ours (rebalance, offset moved, shutdown): no pulls, no offset commits. */
  dropped = false;
  /** Offset of the next pull. */
  nextOffset = -1;
  lastPullTimestamp = 0;
  lastConsumeTimestamp = 0;

  // Orderly / broker lock state.
  locked = false;
  lastLockTimestamp = 0;
  /** Orderly: a handler for this queue is running. */
  consuming = false;

  private entries: Array<Entry<M>> = [];
  private head = 0;
  private readonly byOffset = new Map<number, Entry<M>>();
  private bytes = 0;
  private maxOffsetSeen = -1;

  constructor(
    private readonly clock: Clock,
    private readonly lockMaxLiveTimeMs = REBALANCE_LOCK_MAX_LIVE_TIME_MS,
  ) {}

  /** Messages pulled and not finished. */
  get cachedCount(): number {
    return this.byOffset.size;
  }

  /** Body bytes of the pending messages. */
  get cachedBytes(): number {
    return this.bytes;
  }

  /** Highest queue offset ever put, -1 before the first message. */
  get queueOffsetMax(): number {
    return this.maxOffsetSeen;
  }

  /**
   * Adds one pull's messages and moves nextOffset. Messages at or below an offset already seen are
   * ignored (a re-pull after a timeout can overlap). Returns the messages actually added.
   */
  putMessages(msgs: readonly M[], nextOffset: number): M[] {
    const added: M[] = [];
    for (const msg of msgs) {
      const offset = msg.queueOffset;
      if (offset <= this.maxOffsetSeen) continue;
      const entry: Entry<M> = { offset, msg, done: false };
      this.entries.push(entry);
      this.byOffset.set(offset, entry);
      this.bytes += msg.body.length;
      this.maxOffsetSeen = offset;
      added.push(msg);
    }
    if (nextOffset > this.nextOffset) this.nextOffset = nextOffset;
    this.lastPullTimestamp = this.clock.now();
    return added;
  }

  /** Marks messages finished (consumed, sent back or dropped). Returns the committable offset. */
  complete(offsets: Iterable<number>): number {
    for (const offset of offsets) {
      const entry = this.byOffset.get(offset);
      if (!entry) continue;
      entry.done = true;
      this.byOffset.delete(offset);
      this.bytes -= entry.msg.body.length;
    }
    this.advanceHead();
    this.lastConsumeTimestamp = this.clock.now();
    return this.committableOffset();
  }

  completeOne(offset: number): number {
    return this.complete([offset]);
  }

  /** True when `offset` is pending here. */
  has(offset: number): boolean {
    return this.byOffset.has(offset);
  }

  /** Lowest pending offset, or nextOffset when nothing is pending (-1 before anything was pulled). */
  committableOffset(): number {
    const first = this.entries[this.head];
    return first ? first.offset : this.nextOffset;
  }

  /** The first pending message (orderly consumes strictly from here). */
  firstPending(): M | undefined {
    return this.entries[this.head]?.msg;
  }

  /** Offset distance between the first and last pending message (Java consumeConcurrentlyMaxSpan check). */
  maxSpan(): number {
    const first = this.entries[this.head];
    if (!first) return 0;
    return this.maxOffsetSeen - first.offset;
  }

  /** Every pending message in offset order. */
  pendingMessages(): M[] {
    const out: M[] = [];
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (!e.done) out.push(e.msg);
    }
    return out;
  }

  /** Forgets every pending message (the queue was dropped; they will be pulled again by the next owner). */
  clear(): void {
    this.entries = [];
    this.head = 0;
    this.byOffset.clear();
    this.bytes = 0;
  }

  /** Why the next pull must wait, or undefined when it may go (the queue stays bounded by the limits plus one pull batch). */
  flowControlReason(limits: FlowControlLimits): FlowControlReason | undefined {
    if (this.byOffset.size > limits.maxCachedCount) return 'count';
    if (this.bytes > limits.maxCachedBytes) return 'size';
    if (limits.maxSpan !== undefined && this.maxSpan() > limits.maxSpan) return 'span';
    return undefined;
  }

  isLockExpired(): boolean {
    return this.clock.now() - this.lastLockTimestamp > this.lockMaxLiveTimeMs;
  }

  /** Locked at the broker and renewed recently enough to consume. */
  holdsLock(): boolean {
    return this.locked && !this.isLockExpired();
  }

  private advanceHead(): void {
    while (this.head < this.entries.length && this.entries[this.head]!.done) this.head++;
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
