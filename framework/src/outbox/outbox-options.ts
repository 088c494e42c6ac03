/**
 * Outbox options with their defaults in one place, and the public types of `createOutbox`.
 * Durations are in ms (unit in the name). Table layout: see outbox-table.ts.
 */
import type { Knex } from 'knex';
import type { Logger } from '../client/client-options';
import type { Message } from '../client/message';
import type { Producer, SendResult } from '../client/producer/producer';
import type { MessageConverter } from '../converter/message-converter';
import type { BackoffOptions, ResolvedBackoff } from '../retry/backoff';

export const DEFAULT_OUTBOX_TABLE = 'rocketry_outbox';

export const OUTBOX_DEFAULTS = {
  tableName: DEFAULT_OUTBOX_TABLE,
  /** Send attempts of one row before it becomes FAILED (then `resubmit` it). */
  maxAttempts: 10,
  /** Wait between attempts of one row: 1 s, 2 s, 4 s ... up to 5 min, 20 % jitter. */
  backoff: { initialMs: 1_000, multiplier: 2, maxMs: 300_000, jitter: 0.2 } satisfies ResolvedBackoff,
  /** Rows claimed per relay pass. */
  batchSize: 100,
  /** Relay poll period when idle (an enqueue in this process wakes it at once). */
  pollIntervalMs: 1_000,
  /** Rows of one batch sent at the same time (rows of one batch never share a sharding key). */
  sendConcurrency: 16,
  /**
   * A claimed (SENDING) row belongs to its relay for this long; after that another relay (or this one
   * after a restart) claims it again — the at-least-once path after a crash between send and mark-SENT.
   * Must exceed the longest send (producer `sendMsgTimeout`, 3 s by default) by far.
   */
  leaseMs: 30_000,
  /** SENT rows older than this are deleted by the cleanup. */
  retentionMs: 7 * 24 * 3_600_000,
  /** Period of the retention cleanup run by a started relay (0 = never; call `cleanup()` yourself). */
  cleanupIntervalMs: 3_600_000,
  /** Rows deleted per statement by the cleanup; at most `cleanupMaxBatches` statements per run. */
  cleanupBatchSize: 1_000,
  cleanupMaxBatches: 100,
  /** Rows per INSERT statement in `enqueue` (bounded statement size). */
  insertChunkSize: 500,
  /** Longest `last_error` text kept. */
  lastErrorMaxChars: 2_000,
} as const;

export type OutboxStatus = 'PENDING' | 'SENDING' | 'SENT' | 'FAILED';
export const OUTBOX_STATUSES: readonly OutboxStatus[] = ['PENDING', 'SENDING', 'SENT', 'FAILED'];

/**
 * A message to put in the outbox. `body`: a Buffer travels raw, a string as UTF-8, anything else as
 * JSON (through the converter, which also sets the `contentType` property, as RocketTemplate does).
 */
export interface OutboxMessage {
  topic: string;
  tags?: string;
  keys?: string | readonly string[];
  body: unknown;
  properties?: Record<string, string>;
  delayLevel?: number;
  /**
   * Ordering key: rows with the same key are sent one after another in enqueue order (a row waits
   * while an older row with that key is unsent, FAILED included), with the key as the orderly hash key
   * (`producer.sendOrderly`), so they land in one queue in order.
   */
  shardingKey?: string;
}

/** A row as the API returns it. */
export interface OutboxRow {
  /** Auto-increment id (a string: PostgreSQL returns bigint as text). */
  id: string;
  /** The UNIQ_KEY the message carries on every send (consumers may dedup by it). */
  msgId: string;
  topic: string;
  tags: string | null;
  keys: string | null;
  body: Buffer;
  properties: Record<string, string>;
  delayLevel: number | null;
  shardingKey: string | null;
  status: OutboxStatus;
  attempts: number;
  nextAttemptAtMs: number;
  lastError: string | null;
  createdAtMs: number;
  sentAtMs: number | null;
  claimedBy: string | null;
  lockedUntilMs: number | null;
}

/** How the relay sends a row. Default: `producer.sendOrderly(msg, key)` with a key, else `producer.send(msg)`. */
export type OutboxSendFunction = (msg: Message, shardingKey: string | undefined) => Promise<SendResult | unknown>;

/** Anything with a `producer` (RocketTemplate) can stand in for the producer. */
export interface HasProducer {
  readonly producer: Producer;
  readonly converter?: MessageConverter;
}

export interface OutboxOptions {
  /** The application's knex (SQLite via better-sqlite3, PostgreSQL via pg, MySQL/MariaDB via mysql2). */
  knex: Knex;
  /** Sends relayed rows. One of producer / template / send is needed to start the relay (not to enqueue). */
  producer?: Producer;
  /** A RocketTemplate (its producer sends; its converter turns bodies into bytes). */
  template?: HasProducer;
  /** Custom send (tests, other transports). */
  send?: OutboxSendFunction;
  /** @defaultValue 'rocketry_outbox' (the lease table is `<tableName>_lease`) */
  tableName?: string;
  /** @defaultValue 10 */
  maxAttempts?: number;
  /** @defaultValue 1 s × 2^n up to 5 min, jitter 0.2 */
  backoff?: BackoffOptions;
  /** @defaultValue 100 */
  batchSize?: number;
  /** @defaultValue 1000 */
  pollIntervalMs?: number;
  /** @defaultValue 16 */
  sendConcurrency?: number;
  /** @defaultValue 30000 */
  leaseMs?: number;
  /** @defaultValue 7 days */
  retentionMs?: number;
  /** @defaultValue 1 h (0 = no automatic cleanup) */
  cleanupIntervalMs?: number;
  /**
   * Only one relay sends at a time (a lease row in `<tableName>_lease`, renewed every pass; a standby
   * relay takes over when the lease expires). Always on for SQLite, which has no `SKIP LOCKED`.
   * @defaultValue true on SQLite, false on PostgreSQL / MySQL (several relays claim with SKIP LOCKED)
   */
  singleActiveRelay?: boolean;
  /** This relay's name in `claimed_by` and the lease row. @defaultValue `<hostname>:<pid>:<random>` */
  relayId?: string;
  /** Body conversion for non-Buffer, non-string bodies. @defaultValue the template's, else DefaultMessageConverter */
  converter?: MessageConverter;
  logger?: Logger;
  /** Clock seam (epoch ms). @defaultValue Date.now */
  now?: () => number;
  /** Random source of the backoff jitter. @defaultValue Math.random */
  random?: () => number;
}

// ---------------------------------------------------------------------------------------------
// Events and counters

export interface OutboxEnqueuedEvent {
  count: number;
  msgIds: string[];
}
export interface OutboxClaimedEvent {
  relayId: string;
  count: number;
  /** Rows claimed again after their lease expired (a relay died between send and mark-SENT). */
  reclaimed: number;
}
export interface OutboxSentEvent {
  id: string;
  msgId: string;
  topic: string;
  attempts: number;
  /** True when this row had been claimed before and its lease expired (at-least-once resend). */
  resend: boolean;
  result: unknown;
}
export interface OutboxSendFailedEvent {
  id: string;
  msgId: string;
  topic: string;
  attempts: number;
  error: Error;
  /** 'PENDING' (retried at `nextAttemptAtMs`) or 'FAILED' (maxAttempts reached). */
  status: 'PENDING' | 'FAILED';
  nextAttemptAtMs: number | undefined;
}
export interface OutboxLeaseLostEvent {
  id: string;
  msgId: string;
  relayId: string;
}
export interface OutboxRelayErrorEvent {
  relayId: string;
  error: Error;
}
export interface OutboxCleanupEvent {
  deleted: number;
}
export interface OutboxResubmittedEvent {
  count: number;
}
export interface OutboxLeadershipEvent {
  relayId: string;
  active: boolean;
}

export interface OutboxEventMap {
  enqueued: OutboxEnqueuedEvent;
  claimed: OutboxClaimedEvent;
  sent: OutboxSentEvent;
  'send.failed': OutboxSendFailedEvent;
  /** The row's claim was taken over before mark-SENT (the send outlived the lease): it will be resent. */
  'lease.lost': OutboxLeaseLostEvent;
  'relay.error': OutboxRelayErrorEvent;
  cleanup: OutboxCleanupEvent;
  resubmitted: OutboxResubmittedEvent;
  /** SQLite / singleActiveRelay: this relay became (or stopped being) the active one. */
  leadership: OutboxLeadershipEvent;
}

/** Counters of this process since creation (monotonic); row counts per status come from `counts()`. */
export interface OutboxStats {
  enqueued: number;
  /** Rows claimed by this process's relay (each claim is one send attempt). */
  claimed: number;
  /** Of `claimed`: rows whose earlier claim had expired (resends after a relay crash). */
  reclaimed: number;
  sent: number;
  /** Sent rows that had been claimed before (at-least-once resends). */
  resent: number;
  sendFailures: number;
  /** Rows moved to FAILED. */
  failed: number;
  resubmitted: number;
  cleaned: number;
  leaseLost: number;
  relayPasses: number;
  relayErrors: number;
}

/** What one relay pass did. */
export interface RelayPassResult {
  claimed: number;
  sent: number;
  failed: number;
  /** False when another relay holds the single-relay lease (SQLite / singleActiveRelay). */
  active: boolean;
}
