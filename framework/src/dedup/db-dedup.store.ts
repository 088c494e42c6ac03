/**
 * The consumed-message table (`rocketry_consumed` by default) for `dedup: { store: 'db' }`.
 *
 *   consumer_group varchar(255)  ┐ primary key: one row per consumed (group, key)
 *   dedup_key      varchar(200)  ┘
 *   created_at_ms  bigint   idx   epoch ms of the consume (expiry cleanup)
 *
 * Per message: BEGIN → insert-or-ignore the row → 0 rows = a duplicate (roll back, acknowledge) →
 * 1 row = run the handler with the same transaction → COMMIT. The business effect and the row commit
 * or roll back together, so the effect happens exactly once. A concurrent copy blocks on the key
 * (PostgreSQL, MySQL) or on the write lock (SQLite) until the first commits (→ duplicate) or rolls back
 * (→ it runs). Insert-or-ignore: `ON CONFLICT DO NOTHING` (PostgreSQL), `INSERT IGNORE` (MySQL/MariaDB),
 * `INSERT OR IGNORE` (SQLite); other dialects fail at registration (UnsupportedDedupDialectError).
 */
import type { Knex } from 'knex';
import { DEDUP_DEFAULTS } from './dedup-options';
import { DedupStoreUnavailableError, UnsupportedDedupDialectError, withStoreTimeout } from './dedup-errors';

export type DedupDialect = 'pg' | 'mysql' | 'sqlite';

const TABLE_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export function checkConsumedTableName(name: string): string {
  if (!TABLE_NAME_RE.test(name)) throw new TypeError(`invalid consumed-message table name ${JSON.stringify(name)} (letters, digits, _; max 63)`);
  return name;
}

/** The knex client name (`knex.client.config.client` or its dialect). */
export function knexClientName(knex: Knex): string {
  const client = (knex as unknown as { client?: { dialect?: unknown; config?: { client?: unknown } } }).client;
  const configured = client?.config?.client;
  if (typeof configured === 'string') return configured;
  if (typeof client?.dialect === 'string') return client.dialect;
  return 'unknown';
}

/** Which insert-or-ignore the knex instance speaks; throws UnsupportedDedupDialectError otherwise. */
export function dedupDialectOf(knex: Knex): DedupDialect {
  const name = knexClientName(knex);
  if (['pg', 'postgres', 'postgresql', 'pgnative', 'cockroachdb'].includes(name)) return 'pg';
  if (['mysql', 'mysql2'].includes(name)) return 'mysql';
  if (['sqlite3', 'better-sqlite3', 'sqlite'].includes(name)) return 'sqlite';
  throw new UnsupportedDedupDialectError(name);
}

function createTable(schema: Knex.SchemaBuilder, tableName: string): Knex.SchemaBuilder {
  return schema.createTable(tableName, (t) => {
    t.string('consumer_group', 255).notNullable();
    t.string('dedup_key', 200).notNullable();
    t.bigInteger('created_at_ms').notNullable().index(`${tableName}_created_idx`);
    t.primary(['consumer_group', 'dedup_key']);
  });
}

/** Creates the table if missing (safe from several processes at once). */
export async function ensureConsumedTable(knex: Knex, tableName: string = DEDUP_DEFAULTS.tableName): Promise<void> {
  checkConsumedTableName(tableName);
  if (await knex.schema.hasTable(tableName)) return;
  try {
    await createTable(knex.schema, tableName);
  } catch (err) {
    if (!(await knex.schema.hasTable(tableName))) throw err;
  }
}

/** The table as a knex migration (`up` / `down`). */
export function consumedTableMigration(tableName: string = DEDUP_DEFAULTS.tableName): Knex.Migration {
  checkConsumedTableName(tableName);
  return {
    up: async (knex: Knex) => {
      await createTable(knex.schema, tableName);
    },
    down: async (knex: Knex) => {
      await knex.schema.dropTableIfExists(tableName);
    },
  };
}

/** `knex.migrate.latest({ migrationSource: new ConsumedTableMigrationSource() })`. */
export class ConsumedTableMigrationSource implements Knex.MigrationSource<string> {
  static readonly MIGRATION_NAME = '20261124010000_create_rocketry_consumed';

  constructor(private readonly tableName: string = DEDUP_DEFAULTS.tableName) {
    checkConsumedTableName(tableName);
  }

  getMigrations(): Promise<string[]> {
    return Promise.resolve([ConsumedTableMigrationSource.MIGRATION_NAME]);
  }

  getMigrationName(migration: string): string {
    return migration;
  }

  getMigration(): Promise<Knex.Migration> {
    return Promise.resolve(consumedTableMigration(this.tableName));
  }
}

/**
 * Inserts the consumed row inside `trx` unless it exists. True = inserted (first consume), false =
 * already there (a duplicate).
 */
export async function insertConsumedIfAbsent(trx: Knex | Knex.Transaction, dialect: DedupDialect, tableName: string, group: string, key: string, nowMs: number): Promise<boolean> {
  const cols = '(consumer_group, dedup_key, created_at_ms) values (?, ?, ?)';
  const bindings = [tableName, group, key, nowMs];
  if (dialect === 'pg') {
    const r = (await trx.raw(`insert into ?? ${cols} on conflict do nothing`, bindings)) as { rowCount?: number };
    return (r.rowCount ?? 0) > 0;
  }
  if (dialect === 'mysql') {
    const r = (await trx.raw(`insert ignore into ?? ${cols}`, bindings)) as [{ affectedRows?: number }];
    return (r[0]?.affectedRows ?? 0) > 0;
  }
  const r = (await trx.raw(`insert or ignore into ?? ${cols}`, bindings)) as { changes?: number };
  return (r.changes ?? 0) > 0;
}

export interface CleanupConsumedOptions {
  /** Rows older than this are deleted. @defaultValue DEDUP_DEFAULTS.ttlMs */
  ttlMs?: number;
  tableName?: string;
  /** Rows per DELETE. @defaultValue 1000 */
  batchSize?: number;
  /** Bound on DELETE statements per call. @defaultValue 100 */
  maxBatches?: number;
  nowMs?: number;
}

/** Deletes consumed rows older than the dedup window, in bounded batches. Returns the rows deleted. */
export async function cleanupConsumed(knex: Knex, opts: CleanupConsumedOptions = {}): Promise<number> {
  const tableName = checkConsumedTableName(opts.tableName ?? DEDUP_DEFAULTS.tableName);
  const cutoff = (opts.nowMs ?? Date.now()) - (opts.ttlMs ?? DEDUP_DEFAULTS.ttlMs);
  const batchSize = opts.batchSize ?? 1_000;
  let total = 0;
  for (let i = 0; i < (opts.maxBatches ?? 100); i++) {
    // Portable bounded delete: pick a batch of keys, delete those (MySQL forbids LIMIT in IN-subqueries).
    const rows = (await knex(tableName).select('consumer_group', 'dedup_key').where('created_at_ms', '<', cutoff).limit(batchSize)) as Array<{ consumer_group: string; dedup_key: string }>;
    if (rows.length === 0) break;
    for (const r of rows) total += await knex(tableName).where({ consumer_group: r.consumer_group, dedup_key: r.dedup_key }).andWhere('created_at_ms', '<', cutoff).delete();
    if (rows.length < batchSize) break;
  }
  return total;
}

export interface DbDedupStoreOptions {
  tableName: string;
  ttlMs: number;
  storeTimeoutMs: number;
  createTable: boolean;
  cleanupIntervalMs: number;
}

export type DbRunOutcome<T> = { duplicate: true } | { duplicate: false; value: T };

/** Thrown inside the transaction callback to roll back without it being the handler's error. */
class Rollback<T> extends Error {
  constructor(readonly value: T) {
    super('rollback');
  }
}

export class DbDedupStore {
  readonly dialect: DedupDialect;
  private ensured: Promise<void> | undefined;
  private cleanupTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly knex: Knex,
    private readonly opts: DbDedupStoreOptions,
  ) {
    this.dialect = dedupDialectOf(knex);
    checkConsumedTableName(opts.tableName);
  }

  private ensureTable(): Promise<void> {
    if (!this.opts.createTable) return Promise.resolve();
    this.ensured ??= withStoreTimeout(ensureConsumedTable(this.knex, this.opts.tableName), this.opts.storeTimeoutMs, 'db', 'create table').catch((err: unknown) => {
      this.ensured = undefined;
      throw err instanceof DedupStoreUnavailableError ? err : new DedupStoreUnavailableError('db', 'create table', err);
    });
    return this.ensured;
  }

  /**
   * Runs `fn(trx)` in a transaction that first records (group, key). Handler errors propagate as they
   * are (rolled back); store failures (begin, insert, commit) become DedupStoreUnavailableError.
   * `keepIf(value)` false rolls back a value the handler returned (a RECONSUME_LATER status).
   */
  async run<T>(group: string, key: string, fn: (trx: Knex.Transaction) => Promise<T>, keepIf: (value: T) => boolean): Promise<DbRunOutcome<T>> {
    await this.ensureTable();
    let handlerError: { error: unknown } | undefined;
    try {
      return await this.knex.transaction(async (trx) => {
        let inserted: boolean;
        try {
          inserted = await withStoreTimeout(insertConsumedIfAbsent(trx, this.dialect, this.opts.tableName, group, key, Date.now()), this.opts.storeTimeoutMs, 'db', 'insert');
        } catch (err) {
          throw err instanceof DedupStoreUnavailableError ? err : new DedupStoreUnavailableError('db', 'insert', err);
        }
        if (!inserted) throw new Rollback<DbRunOutcome<T>>({ duplicate: true });
        let value: T;
        try {
          value = await fn(trx);
        } catch (err) {
          handlerError = { error: err };
          throw err;
        }
        if (!keepIf(value)) throw new Rollback<DbRunOutcome<T>>({ duplicate: false, value });
        return { duplicate: false as const, value };
      });
    } catch (err) {
      if (err instanceof Rollback) return err.value as DbRunOutcome<T>;
      if (handlerError && err === handlerError.error) throw err;
      if (err instanceof DedupStoreUnavailableError) throw err;
      // Begin or commit failed (connection lost, serialization failure, ...): outcome unknown, retry later;
      // if the commit did land, the retry finds the row and acknowledges.
      throw new DedupStoreUnavailableError('db', handlerError ? 'rollback' : 'transaction', err);
    }
  }

  /** Periodic expiry cleanup (unref'd); errors are reported to `onError`. */
  startCleanup(onError: (err: unknown) => void): void {
    if (this.opts.cleanupIntervalMs <= 0 || this.cleanupTimer) return;
    this.cleanupTimer = setInterval(() => {
      cleanupConsumed(this.knex, { ttlMs: this.opts.ttlMs, tableName: this.opts.tableName }).catch(onError);
    }, this.opts.cleanupIntervalMs);
    this.cleanupTimer.unref();
  }

  stop(): void {
    if (this.cleanupTimer) clearInterval(this.cleanupTimer);
    this.cleanupTimer = undefined;
  }
}
