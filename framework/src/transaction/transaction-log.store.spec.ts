/**
 * The local transaction table on SQLite (file, two connections = two "processes"), PostgreSQL and
 * MariaDB/MySQL (real servers; unreachable = failure): creation and the knex migration, the COMMIT
 * row inside a business transaction, the ROLLBACK fence (and that it stops a late COMMIT), a fence
 * racing an uncommitted COMMIT row, and retention cleanup.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertReachable, createTestKnex, testKnexConfig, uniqueTableName, type TestDialect } from './db.test-support';
import { ensureTransactionTable, TransactionLogMigrationSource, TransactionLogStore } from './transaction-log.store';

const row = (txId: string) => ({ txId, group: 'g1', topic: 'T1', keys: 'k1 k2' });

describe.each<TestDialect>(['sqlite', 'pg', 'mysql'])('TransactionLogStore on %s', (dialect) => {
  let dir: string;
  let a: Knex;
  let b: Knex;
  const table = uniqueTableName('txlog_spec');
  const bizTable = uniqueTableName('biz_spec');
  let store: TransactionLogStore;
  let other: TransactionLogStore;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txlog-spec-'));
    const config = testKnexConfig(dialect, path.join(dir, 'db.sqlite'));
    a = createTestKnex(config);
    // better-sqlite3 is synchronous: a busy wait in this process would block the other connection's commit.
    b = createTestKnex(config, 200);
    await assertReachable(a, dialect);
    store = new TransactionLogStore(a, table, { fenceTimeoutMs: 3_000 });
    other = new TransactionLogStore(b, table, { fenceTimeoutMs: 3_000 });
    await ensureTransactionTable(a, table);
    await ensureTransactionTable(b, table); // idempotent
    await a.schema.createTable(bizTable, (t) => {
      t.string('id', 64).primary();
    });
  });

  afterAll(async () => {
    await a?.schema.dropTableIfExists(table).catch(() => undefined);
    await a?.schema.dropTableIfExists(bizTable).catch(() => undefined);
    await a?.destroy();
    await b?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes the COMMIT row with the business row in one transaction; a rolled back one leaves neither', async () => {
    const trx = await a.transaction();
    await trx(bizTable).insert({ id: 'o1' });
    await store.insertCommit(trx, row('TX1'));
    await trx.commit();
    expect(await other.find('TX1')).toMatchObject({ txId: 'TX1', state: 'COMMIT', group: 'g1', topic: 'T1', keys: 'k1 k2' });
    expect((await other.find('TX1'))!.createdAtMs).toBeGreaterThan(Date.now() - 60_000);

    const trx2 = await a.transaction();
    await trx2(bizTable).insert({ id: 'o2' });
    await store.insertCommit(trx2, row('TX2'));
    await trx2.rollback();
    expect(await other.find('TX2')).toBeUndefined();
    expect(await b(bizTable).where({ id: 'o2' }).first()).toBeUndefined();
  });

  it('fences an absent id with ROLLBACK, reports an existing COMMIT, and a fenced id can no longer commit', async () => {
    expect(await other.fenceRollback(row('TX3'))).toEqual({ state: 'ROLLBACK', fenced: true });
    expect(await other.fenceRollback(row('TX1'))).toEqual({ state: 'COMMIT', fenced: false });
    expect(await other.fenceRollback(row('TX3'))).toEqual({ state: 'ROLLBACK', fenced: false });
    const trx = await a.transaction();
    await trx(bizTable).insert({ id: 'o3' });
    await expect(store.insertCommit(trx, row('TX3'))).rejects.toThrow();
    await trx.rollback();
    expect(await b(bizTable).where({ id: 'o3' }).first()).toBeUndefined();
  });

  it('a fence racing an uncommitted COMMIT row never decides ROLLBACK: it waits and reports COMMIT (or, SQLite, fails → UNKNOWN)', async () => {
    const trx = await a.transaction();
    await trx(bizTable).insert({ id: 'o4' });
    await store.insertCommit(trx, row('TX4'));
    if (dialect === 'sqlite') {
      // The database is write-locked by the open transaction: the fence cannot be established.
      await expect(other.fenceRollback(row('TX4'))).rejects.toThrow(/locked|busy/i);
      await trx.commit();
      expect(await other.fenceRollback(row('TX4'))).toEqual({ state: 'COMMIT', fenced: false });
      return;
    }
    const fence = other.fenceRollback(row('TX4'));
    await new Promise((r) => setTimeout(r, 300));
    await trx.commit();
    expect(await fence).toEqual({ state: 'COMMIT', fenced: false });
  });

  it('a fence racing an uncommitted COMMIT row that then rolls back wins (ROLLBACK)', async () => {
    const trx = await a.transaction();
    await store.insertCommit(trx, row('TX5'));
    if (dialect === 'sqlite') {
      await expect(other.fenceRollback(row('TX5'))).rejects.toThrow(/locked|busy/i);
      await trx.rollback();
      expect(await other.fenceRollback(row('TX5'))).toEqual({ state: 'ROLLBACK', fenced: true });
      return;
    }
    const fence = other.fenceRollback(row('TX5'));
    await new Promise((r) => setTimeout(r, 300));
    await trx.rollback();
    expect(await fence).toEqual({ state: 'ROLLBACK', fenced: true });
  });

  it('cleanup deletes only rows older than the retention, in batches', async () => {
    const now = Date.now();
    for (let i = 0; i < 7; i++) await a(table).insert({ tx_id: `OLD${i}`, producer_group: 'g', topic: 't', state: 'COMMIT', msg_keys: null, created_at_ms: now - 10_000_000 });
    const deleted = await store.cleanup({ retentionMs: 5_000_000, batchSize: 3, nowMs: now });
    expect(deleted).toBe(7);
    expect(await store.find('OLD0')).toBeUndefined();
    expect(await store.find('TX1')).toBeDefined();
  });

  it('ships as a knex migration (up creates, down drops)', async () => {
    const migTable = uniqueTableName('txlog_mig');
    const cfg = { migrationSource: new TransactionLogMigrationSource(migTable), tableName: uniqueTableName('knex_mig') };
    try {
      await a.migrate.latest(cfg);
      expect(await a.schema.hasTable(migTable)).toBe(true);
      await a.migrate.rollback(cfg, true);
      expect(await a.schema.hasTable(migTable)).toBe(false);
    } finally {
      await a.schema.dropTableIfExists(migTable);
      await a.schema.dropTableIfExists(cfg.tableName);
      await a.schema.dropTableIfExists(`${cfg.tableName}_lock`);
    }
  });
});
