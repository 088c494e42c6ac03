/**
 * The outbox table (`rocketry_outbox` by default), its lease table, and the knex migration.
 *
 *   id                  bigint  PK auto   enqueue order (per-sharding-key order is by id)
 *   msg_id              varchar(64) uniq  UNIQ_KEY the message carries on every send
 *   topic               varchar(255)
 *   tags                varchar(255) null
 *   msg_keys            varchar(1024) null  KEYS, space-joined ("keys" is reserved in MySQL)
 *   body                blob              bytea (PostgreSQL), longblob (MySQL), blob (SQLite)
 *   properties          text              user properties as ASCII-only JSON (contentType, UNIQ_KEY, ...)
 *   delay_level         int null
 *   sharding_key        varchar(255) null  ordering key; also the orderly hash key
 *   status              varchar(16)       PENDING | SENDING | SENT | FAILED
 *   attempts            int               claims so far (each claim = one send attempt)
 *   next_attempt_at_ms  bigint            PENDING rows are due from here (backoff)
 *   last_error          text null
 *   claimed_by          varchar(160) null  relay claim token (relayId#seq) while SENDING; who sent it after
 *   locked_until_ms     bigint null       claim lease end; an expired SENDING row is claimed again
 *   created_at_ms       bigint
 *   sent_at_ms          bigint null
 *
 *   idx (status, next_attempt_at_ms, id)   the relay's claim query
 *   idx (sharding_key, id)                 "an older unsent row with my key?" check
 *   idx (status, sent_at_ms)               retention cleanup
 *
 * `<table>_lease` (name PK, owner, expires_at_ms): the single-active-relay lease (always used on SQLite).
 * Times are epoch ms in bigint columns: no time zone or precision differences between the dialects.
 */
import type { Knex } from 'knex';
import { DEFAULT_OUTBOX_TABLE } from './outbox-options';

/** Leaves room for the `_lease` / `_relay_idx` suffixes within PostgreSQL's 63-character names. */
const TABLE_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/;

export function checkOutboxTableName(name: string): string {
  if (!TABLE_NAME_RE.test(name)) throw new TypeError(`invalid outbox table name ${JSON.stringify(name)} (letters, digits, _; max 48)`);
  return name;
}

export type OutboxDialect = 'sqlite' | 'pg' | 'mysql';

/** The knex client family; other dialects are refused (they are untested and lack the claim SQL). */
export function outboxDialect(knex: Knex): OutboxDialect {
  const client = String((knex.client as { config?: { client?: unknown } }).config?.client ?? '');
  if (/sqlite/i.test(client)) return 'sqlite';
  if (/^(pg|postgres)/i.test(client)) return 'pg';
  if (/mysql|maria/i.test(client)) return 'mysql';
  throw new TypeError(`the outbox supports SQLite (better-sqlite3), PostgreSQL (pg) and MySQL/MariaDB (mysql2); got knex client ${JSON.stringify(client)}`);
}

export function leaseTableName(tableName: string): string {
  return `${tableName}_lease`;
}

function blobType(dialect: OutboxDialect): string {
  return dialect === 'pg' ? 'bytea' : dialect === 'mysql' ? 'longblob' : 'blob';
}

async function createTables(knex: Knex, tableName: string, ifMissing: boolean): Promise<void> {
  const dialect = outboxDialect(knex);
  const lease = leaseTableName(tableName);
  if (!ifMissing || !(await knex.schema.hasTable(tableName))) {
    await knex.schema.createTable(tableName, (t) => {
      if (dialect === 'mysql') {
        t.charset('utf8mb4');
        // Binary collation: sharding keys compare exactly (case-sensitive), as everywhere else.
        t.collate('utf8mb4_bin');
        t.engine('InnoDB');
      }
      t.bigIncrements('id').primary();
      t.string('msg_id', 64).notNullable().unique({ indexName: `${tableName}_msg_id_uq` });
      t.string('topic', 255).notNullable();
      t.string('tags', 255).nullable();
      t.string('msg_keys', 1024).nullable();
      t.specificType('body', blobType(dialect)).notNullable();
      t.text('properties').notNullable();
      t.integer('delay_level').nullable();
      t.string('sharding_key', 255).nullable();
      t.string('status', 16).notNullable();
      t.integer('attempts').notNullable().defaultTo(0);
      t.bigInteger('next_attempt_at_ms').notNullable();
      t.text('last_error').nullable();
      t.string('claimed_by', 160).nullable();
      t.bigInteger('locked_until_ms').nullable();
      t.bigInteger('created_at_ms').notNullable();
      t.bigInteger('sent_at_ms').nullable();
      t.index(['status', 'next_attempt_at_ms', 'id'], `${tableName}_relay_idx`);
      t.index(['sharding_key', 'id'], `${tableName}_order_idx`);
      t.index(['status', 'sent_at_ms'], `${tableName}_sent_idx`);
    });
  }
  if (!ifMissing || !(await knex.schema.hasTable(lease))) {
    await knex.schema.createTable(lease, (t) => {
      if (dialect === 'mysql') t.engine('InnoDB');
      t.string('name', 64).primary();
      t.string('owner', 160).nullable();
      t.bigInteger('expires_at_ms').notNullable().defaultTo(0);
    });
  }
}

/** Creates the outbox and lease tables if they do not exist (safe from several processes at once). */
export async function ensureOutboxTables(knex: Knex, tableName: string = DEFAULT_OUTBOX_TABLE): Promise<void> {
  checkOutboxTableName(tableName);
  try {
    await createTables(knex, tableName, true);
  } catch (err) {
    // Another process may have created them meanwhile.
    if (!(await knex.schema.hasTable(tableName)) || !(await knex.schema.hasTable(leaseTableName(tableName)))) throw err;
  }
}

/** Drops both tables (tests, `down` migrations). */
export async function dropOutboxTables(knex: Knex, tableName: string = DEFAULT_OUTBOX_TABLE): Promise<void> {
  checkOutboxTableName(tableName);
  await knex.schema.dropTableIfExists(leaseTableName(tableName));
  await knex.schema.dropTableIfExists(tableName);
}

/** The tables as a knex migration (`up` / `down`), for apps that manage their schema with migrations. */
export function outboxMigration(tableName: string = DEFAULT_OUTBOX_TABLE): Knex.Migration {
  checkOutboxTableName(tableName);
  return {
    up: (knex: Knex) => createTables(knex, tableName, false),
    down: (knex: Knex) => dropOutboxTables(knex, tableName),
  };
}

/**
 * A knex `MigrationSource` holding just this migration:
 * `knex.migrate.latest({ migrationSource: new OutboxMigrationSource() })`, or combine it with yours.
 */
export class OutboxMigrationSource implements Knex.MigrationSource<string> {
  static readonly MIGRATION_NAME = '20261124010000_create_rocketry_outbox';

  constructor(private readonly tableName: string = DEFAULT_OUTBOX_TABLE) {
    checkOutboxTableName(tableName);
  }

  getMigrations(): Promise<string[]> {
    return Promise.resolve([OutboxMigrationSource.MIGRATION_NAME]);
  }

  getMigrationName(migration: string): string {
    return migration;
  }

  getMigration(): Promise<Knex.Migration> {
    return Promise.resolve(outboxMigration(this.tableName));
  }
}
