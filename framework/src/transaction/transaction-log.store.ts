/**
 * The local transaction table (`rocketry_tx_log` by default) and the operations on it.
 *
 *   tx_id          varchar(64)  PK   transaction id = the half message's UNIQ_KEY
 *   producer_group varchar(255)      producer group of the half message
 *   topic          varchar(255)      its real topic
 *   state          varchar(16)       COMMIT (written inside the business DB transaction)
 *                                    | ROLLBACK (a fence written by a check-back, see README.md)
 *   msg_keys       varchar(512) null message keys, for people reading the table
 *   created_at_ms  bigint       idx  epoch ms of the write (retention)
 *
 * The primary key is what makes the check-back safe: a COMMIT row and a ROLLBACK fence for the same
 * id can never both exist, whichever commits first wins and the other insert fails.
 * Works on SQLite (better-sqlite3), PostgreSQL and MySQL/MariaDB through knex.
 */
import type { Knex } from 'knex';
import { TRANSACTIONAL_DEFAULTS, TX_STATE_COMMIT, TX_STATE_ROLLBACK } from './constants';

export type TransactionLogState = typeof TX_STATE_COMMIT | typeof TX_STATE_ROLLBACK;

export interface TransactionLogRow {
  txId: string;
  group: string;
  topic: string;
  state: TransactionLogState;
  keys: string | null;
  createdAtMs: number;
}

interface DbRow {
  tx_id: string;
  producer_group: string;
  topic: string;
  state: string;
  msg_keys: string | null;
  created_at_ms: number | string;
}

const TABLE_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function checkTableName(name: string): string {
  if (!TABLE_NAME_RE.test(name)) throw new TypeError(`invalid transaction table name ${JSON.stringify(name)} (letters, digits, _; max 63)`);
  return name;
}

/** Creates the table schema on `schema` (used by the migration and by `ensureTransactionTable`). */
function createTable(schema: Knex.SchemaBuilder, tableName: string): Knex.SchemaBuilder {
  return schema.createTable(tableName, (t) => {
    t.string('tx_id', 64).primary();
    t.string('producer_group', 255).notNullable();
    t.string('topic', 255).notNullable();
    t.string('state', 16).notNullable();
    t.string('msg_keys', 512).nullable();
    t.bigInteger('created_at_ms').notNullable().index(`${tableName}_created_idx`);
  });
}

/** Creates the table if it does not exist (safe to call from several processes at once). */
export async function ensureTransactionTable(knex: Knex, tableName: string = TRANSACTIONAL_DEFAULTS.tableName): Promise<void> {
  checkTableName(tableName);
  if (await knex.schema.hasTable(tableName)) return;
  try {
    await createTable(knex.schema, tableName);
  } catch (err) {
    // Another process may have created it meanwhile.
    if (!(await knex.schema.hasTable(tableName))) throw err;
  }
}

/** The table as a knex migration (`up` / `down`), for apps that manage their schema with migrations. */
export function transactionLogMigration(tableName: string = TRANSACTIONAL_DEFAULTS.tableName): Knex.Migration {
  checkTableName(tableName);
  return {
    up: async (knex: Knex) => {
      await createTable(knex.schema, tableName);
    },
    down: async (knex: Knex) => {
      await knex.schema.dropTableIfExists(tableName);
    },
  };
}

/**
 * A knex `MigrationSource` holding just this migration:
 * `knex.migrate.latest({ migrationSource: new TransactionLogMigrationSource() })`, or combine it with
 * your own source.
 */
export class TransactionLogMigrationSource implements Knex.MigrationSource<string> {
  static readonly MIGRATION_NAME = '20261124000000_create_rocketry_tx_log';

  constructor(private readonly tableName: string = TRANSACTIONAL_DEFAULTS.tableName) {
    checkTableName(tableName);
  }

  getMigrations(): Promise<string[]> {
    return Promise.resolve([TransactionLogMigrationSource.MIGRATION_NAME]);
  }

  getMigrationName(migration: string): string {
    return migration;
  }

  getMigration(): Promise<Knex.Migration> {
    return Promise.resolve(transactionLogMigration(this.tableName));
  }
}

export interface CleanupOptions {
  /** Rows older than this are deleted. Default 7 days. */
  retentionMs?: number;
  batchSize?: number;
  maxBatches?: number;
  /** Clock seam. */
  nowMs?: number;
}

export interface FenceOutcome {
  /** The state now on record for the id: ROLLBACK when our fence won, else what was already there. */
  state: TransactionLogState;
  /** True when this call wrote the ROLLBACK row. */
  fenced: boolean;
}

export class TransactionLogStore {
  readonly tableName: string;
  private readonly queryTimeoutMs: number;

  constructor(
    readonly knex: Knex,
    tableName: string = TRANSACTIONAL_DEFAULTS.tableName,
    options: { fenceTimeoutMs?: number } = {},
  ) {
    this.tableName = checkTableName(tableName);
    this.queryTimeoutMs = options.fenceTimeoutMs ?? TRANSACTIONAL_DEFAULTS.fenceTimeoutMs;
  }

  /** The knex client name family: 'sqlite', 'pg', 'mysql' or another. */
  get dialect(): string {
    const client = String((this.knex.client as { config?: { client?: unknown } }).config?.client ?? '');
    if (/sqlite/i.test(client)) return 'sqlite';
    if (/^(pg|postgres)/i.test(client)) return 'pg';
    if (/mysql|maria/i.test(client)) return 'mysql';
    return client;
  }

  ensureTable(): Promise<void> {
    return ensureTransactionTable(this.knex, this.tableName);
  }

  /** Writes the COMMIT row inside the caller's DB transaction (fails if the id was fenced). */
  async insertCommit(trx: Knex.Transaction, row: Omit<TransactionLogRow, 'state' | 'createdAtMs'>, nowMs = Date.now()): Promise<void> {
    await trx(this.tableName).insert(this.toDb({ ...row, state: TX_STATE_COMMIT, createdAtMs: nowMs }));
  }

  async find(txId: string): Promise<TransactionLogRow | undefined> {
    const row = (await this.knex<DbRow>(this.tableName).where({ tx_id: txId }).first()) as DbRow | undefined;
    return row ? fromDb(row) : undefined;
  }

  /**
   * Writes a ROLLBACK row for `txId` unless a row exists. Autocommitted single insert: if the owning
   * transaction already inserted its COMMIT row but has not committed, the insert waits for it (up to
   * `fenceTimeoutMs` on PostgreSQL/MySQL, the busy timeout on SQLite) and then fails as a duplicate.
   * Throws when the outcome cannot be established (lock timeout, DB down): answer UNKNOWN then.
   */
  async fenceRollback(row: Omit<TransactionLogRow, 'state' | 'createdAtMs'>, nowMs = Date.now()): Promise<FenceOutcome> {
    try {
      let q = this.knex(this.tableName).insert(this.toDb({ ...row, state: TX_STATE_ROLLBACK, createdAtMs: nowMs }));
      if (this.dialect === 'pg' || this.dialect === 'mysql') q = q.timeout(this.queryTimeoutMs, { cancel: true });
      await q;
      return { state: TX_STATE_ROLLBACK, fenced: true };
    } catch (err) {
      // Dialect-neutral duplicate detection: if a row is there now, it won.
      const existing = await this.find(row.txId);
      if (existing) return { state: existing.state, fenced: false };
      throw err;
    }
  }

  /** Deletes rows older than the retention, in bounded batches. Resolves with the number deleted. */
  async cleanup(options: CleanupOptions = {}): Promise<number> {
    const retentionMs = options.retentionMs ?? TRANSACTIONAL_DEFAULTS.retentionMs;
    const batchSize = options.batchSize ?? TRANSACTIONAL_DEFAULTS.cleanupBatchSize;
    const maxBatches = options.maxBatches ?? TRANSACTIONAL_DEFAULTS.cleanupMaxBatches;
    const cutoff = (options.nowMs ?? Date.now()) - retentionMs;
    let deleted = 0;
    for (let i = 0; i < maxBatches; i++) {
      // Select then delete by key: portable (PostgreSQL has no DELETE ... LIMIT, MySQL no LIMIT in IN subqueries).
      const ids = (await this.knex(this.tableName).select('tx_id').where('created_at_ms', '<', cutoff).limit(batchSize)) as Array<{ tx_id: string }>;
      if (ids.length === 0) break;
      deleted += await this.knex(this.tableName)
        .whereIn(
          'tx_id',
          ids.map((r) => r.tx_id),
        )
        .del();
      if (ids.length < batchSize) break;
    }
    return deleted;
  }

  private toDb(row: TransactionLogRow): DbRow {
    return {
      tx_id: row.txId,
      producer_group: row.group,
      topic: row.topic,
      state: row.state,
      msg_keys: row.keys === null ? null : row.keys.slice(0, 512),
      created_at_ms: row.createdAtMs,
    };
  }
}

function fromDb(row: DbRow): TransactionLogRow {
  return {
    txId: row.tx_id,
    group: row.producer_group,
    topic: row.topic,
    state: row.state === TX_STATE_COMMIT ? TX_STATE_COMMIT : TX_STATE_ROLLBACK,
    keys: row.msg_keys,
    // pg returns bigint as a string.
    createdAtMs: Number(row.created_at_ms),
  };
}
