/**
 * Transactional messages through `rocketry start` (separate process, checks every 1 s for halves
 * older than 1 s):
 *  - TransactionProducer: COMMIT delivered, ROLLBACK never, UNKNOWN → check → COMMIT delivered,
 *    UNKNOWN → check → ROLLBACK never, an exception in executeLocalTransaction = UNKNOWN → check.
 *  - @TransactionalProducer on SQLite, PostgreSQL and MariaDB/MySQL: both message modes commit
 *    (business row + table row + delivery), a throwing method rolls everything back, check-backs for
 *    halves of a dead group member are answered from the table (row → COMMIT; no row past the
 *    window → fenced ROLLBACK), and a second group in the same app uses its own custom checker.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransactionProducer, type LocalTransactionState, type TransactionCheckEvent } from '../../framework/src/client/producer/transaction-producer';
import { assertReachable, createTestKnex, testKnexConfig, uniqueTableName, type TestDialect } from '../../framework/src/transaction/db.test-support';
import { TransactionalProducer } from '../../framework/src/transaction/transactional-producer.decorator';
import { createTransactionalProducers, currentTrx, getTransactionalContext, TransactionalError, type TransactionalProducers } from '../../framework/src/transaction/transactional-runtime';
import { TransactionLogStore } from '../../framework/src/transaction/transaction-log.store';
import { killAllChildren } from '../helpers/child-process';
import { sleep, waitFor } from '../helpers/env';
import { CollectingConsumer, startTxBroker, type TxBroker } from './tx-scripts/tx-harness';

const run = Date.now().toString(36);
/** Long enough for several check passes (1 s each) after a half became checkable (1 s). */
const SETTLE_MS = 4_000;

describe('transactional messages through rocketry start', () => {
  let broker: TxBroker;

  beforeAll(async () => {
    broker = await startTxBroker('e2e-transaction');
  });

  afterAll(async () => {
    await killAllChildren();
    await broker?.stop();
  });

  describe('TransactionProducer', () => {
    const topic = `TxFlows_${run}`;
    let consumer: CollectingConsumer;
    let producer: TransactionProducer;
    const checks: Array<{ key: string; count: number }> = [];
    const checkCount = (key: string) => checks.filter((c) => c.key === key).length;
    // key → [state from executeLocalTransaction (or 'THROW'), state from checkLocalTransaction]
    const plan: Record<string, [LocalTransactionState | 'THROW', LocalTransactionState]> = {
      commit: ['COMMIT', 'ROLLBACK'],
      rollback: ['ROLLBACK', 'COMMIT'],
      'unknown-then-commit': ['UNKNOWN', 'COMMIT'],
      'unknown-then-rollback': ['UNKNOWN', 'ROLLBACK'],
      'throw-then-commit': ['THROW', 'COMMIT'],
    };

    beforeAll(async () => {
      await broker.createTopic(topic);
      consumer = new CollectingConsumer(broker.namesrvAddr, `cg_txflows_${run}`, topic);
      await consumer.start();
      producer = new TransactionProducer({
        namesrvAddr: broker.namesrvAddr,
        group: `pg_txflows_${run}`,
        clientIP: '127.0.0.1',
        listener: {
          executeLocalTransaction: (msg) => {
            const step = plan[String(msg.keys)]![0];
            if (step === 'THROW') throw new Error('local transaction failed');
            return step;
          },
          checkLocalTransaction: (msg) => {
            const key = msg.keys[0]!;
            checks.push({ key, count: Number(msg.properties.TRANSACTION_CHECK_TIMES ?? 0) });
            return plan[key]![1];
          },
        },
      });
      await producer.start();
    });

    afterAll(async () => {
      await producer?.shutdown();
      await consumer?.shutdown();
    });

    it('commits, rolls back, and settles UNKNOWN / exceptions through the broker check-back', async () => {
      const results = new Map<string, Awaited<ReturnType<TransactionProducer['sendMessageInTransaction']>>>();
      for (const key of Object.keys(plan)) {
        results.set(key, await producer.sendMessageInTransaction({ topic, keys: key, body: JSON.stringify({ key }) }, key));
      }
      expect(results.get('commit')!.localTransactionState).toBe('COMMIT');
      expect(results.get('rollback')!.localTransactionState).toBe('ROLLBACK');
      expect(results.get('unknown-then-commit')!.localTransactionState).toBe('UNKNOWN');
      expect(results.get('throw-then-commit')!.localTransactionState).toBe('UNKNOWN');
      for (const r of results.values()) expect(r.transactionId).toBe(r.msgId);

      await waitFor('commit, unknown-then-commit and throw-then-commit delivered', () => ['commit', 'unknown-then-commit', 'throw-then-commit'].every((k) => consumer.has(k)), {
        timeoutMs: 20_000,
      });
      await waitFor('the check of unknown-then-rollback', () => checkCount('unknown-then-rollback') > 0, { timeoutMs: 20_000 });
      await sleep(SETTLE_MS);
      expect(consumer.has('rollback')).toBe(false);
      expect(consumer.has('unknown-then-rollback')).toBe(false);
      // Settled halves are not checked again; commit/rollback were ended directly, never checked.
      const checksAfter = checks.length;
      await sleep(2_500);
      expect(checks.length).toBe(checksAfter);
      expect(checkCount('commit')).toBe(0);
      expect(checkCount('rollback')).toBe(0);
      expect(checkCount('unknown-then-commit')).toBeGreaterThanOrEqual(1);
      // The delivered message is the real one: real topic, body, TRAN_MSG kept (as in 4.x).
      const delivered = consumer.messages.find((m) => m.keys[0] === 'unknown-then-commit')!;
      expect(delivered.topic).toBe(topic);
      expect(JSON.parse(delivered.body.toString())).toEqual({ key: 'unknown-then-commit' });
      expect(delivered.msgId).toBe(results.get('unknown-then-commit')!.transactionId);
      for (const k of ['commit', 'unknown-then-commit', 'throw-then-commit']) expect(consumer.received.get(k)).toBe(1);
    });
  });

  describe.each<TestDialect>(['sqlite', 'pg', 'mysql'])('@TransactionalProducer on %s', (dialect) => {
    const topic = `TxDeco_${dialect}_${run}`;
    const group = `pg_txdeco_${dialect}_${run}`;
    const group2 = `pg_txdeco2_${dialect}_${run}`;
    const table = uniqueTableName(`txlog_${dialect}`);
    const biz = uniqueTableName(`orders_${dialect}`);
    const WINDOW_MS = 2_000;
    let dir: string;
    let knex: Knex;
    let consumer: CollectingConsumer;
    let app: TransactionalProducers;
    const checks: Array<TransactionCheckEvent & { atMs: number }> = [];
    const customChecks: string[] = [];

    class OrderService {
      @TransactionalProducer({ topic, group, tags: 'created', message: (id: string) => ({ payload: { id }, keys: [id] }) })
      async createFromArgs(id: string): Promise<string> {
        await currentTrx()(biz).insert({ id, tx_id: getTransactionalContext()!.transactionId });
        return `created ${id}`;
      }

      @TransactionalProducer({ topic, group })
      async createFromResult(id: string, fail = false): Promise<{ payload: { id: string; total: number }; keys: string }> {
        await currentTrx()(biz).insert({ id, tx_id: getTransactionalContext()!.transactionId });
        if (fail) throw new Error(`cannot create ${id}`);
        return { payload: { id, total: 42 }, keys: id };
      }
    }

    class SlowService {
      @TransactionalProducer({ topic, group, message: (id: string) => ({ payload: { id }, keys: [id] }) })
      async createSlowly(id: string): Promise<void> {
        await currentTrx()(biz).insert({ id, tx_id: getTransactionalContext()!.transactionId });
        await sleep(WINDOW_MS + 300);
      }
    }

    class AuditService {
      @TransactionalProducer({
        topic,
        group: group2,
        message: (id: string) => ({ payload: { id }, keys: [id] }),
        checker: (msg) => {
          customChecks.push(msg.keys[0]!);
          return 'COMMIT';
        },
      })
      async audit(id: string): Promise<void> {
        await currentTrx()(biz).insert({ id, tx_id: getTransactionalContext()!.transactionId });
      }
    }

    const orders = new OrderService();
    const audit = new AuditService();
    const slow = new SlowService();

    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tx-e2e-'));
      knex = createTestKnex(testKnexConfig(dialect, path.join(dir, 'app.sqlite')));
      await assertReachable(knex, dialect);
      await knex.schema.createTable(biz, (t) => {
        t.string('id', 64).primary();
        t.string('tx_id', 64);
      });
      await broker.createTopic(topic);
      consumer = new CollectingConsumer(broker.namesrvAddr, `cg_txdeco_${dialect}_${run}`, topic);
      await consumer.start();
      app = await createTransactionalProducers({
        knex,
        namesrvAddr: broker.namesrvAddr,
        targets: [orders, audit, slow],
        tableName: table,
        localTransactionTimeoutMs: WINDOW_MS,
        producerOptions: { clientIP: '127.0.0.1', onCheck: (e) => checks.push({ ...e, atMs: Date.now() }) },
      });
    });

    afterAll(async () => {
      await app?.shutdown();
      await consumer?.shutdown();
      await knex?.schema.dropTableIfExists(table).catch(() => undefined);
      await knex?.schema.dropTableIfExists(biz).catch(() => undefined);
      await knex?.destroy();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    const row = (id: string) => knex(biz).where({ id }).first<{ id: string; tx_id: string } | undefined>();

    it('commits the business row, the table row and the message together (message from the arguments or from the result)', async () => {
      expect(await orders.createFromArgs('a-1')).toBe('created a-1');
      expect(await orders.createFromResult('r-1')).toEqual({ payload: { id: 'r-1', total: 42 }, keys: 'r-1' });
      for (const id of ['a-1', 'r-1']) {
        const biz = await row(id);
        expect(biz).toBeDefined();
        expect(await app.store.find(biz!.tx_id)).toMatchObject({ state: 'COMMIT', group, topic });
      }
      await waitFor('both delivered', () => consumer.has('a-1') && consumer.has('r-1'), { timeoutMs: 15_000 });
      const m = consumer.messages.find((x) => x.keys[0] === 'r-1')!;
      expect(JSON.parse(m.body.toString())).toEqual({ id: 'r-1', total: 42 });
      expect(m.msgId).toBe((await row('r-1'))!.tx_id);
      expect(consumer.messages.find((x) => x.keys[0] === 'a-1')!.tags).toBe('created');
    });

    it('a throwing method rolls back the DB transaction and the message, and rethrows', async () => {
      await expect(orders.createFromResult('f-1', true)).rejects.toThrow('cannot create f-1');
      expect(await row('f-1')).toBeUndefined();
      await expect(orders.createFromArgs('a-1')).rejects.toThrow(); // duplicate business key: rolled back
      await orders.createFromArgs('after-failures');
      await waitFor('the later commit delivered', () => consumer.has('after-failures'), { timeoutMs: 15_000 });
      await sleep(SETTLE_MS);
      expect(consumer.has('f-1')).toBe(false);
      expect(consumer.received.get('a-1')).toBe(1);
    });

    it('a call older than localTransactionTimeoutMs is rolled back before its row is written (LOCAL_TIMEOUT)', async () => {
      const err = await slow.createSlowly('slow-1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransactionalError);
      expect((err as TransactionalError).code).toBe('LOCAL_TIMEOUT');
      expect(await row('slow-1')).toBeUndefined();
      await orders.createFromArgs('after-slow');
      await waitFor('the later commit delivered', () => consumer.has('after-slow'), { timeoutMs: 15_000 });
      await sleep(SETTLE_MS);
      expect(consumer.has('slow-1')).toBe(false);
    });

    it('answers check-backs for halves of a dead member from the table: row → COMMIT, no row past the window → fenced ROLLBACK', async () => {
      const store = new TransactionLogStore(knex, table);
      // A member of the same group that sends halves, leaves them UNKNOWN and dies.
      const dead = new TransactionProducer({
        namesrvAddr: broker.namesrvAddr,
        group,
        clientIP: '127.0.0.1',
        listener: {
          executeLocalTransaction: async (msg): Promise<LocalTransactionState> => {
            if (msg.keys === 'dead-committed') {
              const trx = await knex.transaction();
              await trx(biz).insert({ id: 'dead-committed', tx_id: msg.transactionId });
              await store.insertCommit(trx, { txId: msg.transactionId, group, topic, keys: 'dead-committed' });
              await trx.commit();
            }
            return 'UNKNOWN';
          },
          checkLocalTransaction: () => 'UNKNOWN',
        },
      });
      await dead.start();
      const committed = await dead.sendMessageInTransaction({ topic, keys: 'dead-committed', body: '{"id":"dead-committed"}' });
      const lostSentAtMs = Date.now();
      const lost = await dead.sendMessageInTransaction({ topic, keys: 'dead-lost', body: '{"id":"dead-lost"}' });
      await dead.shutdown();

      await waitFor('dead-committed delivered through the check', () => consumer.has('dead-committed'), { timeoutMs: 20_000 });
      expect(checks.find((c) => c.transactionId === committed.transactionId)?.state).toBe('COMMIT');
      const fenced = await waitFor('dead-lost fenced', () => checks.find((c) => c.transactionId === lost.transactionId && c.state === 'ROLLBACK'), {
        timeoutMs: 20_000,
      });
      // Not before the window: until then the owner might still commit (earlier checks answer UNKNOWN).
      expect(fenced.atMs - lostSentAtMs).toBeGreaterThanOrEqual(WINDOW_MS - 50);
      const lostChecks = checks.filter((c) => c.transactionId === lost.transactionId);
      expect(lostChecks.filter((c) => c.state !== 'ROLLBACK').every((c) => c.state === 'UNKNOWN')).toBe(true);
      expect(await app.store.find(lost.transactionId)).toMatchObject({ state: 'ROLLBACK' });
      await sleep(SETTLE_MS);
      expect(consumer.has('dead-lost')).toBe(false);
    });

    it('routes check-backs by group: the second group uses its custom checker', async () => {
      const dead2 = new TransactionProducer({
        namesrvAddr: broker.namesrvAddr,
        group: group2,
        clientIP: '127.0.0.1',
        listener: { executeLocalTransaction: () => 'UNKNOWN', checkLocalTransaction: () => 'UNKNOWN' },
      });
      await dead2.start();
      await dead2.sendMessageInTransaction({ topic, keys: 'audit-unknown', body: '{"id":"audit-unknown"}' });
      await dead2.shutdown();
      await audit.audit('audit-1');
      await waitFor('audit-unknown committed by the custom checker', () => consumer.has('audit-unknown'), { timeoutMs: 20_000 });
      expect(customChecks).toContain('audit-unknown');
      expect(consumer.has('audit-1')).toBe(true);
      expect(await app.store.find((await row('audit-1'))!.tx_id)).toMatchObject({ state: 'COMMIT', group: group2 });
    });
  });
});
