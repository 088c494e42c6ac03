/**
 * Keys, names and defaults of the transactional-producer machinery, in one place. Metadata keys use
 * `Symbol.for` so two copies of the package still agree (the NestJS / inversify starters read them).
 */

/** On a class (its constructor): `TransactionalMethodMetadata[]`, one per `@TransactionalProducer` method. */
export const TRANSACTIONAL_PRODUCER_METADATA = Symbol.for('rocketry:transactional-producer:methods');

/** Default name of the local transaction table. */
export const DEFAULT_TRANSACTION_TABLE = 'rocketry_tx_log';

/**
 * Message property naming the process that sent the half message (a random token per process), so
 * that process can settle its own finished transactions at once when the broker checks back.
 */
export const TX_OWNER_PROPERTY = 'ROCKETRY_TX_OWNER';

/** States stored in the table's `state` column. */
export const TX_STATE_COMMIT = 'COMMIT';
export const TX_STATE_ROLLBACK = 'ROLLBACK';

export const TRANSACTIONAL_DEFAULTS = {
  tableName: DEFAULT_TRANSACTION_TABLE,
  /**
   * Longest time from the half message's birth to the DB commit. A local transaction older than this
   * is rolled back by the framework before it writes its row, and a check-back finding no row for a
   * half older than this fences the id with a ROLLBACK row (see README.md). Keep it well below the
   * broker's check horizon (`transactionCheckMax` × `transactionCheckInterval`, 15 min by default).
   */
  localTransactionTimeoutMs: 60_000,
  /** Rows older than this are deleted; must exceed the broker's check horizon (default 15 min) by far. */
  retentionMs: 7 * 24 * 3_600_000,
  /** Period of the retention cleanup (0 = never; call `cleanup()` yourself). */
  cleanupIntervalMs: 3_600_000,
  /** Rows deleted per statement by the cleanup; at most `cleanupMaxBatches` statements per run. */
  cleanupBatchSize: 1_000,
  cleanupMaxBatches: 100,
  /** Time limit of a fencing insert waiting on another connection's lock (PostgreSQL / MySQL); then UNKNOWN. */
  fenceTimeoutMs: 5_000,
} as const;
