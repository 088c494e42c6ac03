/**
 * The outbox and async send retry against `rocketry start` processes (SIGKILLed and restarted on the
 * same ports and data dir), on SQLite, PostgreSQL and MariaDB/MySQL:
 *  - broker down: a committed row goes FAILED after maxAttempts (holding its sharding key); an
 *    asyncSend retries (attempts counted) and lands in the outbox; broker back: the handed-off message
 *    is delivered by the relay, the FAILED one only after resubmit, and in key order before the younger
 *    row of its key; each exactly once.
 *  - a relay process SIGKILLed between send and mark-SENT: another relay resends the row after the
 *    lease (same msgId, delivered twice = at-least-once, counted as a resend).
 */
import path from 'node:path';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Producer } from '../../framework/src/client/producer/producer';
import { createOutbox, type Outbox } from '../../framework/src/outbox/outbox';
import { dropOutboxTables } from '../../framework/src/outbox/outbox-table';
import { AsyncSendFailedError } from '../../framework/src/retry/async-send-retry';
import { RocketTemplate } from '../../framework/src/template/rocket-template';
import { assertReachable, createTestKnex, testKnexConfig, type TestDialect } from '../../framework/src/transaction/db.test-support';
import { jsonLines, killAllChildren, spawnNode } from '../helpers/child-process';
import { REPO_ROOT, sleep, tempDir, waitFor, type TempDir } from '../helpers/env';
import { ProtocolProbe } from '../helpers/protocol-probe';
import { startRocketryProcess, type RocketryProcess } from '../helpers/rocketry-process';
import { ensureTopic } from '../helpers/topics';
import { CollectingConsumer } from './tx-scripts/tx-harness';

const CRASH_RELAY = path.join(REPO_ROOT, 'test', 'e2e', 'outbox-scripts', 'crash-relay.ts');
const run = Date.now().toString(36).slice(-5);

describe('outbox and async send retry through rocketry start', () => {
  let dir: TempDir;
  let rocketry: RocketryProcess;
  let probe: ProtocolProbe;
  let namesrvPort: number;
  let brokerPort: number;
  let namesrvAddr: string;

  const startBroker = async (name: string) => {
    rocketry = await startRocketryProcess({ mode: 'start', dataDir: dir.path, namesrvPort, brokerPort, name });
  };
  const createTopic = (topic: string) => ensureTopic(probe, rocketry.brokerAddr!, [namesrvAddr], topic, 4);

  beforeAll(async () => {
    dir = tempDir('e2e-outbox');
    rocketry = await startRocketryProcess({ mode: 'start', dataDir: dir.path, name: 'rocketry (outbox)' });
    namesrvPort = rocketry.namesrvPort!;
    brokerPort = rocketry.brokerPort!;
    namesrvAddr = rocketry.namesrvAddr!;
    probe = new ProtocolProbe();
  });

  afterAll(async () => {
    probe?.close();
    await killAllChildren();
    dir?.cleanup();
  });

  describe.each<TestDialect>(['sqlite', 'pg', 'mysql'])('on %s', (dialect) => {
    const dbFile = () => path.join(dir.path, `${dialect}.sqlite`);
    let knex: Knex;
    const tables: string[] = [];

    beforeAll(async () => {
      knex = createTestKnex(testKnexConfig(dialect, dbFile()));
      await assertReachable(knex, dialect);
    });

    afterAll(async () => {
      for (const t of tables) await dropOutboxTables(knex, t).catch(() => undefined);
      await knex?.destroy();
    });

    it('broker down: FAILED after maxAttempts, asyncSend retried then handed off; broker back: delivered, resubmit delivers in key order', async () => {
      const topic = `OutboxDown_${dialect}_${run}`;
      const tableName = `obe_down_${dialect}_${run}`;
      tables.push(tableName);
      await createTopic(topic);
      const producer = new Producer({ namesrvAddr, group: `pg_obdown_${dialect}_${run}`, clientIP: '127.0.0.1', sendMsgTimeout: 1_000, brokerIsolationMs: 0 });
      const template = new RocketTemplate({ producer });
      const outbox: Outbox = createOutbox({ knex, template, tableName, maxAttempts: 3, backoff: { initialMs: 100, maxMs: 400 }, pollIntervalMs: 100, leaseMs: 5_000 });
      await outbox.migrate();
      const retrier = template.setAsyncSendRetry({ maxAttempts: 3, backoff: { initialMs: 100, maxMs: 400 }, fallback: outbox })!;
      const attemptsFailed: number[] = [];
      retrier.events.on('attempt.failed', (e) => attemptsFailed.push(e.attempt));
      await template.start();
      let consumer: CollectingConsumer | undefined;
      try {
        await template.syncSend(topic, 'warm', { keys: ['warm'] }); // route cached
        rocketry.kill('SIGKILL');
        await rocketry.exited;

        // 1. A committed row cannot be sent: FAILED after 3 attempts; its key's younger row waits behind it.
        const [failedMsgId] = await knex.transaction((trx) => outbox.enqueue(trx, { topic, keys: ['k-1'], body: { step: 1 }, shardingKey: 'K' }));
        await knex.transaction((trx) => outbox.enqueue(trx, { topic, keys: ['k-2'], body: { step: 2 }, shardingKey: 'K' }));
        outbox.relay.start();
        const failed = await waitFor('the row to go FAILED', async () => {
          const rows = await outbox.listFailed();
          return rows.length === 1 ? rows : undefined;
        }, { timeoutMs: 30_000, intervalMs: 100 });
        expect(failed[0]).toMatchObject({ msgId: failedMsgId, attempts: 3 });
        expect(failed[0]!.lastError).toMatch(/CONNECT|ECONNREFUSED|closed|timed out/i);
        await outbox.relay.stop();

        // 2. asyncSend: 3 attempts with backoff, then the outbox takes the message.
        const err = (await template.asyncSend(`${topic}:Async`, { async: true }, { keys: ['async-1'] }).catch((e: unknown) => e)) as AsyncSendFailedError;
        expect(err).toBeInstanceOf(AsyncSendFailedError);
        expect(err.handedOff).toBe(true);
        expect(attemptsFailed).toEqual([1, 2, 3]);
        expect(retrier.stats()).toMatchObject({ attempts: 3, retries: 2, handedOff: 1 });
        expect(await outbox.findByMsgId(err.msgId)).toMatchObject({ status: 'PENDING', tags: 'Async' });

        // 3. Broker back: the relay delivers the handed-off message; the FAILED row (and the row behind it) wait.
        await startBroker('rocketry (outbox, restarted)');
        consumer = new CollectingConsumer(namesrvAddr, `cg_obdown_${dialect}_${run}`, topic);
        await consumer.start();
        outbox.relay.start();
        await waitFor('the handed-off message', () => consumer!.has('async-1'), { timeoutMs: 30_000 });
        const handed = consumer.messages.find((m) => m.keys.includes('async-1'))!;
        expect(handed.msgId).toBe(err.msgId);
        await sleep(500);
        expect(consumer.has('k-1') || consumer.has('k-2')).toBe(false);

        // 4. Resubmit: both rows of key K are delivered, k-1 before k-2 in their queue.
        expect(await outbox.resubmit(failed.map((r) => r.id))).toBe(1);
        await waitFor('the resubmitted row and the one behind it', () => consumer!.has('k-1') && consumer!.has('k-2'), { timeoutMs: 30_000 });
        const k1 = consumer.messages.find((m) => m.keys.includes('k-1'))!;
        const k2 = consumer.messages.find((m) => m.keys.includes('k-2'))!;
        expect(k1.msgId).toBe(failedMsgId);
        expect(k1.queueId).toBe(k2.queueId);
        expect(k1.queueOffset).toBeLessThan(k2.queueOffset);
        for (const key of ['async-1', 'k-1', 'k-2']) expect(consumer.received.get(key)).toBe(1);
        expect(await outbox.counts()).toMatchObject({ SENT: 3, PENDING: 0, FAILED: 0, SENDING: 0 });
        expect(outbox.stats()).toMatchObject({ failed: 1, resubmitted: 1 });
      } finally {
        await outbox.close();
        await consumer?.shutdown();
        await template.destroy();
      }
    });

    it('a relay process killed between send and mark-SENT: the row is resent after the lease (at-least-once, same msgId)', async () => {
      const topic = `OutboxCrash_${dialect}_${run}`;
      const tableName = `obe_crash_${dialect}_${run}`;
      tables.push(tableName);
      await createTopic(topic);
      const leaseMs = 2_000;
      const producer = new Producer({ namesrvAddr, group: `pg_obcrash_${dialect}_${run}`, clientIP: '127.0.0.1' });
      const outbox = createOutbox({ knex, producer, tableName, leaseMs, pollIntervalMs: 100 });
      await outbox.migrate();
      await producer.start();
      const consumer = new CollectingConsumer(namesrvAddr, `cg_obcrash_${dialect}_${run}`, topic);
      await consumer.start();
      try {
        const [msgId] = await knex.transaction((trx) => outbox.enqueue(trx, { topic, keys: ['crash-1'], body: 'x', shardingKey: 'C' }));
        await knex.transaction((trx) => outbox.enqueue(trx, { topic, keys: ['crash-2'], body: 'y', shardingKey: 'C' }));
        const config = { namesrvAddr, group: `pg_obcrashchild_${dialect}_${run}`, db: testKnexConfig(dialect, dbFile()), tableName, leaseMs };
        const child = spawnNode(['--import', 'tsx', CRASH_RELAY, JSON.stringify(config)], { name: `crash relay (${dialect})`, env: { ROCKETRY_LOG_LEVEL: 'warn' } });
        const exit = await child.exited;
        expect(exit.signal).toBe('SIGKILL');
        const events = jsonLines<{ event: string; msgId?: string }>(child.lines());
        expect(events.find((e) => e.event === 'sent')?.msgId).toBe(msgId);
        await waitFor('the first copy', () => consumer.has('crash-1'), { timeoutMs: 20_000 });
        const row = (await outbox.findByMsgId(msgId!))!;
        expect(row).toMatchObject({ status: 'SENDING', attempts: 1 });
        expect(row.claimedBy).toMatch(/^crashing-relay#/);

        outbox.relay.start();
        await waitFor('the resend and the next row of the key', () => (consumer.received.get('crash-1') ?? 0) >= 2 && consumer.has('crash-2'), { timeoutMs: 30_000 });
        const copies = consumer.messages.filter((m) => m.keys.includes('crash-1'));
        expect(copies.map((m) => m.msgId)).toEqual([msgId, msgId]);
        const second = consumer.messages.find((m) => m.keys.includes('crash-2'))!;
        expect(second.queueOffset).toBeGreaterThan(Math.max(...copies.map((m) => m.queueOffset)));
        expect(outbox.stats()).toMatchObject({ reclaimed: 1, resent: 1 });
        expect(await outbox.findByMsgId(msgId!)).toMatchObject({ status: 'SENT', attempts: 2 });
        expect(consumer.received.get('crash-2')).toBe(1);
      } finally {
        await outbox.close();
        await consumer.shutdown();
        await producer.shutdown();
      }
    });
  });
});
