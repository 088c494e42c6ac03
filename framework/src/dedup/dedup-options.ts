/**
 * The `dedup` option of `@RocketListener`: idempotent consumption tied to the listener
 * (feature-anchors.md §5.2, §6 #1). Defaults live in `DEDUP_DEFAULTS`; validation happens at
 * registration (framework/src/dedup/dedup-definition.ts) and names the listener and the field.
 *
 * - `store: 'redis'`: a two-state record per (group, key) — PROCESSING with a short lease while the
 *   handler runs, DONE kept for `ttlMs`. A copy that finds DONE is acknowledged without running the
 *   handler; a copy that finds PROCESSING is retried later (never dropped); a failing handler releases
 *   the lease so the retry can run. Effects are at-most-once within the window as long as the handler
 *   finishes within its (renewed) lease and Redis keeps the record.
 * - `store: 'db'`: a row in a consumed-message table (unique (consumer_group, dedup_key)) inserted in
 *   the SAME knex transaction the handler uses for its own writes (third handler argument `{ trx }`),
 *   so the business effect and the "consumed" mark commit or roll back together: exactly once.
 * - Either store unreachable: the message is retried later (RECONSUME_LATER), never consumed unguarded.
 */
import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import type { MessageExt } from '../client/message';

/** How the dedup key of a message is found. `'keys'` = the message KEYS joined with a space. */
export type DedupKeySource = 'msgId' | 'keys' | ((msg: MessageExt) => string);

export type DedupStoreName = 'redis' | 'db';

export interface DedupOptions {
  /** Where consumed keys are recorded. Required. */
  store: DedupStoreName;
  /** `store: 'redis'`: a `redis://` URL (the container owns and closes that client) or an ioredis client (yours). */
  redis?: string | Redis;
  /** `store: 'db'`: the knex instance your handler writes with (PostgreSQL, MySQL/MariaDB or SQLite). */
  db?: Knex;
  /** What identifies a duplicate. @defaultValue `'msgId'` (the UNIQ_KEY, kept across retries and replays) */
  key?: DedupKeySource;
  /** Dedup window: how long a DONE record (Redis) / consumed row (DB) is kept. @defaultValue 86_400_000 (24 h) */
  ttlMs?: number;
  /** Redis: lease of a PROCESSING record, renewed every third of it while the handler runs. @defaultValue 30_000 */
  processingLeaseMs?: number;
  /**
   * Delay level of the retry when the key is PROCESSING elsewhere or the store is unreachable
   * (concurrent listeners; orderly ones suspend the queue). 0 = the broker's schedule (3 + reconsumeTimes).
   * @defaultValue 0
   */
  retryDelayLevel?: number;
  /** Longest wait for one store call before the message is retried later. @defaultValue 3_000 */
  storeTimeoutMs?: number;
  /** Redis key prefix: keys are `<prefix>:<group>:<key>`. @defaultValue `'rocketry:dedup'` */
  keyPrefix?: string;
  /** DB table. @defaultValue `'rocketry_consumed'` */
  tableName?: string;
  /** DB: delete rows older than `ttlMs` this often (0 = never; call `cleanupConsumed` yourself). @defaultValue 60_000 */
  cleanupIntervalMs?: number;
  /** DB: create the table on first use when missing (off when you run the migration). @defaultValue true */
  createTable?: boolean;
}

export const DEDUP_DEFAULTS = {
  key: 'msgId',
  ttlMs: 86_400_000,
  processingLeaseMs: 30_000,
  retryDelayLevel: 0,
  storeTimeoutMs: 3_000,
  keyPrefix: 'rocketry:dedup',
  tableName: 'rocketry_consumed',
  cleanupIntervalMs: 60_000,
  createTable: true,
} as const;

/** Field names accepted in `dedup`; anything else fails registration. */
export const DEDUP_OPTION_NAMES: readonly (keyof DedupOptions)[] = [
  'store',
  'redis',
  'db',
  'key',
  'ttlMs',
  'processingLeaseMs',
  'retryDelayLevel',
  'storeTimeoutMs',
  'keyPrefix',
  'tableName',
  'cleanupIntervalMs',
  'createTable',
];

/** What the handler gets as its third argument (and custom invokers on the invocation). */
export interface RocketListenerExtras {
  /** `dedup.store: 'db'`: the transaction holding the consumed-row insert; write your effects with it. */
  trx?: Knex.Transaction;
  /** The dedup key of this message, when the listener has `dedup`. */
  dedupKey?: string;
}
