export * from './dedup-options';
export * from './dedup-errors';
export { dedupKeyOf, DEDUP_KEY_MAX_CHARS } from './dedup-key';
export {
  cleanupConsumed,
  ConsumedTableMigrationSource,
  consumedTableMigration,
  dedupDialectOf,
  ensureConsumedTable,
  type CleanupConsumedOptions,
  type DedupDialect,
} from './db-dedup.store';
export { RedisDedupStore, type AcquireOutcome } from './redis-dedup.store';
