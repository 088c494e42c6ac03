/**
 * OutboxRelay: the loop that sends outbox rows.
 *
 *   pass:  [single-active: take/renew the lease row, else stand by]
 *          claim ≤ batchSize rows (outbox.store.ts) → send them, ≤ sendConcurrency at a time
 *          → SENT, or PENDING with backoff(attempts), or FAILED after maxAttempts
 *   loop:  a pass that claimed rows is followed at once by the next (bounded by batchSize each);
 *          an empty pass sleeps pollIntervalMs or until an enqueue in this process wakes it.
 *          The retention cleanup runs every cleanupIntervalMs.
 *
 * Guarantees: a row is sent at least once; it is sent again only when a relay died (or stalled past
 * the lease) between the send and mark-SENT, with the same msgId. Rows of one sharding key are sent
 * one at a time, oldest first, each to the queue the key hashes to.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../client/client-options';
import type { Message } from '../client/message';
import { backoffDelayMs, type ResolvedBackoff } from '../retry/backoff';
import { isPermanentSendError } from '../retry/async-send-retry';
import type { TypedEvents } from '../retry/typed-events';
import { OUTBOX_DEFAULTS, type OutboxEventMap, type OutboxSendFunction, type OutboxStats, type RelayPassResult } from './outbox-options';
import type { ClaimedRow, OutboxStore } from './outbox.store';

export interface OutboxRelaySettings {
  maxAttempts: number;
  backoff: ResolvedBackoff;
  batchSize: number;
  pollIntervalMs: number;
  sendConcurrency: number;
  leaseMs: number;
  retentionMs: number;
  cleanupIntervalMs: number;
  singleActiveRelay: boolean;
  relayId: string;
}

export interface OutboxRelayDeps {
  store: OutboxStore;
  /** Absent when the outbox was created without a producer/template/send: start() then throws. */
  send: OutboxSendFunction | undefined;
  events: TypedEvents<OutboxEventMap>;
  stats: OutboxStats;
  now: () => number;
  random: () => number;
  logger: Logger | undefined;
}

export function defaultRelayId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/** Wake-up registry: an enqueue committed in this process wakes the relays of that table at once. */
const relaysByTable = new Map<string, Set<OutboxRelay>>();

export function wakeRelays(tableName: string): void {
  for (const relay of relaysByTable.get(tableName) ?? []) relay.wake();
}

export function rowToMessage(row: ClaimedRow): Message {
  const msg: Message = { topic: row.topic, body: row.body, properties: row.properties };
  if (row.tags !== null) msg.tags = row.tags;
  if (row.keys !== null) msg.keys = row.keys;
  if (row.delayLevel !== null) msg.delayLevel = row.delayLevel;
  return msg;
}

function errorText(err: Error): string {
  const text = `${err.name}: ${err.message}`;
  return text.length > OUTBOX_DEFAULTS.lastErrorMaxChars ? text.slice(0, OUTBOX_DEFAULTS.lastErrorMaxChars) : text;
}

export class OutboxRelay {
  readonly relayId: string;
  private runningLoop: Promise<void> | undefined;
  private stopping = false;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private claimSeq = 0;
  private active = false;
  private nextCleanupAtMs = 0;

  constructor(
    private readonly settings: OutboxRelaySettings,
    private readonly deps: OutboxRelayDeps,
  ) {
    this.relayId = settings.relayId;
  }

  get running(): boolean {
    return this.runningLoop !== undefined;
  }

  /** True while this relay holds the single-active lease (always true when that mode is off and it runs). */
  get isActive(): boolean {
    return this.settings.singleActiveRelay ? this.active : this.running;
  }

  /** Starts the loop (no-op when running). */
  start(): void {
    if (this.runningLoop) return;
    if (!this.deps.send) throw new TypeError('outbox relay: no producer, template or send function was given to createOutbox');
    this.stopping = false;
    let set = relaysByTable.get(this.deps.store.tableName);
    if (!set) relaysByTable.set(this.deps.store.tableName, (set = new Set()));
    set.add(this);
    this.nextCleanupAtMs = this.settings.cleanupIntervalMs > 0 ? this.deps.now() + this.settings.cleanupIntervalMs : Number.POSITIVE_INFINITY;
    this.runningLoop = this.loop();
  }

  /** Stops after the pass in flight (its sends are bounded by the producer's send timeout) and gives the lease up. */
  async stop(): Promise<void> {
    const loop = this.runningLoop;
    if (!loop) return;
    this.stopping = true;
    this.wake();
    await loop;
    relaysByTable.get(this.deps.store.tableName)?.delete(this);
    this.runningLoop = undefined;
    if (this.settings.singleActiveRelay && this.active) {
      this.active = false;
      await this.deps.store.releaseLease(this.relayId).catch((err: unknown) => this.deps.logger?.warn({ err }, 'outbox relay: lease release failed'));
      this.emitLeadership(false);
    }
  }

  /** Ends the idle wait at once (an enqueue committed). */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let claimed = 0;
      try {
        claimed = (await this.runOnce()).claimed;
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        this.deps.stats.relayErrors++;
        this.deps.logger?.warn({ err: error, relayId: this.relayId }, 'outbox relay pass failed');
        if (this.deps.events.has('relay.error')) this.deps.events.emit('relay.error', { relayId: this.relayId, error });
      }
      if (this.stopping) break;
      if (this.deps.now() >= this.nextCleanupAtMs) {
        this.nextCleanupAtMs = this.deps.now() + this.settings.cleanupIntervalMs;
        await this.cleanup().catch((err: unknown) => this.deps.logger?.warn({ err }, 'outbox cleanup failed'));
      }
      if (claimed > 0) {
        // More may be due (the next row of a sharding key, or a full batch): go again, yielding first.
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      await this.idle(this.settings.pollIntervalMs);
    }
  }

  private idle(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        this.woken = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  private emitLeadership(active: boolean): void {
    if (this.deps.events.has('leadership')) this.deps.events.emit('leadership', { relayId: this.relayId, active });
  }

  /** Deletes SENT rows older than the retention. */
  async cleanup(retentionMs = this.settings.retentionMs): Promise<number> {
    const deleted = await this.deps.store.deleteSentBefore(this.deps.now() - retentionMs, OUTBOX_DEFAULTS.cleanupBatchSize, OUTBOX_DEFAULTS.cleanupMaxBatches);
    this.deps.stats.cleaned += deleted;
    if (deleted > 0 && this.deps.events.has('cleanup')) this.deps.events.emit('cleanup', { deleted });
    return deleted;
  }

  /** One pass: claim a batch and send it. Usable without start() (tests, cron-style relays). */
  async runOnce(): Promise<RelayPassResult> {
    const send = this.deps.send;
    if (!send) throw new TypeError('outbox relay: no producer, template or send function was given to createOutbox');
    const { store, stats, events } = this.deps;
    stats.relayPasses++;
    if (this.settings.singleActiveRelay) {
      const active = await store.acquireLease(this.relayId, this.deps.now(), this.settings.leaseMs);
      if (active !== this.active) {
        this.active = active;
        this.emitLeadership(active);
      }
      if (!active) return { claimed: 0, sent: 0, failed: 0, active: false };
    }
    const token = `${this.relayId}#${++this.claimSeq}`;
    const rows = await store.claim(token, this.deps.now(), this.settings.leaseMs, this.settings.batchSize);
    if (rows.length === 0) return { claimed: 0, sent: 0, failed: 0, active: true };
    const reclaimed = rows.filter((r) => r.reclaimed).length;
    stats.claimed += rows.length;
    stats.reclaimed += reclaimed;
    if (events.has('claimed')) events.emit('claimed', { relayId: this.relayId, count: rows.length, reclaimed });
    const result: RelayPassResult = { claimed: rows.length, sent: 0, failed: 0, active: true };
    // Rows of one batch never share a sharding key (the claim holds back younger rows of a key), so
    // they can go out concurrently; a small worker pool bounds it.
    let next = 0;
    const worker = async () => {
      while (next < rows.length) {
        const row = rows[next++]!;
        const outcome = await this.sendRow(row, send);
        if (outcome === 'sent') result.sent++;
        else if (outcome === 'failed') result.failed++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.settings.sendConcurrency, rows.length) }, worker));
    return result;
  }

  private async sendRow(row: ClaimedRow, send: OutboxSendFunction): Promise<'sent' | 'retry' | 'failed' | 'lost'> {
    const { store, stats, events } = this.deps;
    let sendResult: unknown;
    try {
      if ((row.lockedUntilMs ?? 0) <= this.deps.now()) throw new Error('claim lease expired before the send started');
      sendResult = await send(rowToMessage(row), row.shardingKey ?? undefined);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      stats.sendFailures++;
      const permanent = isPermanentSendError(error) && !/claim lease expired/.test(error.message);
      const failed = permanent || row.attempts >= this.settings.maxAttempts;
      const nextAttemptAtMs = failed ? this.deps.now() : this.deps.now() + backoffDelayMs(row.attempts, this.settings.backoff, this.deps.random);
      const kept = await store.markFailed(row.id, row.token, failed ? 'FAILED' : 'PENDING', nextAttemptAtMs, errorText(error));
      if (!kept) return this.leaseLost(row);
      if (failed) stats.failed++;
      if (events.has('send.failed')) {
        events.emit('send.failed', {
          id: row.id,
          msgId: row.msgId,
          topic: row.topic,
          attempts: row.attempts,
          error,
          status: failed ? 'FAILED' : 'PENDING',
          nextAttemptAtMs: failed ? undefined : nextAttemptAtMs,
        });
      }
      return failed ? 'failed' : 'retry';
    }
    // Sent. A crash right here leaves the row SENDING; once its lease expires it is sent again.
    const marked = await store.markSent(row.id, row.token, this.deps.now());
    if (!marked) return this.leaseLost(row);
    stats.sent++;
    if (row.reclaimed) stats.resent++;
    if (events.has('sent')) events.emit('sent', { id: row.id, msgId: row.msgId, topic: row.topic, attempts: row.attempts, resend: row.reclaimed, result: sendResult });
    return 'sent';
  }

  private leaseLost(row: ClaimedRow): 'lost' {
    this.deps.stats.leaseLost++;
    this.deps.logger?.warn({ id: row.id, msgId: row.msgId, relayId: this.relayId }, 'outbox row claim was taken over before it was marked (it will be resent)');
    if (this.deps.events.has('lease.lost')) this.deps.events.emit('lease.lost', { id: row.id, msgId: row.msgId, relayId: this.relayId });
    return 'lost';
  }
}
