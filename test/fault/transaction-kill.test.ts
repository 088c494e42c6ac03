/**
 * @TransactionalProducer under process death, against `rocketry start` (checks every 1 s for halves
 * older than 1 s). Producer apps are separate processes (test/e2e/tx-scripts/tx-app.ts) that SIGKILL
 * themselves at a chosen phase; a standby member of the same group stays up to answer check-backs.
 *
 *  - killed after the DB commit, before END_TRANSACTION → the broker checks back with the standby,
 *    which finds the row → COMMIT → the message is delivered;
 *  - killed before the DB commit → no row → the standby fences the id (ROLLBACK) once the half is older
 *    than the local-transaction window → never delivered;
 *  - a seeded random loop (SQLite and PostgreSQL) of calls with kill points and thrown errors at random
 *    places: at the end a message was received iff its business row exists. Seed: ROCKETRY_TX_SEED;
 *    size: ROCKETRY_TX_RANDOM_OPS (default 60).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { assertReachable, createTestKnex, testKnexConfig, uniqueTableName, type TestDialect } from '../../framework/src/transaction/db.test-support';
import { TransactionLogStore } from '../../framework/src/transaction/transaction-log.store';
import { killAllChildren } from '../helpers/child-process';
import { sleep, waitFor } from '../helpers/env';
import { CollectingConsumer, startTxApp, startTxBroker, type TxApp, type TxAppEvent, type TxBroker } from '../e2e/tx-scripts/tx-harness';
import { seededRandom } from '../../broker/src/common/seeded-random';

const run = Date.now().toString(36);
const WINDOW_MS = 2_000;
const SETTLE_MS = 4_000;

type Phase = 'half-sent' | 'method-done' | 'before-db-commit' | 'after-db-commit' | 'end-sent';
interface Op {
  id: string;
  mode: 'args' | 'result';
  kill?: Phase;
  throwAt?: 'method-start' | 'method-end' | 'half-sent' | 'before-db-commit';
}
const PRE_COMMIT: ReadonlySet<string> = new Set(['half-sent', 'method-done', 'before-db-commit']);

interface Env {
  dialect: TestDialect;
  dir: string;
  knex: Knex;
  dbConfig: Knex.Config;
  table: string;
  biz: string;
  topic: string;
  group: string;
  consumer: CollectingConsumer;
  standby: TxApp;
  store: TransactionLogStore;
}

async function setUp(broker: TxBroker, dialect: TestDialect, label: string): Promise<Env> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tx-fault-${label}-`));
  const dbConfig = testKnexConfig(dialect, path.join(dir, 'app.sqlite'), 3);
  const knex = createTestKnex(dbConfig);
  await assertReachable(knex, dialect);
  const table = uniqueTableName(`txlog_${label}`);
  const biz = uniqueTableName(`orders_${label}`);
  await knex.schema.createTable(biz, (t) => {
    t.string('id', 64).primary();
    t.string('tx_id', 64);
  });
  const topic = `TxFault_${label}_${run}`;
  const group = `pg_txfault_${label}_${run}`;
  await broker.createTopic(topic);
  const consumer = new CollectingConsumer(broker.namesrvAddr, `cg_txfault_${label}_${run}`, topic);
  await consumer.start();
  const base = { namesrvAddr: broker.namesrvAddr, group, topic, db: dbConfig, tableName: table, bizTable: biz, localTransactionTimeoutMs: WINDOW_MS };
  const standby = startTxApp({ ...base, ops: [] }, `tx standby (${label})`);
  await standby.ready();
  return { dialect, dir, knex, dbConfig, table, biz, topic, group, consumer, standby, store: new TransactionLogStore(knex, table) };
}

async function tearDown(env: Env | undefined): Promise<void> {
  if (!env) return;
  await env.standby.proc.stop(10_000);
  await env.consumer.shutdown();
  await env.knex.schema.dropTableIfExists(env.table).catch(() => undefined);
  await env.knex.schema.dropTableIfExists(env.biz).catch(() => undefined);
  await env.knex.destroy();
  fs.rmSync(env.dir, { recursive: true, force: true });
}

function appConfig(env: Env, broker: TxBroker, ops: Op[]): Record<string, unknown> {
  return {
    namesrvAddr: broker.namesrvAddr,
    group: env.group,
    topic: env.topic,
    db: env.dbConfig,
    tableName: env.table,
    bizTable: env.biz,
    localTransactionTimeoutMs: WINDOW_MS,
    ops,
  };
}

const bizRow = (env: Env, id: string) => env.knex(env.biz).where({ id }).first<{ id: string; tx_id: string } | undefined>();

describe('transactional producer processes killed at chosen points', () => {
  let broker: TxBroker;

  beforeAll(async () => {
    broker = await startTxBroker('fault-transaction');
  });

  afterAll(async () => {
    await killAllChildren();
    await broker?.stop();
  });

  describe('kill points (SQLite, shared file)', () => {
    let env: Env;

    beforeAll(async () => {
      env = await setUp(broker, 'sqlite', 'kill');
    });
    afterAll(async () => {
      await tearDown(env);
    });

    it('after the DB commit: another live member answers the check → delivered; before it: fenced → never delivered', async () => {
      const cases: Array<{ op: Op; committed: boolean }> = [
        { op: { id: 'after-args', mode: 'args', kill: 'after-db-commit' }, committed: true },
        { op: { id: 'after-result', mode: 'result', kill: 'after-db-commit' }, committed: true },
        { op: { id: 'before-args', mode: 'args', kill: 'before-db-commit' }, committed: false },
        { op: { id: 'before-result', mode: 'result', kill: 'before-db-commit' }, committed: false },
        { op: { id: 'half-only', mode: 'args', kill: 'half-sent' }, committed: false },
      ];
      const apps = cases.map((c) => startTxApp(appConfig(env, broker, [c.op]), `tx app ${c.op.id}`));
      const txIds = new Map<string, string>();
      for (const [i, app] of apps.entries()) {
        const exit = await app.proc.exited;
        expect(exit.signal).toBe('SIGKILL');
        const killing = app.events().find((e) => e.event === 'killing');
        expect(killing?.phase).toBe(cases[i]!.op.kill);
        txIds.set(cases[i]!.op.id, killing!.txId!);
      }
      // Usually the standby answers; an app still starting up may also be a live member at that moment.
      const standbyChecks = () => [env.standby, ...apps].flatMap((a) => a.events()).filter((e) => e.event === 'check');
      for (const c of cases) {
        const txId = txIds.get(c.op.id)!;
        if (c.committed) {
          expect(await bizRow(env, c.op.id)).toMatchObject({ tx_id: txId });
          await waitFor(`${c.op.id} delivered`, () => env.consumer.has(c.op.id), { timeoutMs: 30_000 });
          expect(standbyChecks().some((e) => e.txId === txId && e.state === 'COMMIT')).toBe(true);
        } else {
          expect(await bizRow(env, c.op.id)).toBeUndefined();
          await waitFor(`${c.op.id} rolled back by a live member`, () => standbyChecks().some((e) => e.txId === txId && e.state === 'ROLLBACK'), { timeoutMs: 30_000 });
          expect(await env.store.find(txId)).toMatchObject({ state: 'ROLLBACK' });
        }
      }
      await sleep(SETTLE_MS);
      for (const c of cases) expect(env.consumer.has(c.op.id)).toBe(c.committed);
      console.log(
        `[tx-kill] check-back answers: ${standbyChecks()
          .map((e) => e.state)
          .join(' ')}`,
      );
    }, 120_000);
  });

  describe.each<TestDialect>(['sqlite', 'pg'])('randomized calls with kills and errors (%s)', (dialect) => {
    let env: Env;

    beforeAll(async () => {
      env = await setUp(broker, dialect, `rnd_${dialect}`);
    });
    afterAll(async () => {
      await tearDown(env);
    });

    it('a message is received iff its business row exists', async () => {
      const seed = Number(process.env.ROCKETRY_TX_SEED ?? Date.now() % 2 ** 31);
      const total = Number(process.env.ROCKETRY_TX_RANDOM_OPS ?? 60);
      console.log(`[tx-random ${dialect}] seed=${seed} ops=${total} (replay: ROCKETRY_TX_SEED=${seed})`);
      const rnd = seededRandom(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      const ops: Op[] = [];
      for (let i = 0; i < total; i++) {
        const op: Op = { id: `${dialect}-${seed}-${i}`, mode: rnd() < 0.5 ? 'args' : 'result' };
        const r = rnd();
        if (r < 0.3) op.kill = pick<Phase>(['half-sent', 'method-done', 'before-db-commit', 'after-db-commit', 'end-sent']);
        else if (r < 0.5) op.throwAt = pick(['method-start', 'method-end', 'half-sent', 'before-db-commit'] as const);
        ops.push(op);
      }
      // Batches: a process runs ops until one kills it (or 8 ops); two processes at a time.
      const batches: Op[][] = [];
      let cur: Op[] = [];
      for (const op of ops) {
        cur.push(op);
        if (op.kill || cur.length >= 8) {
          batches.push(cur);
          cur = [];
        }
      }
      if (cur.length > 0) batches.push(cur);
      const events: TxAppEvent[] = [];
      let next = 0;
      const worker = async () => {
        while (next < batches.length) {
          const batch = batches[next++]!;
          const app = startTxApp(appConfig(env, broker, batch), `tx worker ${batch[0]!.id}`);
          await app.settled(90_000);
          events.push(...app.events());
          if (!app.proc.exitInfo) await app.proc.stop(10_000);
        }
      };
      await Promise.all([worker(), worker()]);

      const killed = events.filter((e) => e.event === 'killing');
      const preCommitKills = killed.filter((e) => PRE_COMMIT.has(e.phase!));
      const opById = new Map(ops.map((o) => [o.id, o]));
      // Result mode runs the method before sending the half: a kill at method-done leaves no half to settle.
      const halvesLeft = preCommitKills.filter((e) => !(e.phase === 'method-done' && opById.get(e.id!)?.mode === 'result'));
      let lastUnsettled = '';
      onTestFailed(() => console.log(`[tx-random ${dialect}] seed=${seed} unsettled: ${lastUnsettled}`));
      const rows = (await env.knex(env.biz).select('id')) as Array<{ id: string }>;
      const committed = new Set(rows.map((r) => r.id));
      // Every half left behind by a kill before the commit gets settled (fenced) by a live member.
      let unsettled: string[] = [];
      await waitFor(
        'pre-commit kills fenced',
        async () => {
          unsettled = [];
          for (const k of halvesLeft) if ((await env.store.find(k.txId!))?.state !== 'ROLLBACK') unsettled.push(`${k.id}@${k.phase}:${k.txId}`);
          if (unsettled.length > 0) lastUnsettled = unsettled.join(', ');
          return unsettled.length === 0;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      await waitFor('every committed row delivered', () => [...committed].every((id) => env.consumer.has(id)), { timeoutMs: 60_000, intervalMs: 500 });
      await sleep(SETTLE_MS);

      const received = [...env.consumer.received.keys()].filter((k) => k.startsWith(`${dialect}-${seed}-`));
      const duplicates = [...env.consumer.received.values()].filter((n) => n > 1).length;
      const checkStates = env.standby.events().filter((e) => e.event === 'check');
      const countOf = (s: string) => checkStates.filter((e) => e.state === s).length;
      const okOps = events.filter((e) => e.event === 'op' && e.ok).length;
      const failedOps = events.filter((e) => e.event === 'op' && !e.ok).length;
      console.log(
        `[tx-random ${dialect}] seed=${seed} ops=${total} processes=${batches.length} ok=${okOps} failed=${failedOps} killed=${killed.length}` +
          ` (before commit ${preCommitKills.length}, after ${killed.length - preCommitKills.length})` +
          ` rows=${committed.size} delivered=${received.length} duplicates=${duplicates}` +
          ` standby checks COMMIT=${countOf('COMMIT')} ROLLBACK=${countOf('ROLLBACK')} UNKNOWN=${countOf('UNKNOWN')}`,
      );
      const missing = [...committed].filter((id) => !env.consumer.has(id));
      const phantom = received.filter((id) => !committed.has(id));
      expect({ seed, missing, phantom }).toEqual({ seed, missing: [], phantom: [] });
      // Sanity: the loop exercised every outcome.
      expect(okOps).toBeGreaterThan(0);
      expect(failedOps).toBeGreaterThan(0);
      expect(preCommitKills.length).toBeGreaterThan(0);
      expect(received.length).toBe(committed.size);
    }, 300_000);
  });
});
