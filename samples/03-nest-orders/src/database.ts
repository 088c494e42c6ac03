/**
 * The service's database: one knex for everything (orders, inventory, the outbox, the local
 * transaction table of @TransactionalProducer, the dedup table), so a business write and its
 * message record commit in ONE transaction. SQLite by default; PostgreSQL or MySQL/MariaDB through
 * DATABASE_URL.
 *
 * Tables of the sample (the framework creates its own: rocketry_outbox, rocketry_tx_log, dedup):
 *
 *   orders             id PK, sku, qty, status, via ('outbox' | 'transactional'), created_at_ms
 *   inventory_effects  order_id UNIQUE (one effect per order — the ledger), sku, qty, msg_id,
 *                      deliveries (how many times a delivery reached the effect; > 1 = a redelivery
 *                      the unique key absorbed), applied_at_ms
 *   stock              sku PK, available
 *   dead_letters       id, msg_id, order_id, reconsume_times, reason, received_at_ms
 */
import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { appConfig, type OrdersSampleConfig } from './config';

export type Dialect = 'sqlite' | 'pg' | 'mysql';

export function dialectOf(cfg: Pick<OrdersSampleConfig, 'databaseUrl'>): Dialect {
  const url = cfg.databaseUrl ?? '';
  if (/^postgres(ql)?:/.test(url)) return 'pg';
  if (/^mysql:/.test(url)) return 'mysql';
  if (url !== '') throw new Error(`DATABASE_URL must start with postgres:// or mysql:// (unset = SQLite), got ${url}`);
  return 'sqlite';
}

export function createKnex(cfg: OrdersSampleConfig): Knex {
  const dialect = dialectOf(cfg);
  if (dialect === 'pg') {
    return knexFactory({
      client: 'pg',
      connection: cfg.databaseUrl,
      ...(cfg.databaseSchema ? { searchPath: [cfg.databaseSchema] } : {}),
      pool: { min: 0, max: 10 },
    });
  }
  if (dialect === 'mysql') return knexFactory({ client: 'mysql2', connection: cfg.databaseUrl, pool: { min: 0, max: 10 } });
  fs.mkdirSync(path.dirname(cfg.sqliteFile), { recursive: true });
  return knexFactory({
    client: 'better-sqlite3',
    connection: { filename: cfg.sqliteFile },
    useNullAsDefault: true,
    pool: {
      // WAL lets readers run beside the writer; the busy timeout waits for the write lock instead of failing.
      afterCreate: (conn: { pragma: (s: string) => unknown }, done: (err: Error | null, conn: unknown) => void) => {
        conn.pragma('journal_mode = WAL');
        conn.pragma('busy_timeout = 10000');
        done(null, conn);
      },
    },
  });
}

/** Creates the sample's tables when missing (idempotent; several processes may run it at once). */
export async function migrate(knex: Knex, cfg: OrdersSampleConfig): Promise<void> {
  if (dialectOf(cfg) === 'pg' && cfg.databaseSchema) await knex.raw('create schema if not exists ??', [cfg.databaseSchema]);
  const create = async (name: string, build: (t: Knex.CreateTableBuilder) => void) => {
    if (await knex.schema.hasTable(name)) return;
    try {
      await knex.schema.createTable(name, build);
    } catch (err) {
      // Another process created it between the check and the create.
      if (!(await knex.schema.hasTable(name))) throw err;
    }
  };
  await create('orders', (t) => {
    t.string('id', 64).primary();
    t.string('sku', 64).notNullable();
    t.integer('qty').notNullable();
    t.string('status', 16).notNullable();
    t.string('via', 16).notNullable();
    t.bigInteger('created_at_ms').notNullable();
  });
  await create('inventory_effects', (t) => {
    t.string('order_id', 64).notNullable().unique();
    t.string('sku', 64).notNullable();
    t.integer('qty').notNullable();
    t.string('msg_id', 64).notNullable();
    t.integer('deliveries').notNullable().defaultTo(1);
    t.bigInteger('applied_at_ms').notNullable();
  });
  await create('stock', (t) => {
    t.string('sku', 64).primary();
    t.bigInteger('available').notNullable();
  });
  await create('dead_letters', (t) => {
    t.increments('id');
    t.string('msg_id', 64).notNullable();
    t.string('order_id', 64).nullable();
    t.integer('reconsume_times').notNullable();
    t.string('reason', 512).nullable();
    t.bigInteger('received_at_ms').notNullable();
  });
}

/**
 * The process's knex. Created at import (knex connects lazily, on the first query) because the
 * inventory listener's `dedup: { store: 'db', db }` option is a decorator argument and needs the
 * instance when the class is defined. Nest gets it as the KNEX provider; AppLifecycle destroys it.
 */
export const db: Knex = createKnex(appConfig);
