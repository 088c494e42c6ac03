/** Dedup errors, in the client's one taxonomy (MQClientError: code, retriable, cause). */
import { MQClientError } from '../client/errors';

/** The dedup store (Redis / database) did not answer in time or refused: the message is retried later. */
export class DedupStoreUnavailableError extends MQClientError {
  constructor(store: string, operation: string, cause?: unknown) {
    const why = cause instanceof Error ? cause.message : cause === undefined ? 'no answer' : String(cause);
    super('CONNECT_FAILED', `dedup store ${store} unavailable during ${operation}: ${why}`, { retriable: true, cause });
    this.name = 'DedupStoreUnavailableError';
  }
}

/** The knex dialect has no insert-or-ignore (knex `onConflict().ignore()` is PostgreSQL, MySQL and SQLite only). */
export class UnsupportedDedupDialectError extends MQClientError {
  constructor(readonly dialect: string) {
    super(
      'ILLEGAL_ARGUMENT',
      `dedup store 'db' does not support the knex client "${dialect}": the consumed-message insert needs insert-or-ignore ` +
        `(ON CONFLICT DO NOTHING / INSERT IGNORE / INSERT OR IGNORE), available on PostgreSQL (pg), MySQL/MariaDB (mysql, mysql2) and SQLite (sqlite3, better-sqlite3); ` +
        `use store: 'redis' or one of those databases`,
    );
    this.name = 'UnsupportedDedupDialectError';
  }
}

/** The message has no value for the configured dedup key (e.g. `key: 'keys'` on a message without KEYS). */
export class DedupKeyError extends MQClientError {
  constructor(message: string) {
    super('ILLEGAL_ARGUMENT', message);
    this.name = 'DedupKeyError';
  }
}

/** Resolves like `p`, or rejects with DedupStoreUnavailableError after `timeoutMs`. */
export function withStoreTimeout<T>(p: Promise<T>, timeoutMs: number, store: string, operation: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DedupStoreUnavailableError(store, operation, new Error(`no answer within ${timeoutMs} ms`))), timeoutMs);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
