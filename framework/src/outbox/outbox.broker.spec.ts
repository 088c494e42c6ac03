/**
 * The outbox against a real (embedded) broker, on SQLite, PostgreSQL and MariaDB/MySQL: a committed
 * enqueue is consumed with the outbox msgId and JSON body, a rolled-back one never; rows of one
 * sharding key land in one queue in enqueue order.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PushConsumer } from '../client/consumer/push-consumer';
import type { MessageExt } from '../client/message';
import { Producer } from '../client/producer/producer';
import { startEmbeddedBroker, type EmbeddedBroker } from '../embedded/embedded-broker';
import { RocketTemplate } from '../template/rocket-template';
import { assertReachable, createTestKnex, testKnexConfig, type TestDialect } from '../transaction/db.test-support';
import { createOutbox, type Outbox } from './outbox';
import { dropOutboxTables } from './outbox-table';

const run = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

async function waitUntil(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each<TestDialect>(['sqlite', 'pg', 'mysql'])('outbox → embedded broker on %s', (dialect) => {
  const topic = `OutboxBroker_${dialect}_${run}`;
  const tableName = `obb_${dialect}_${run}`;
  const bizTable = `obb_biz_${dialect}_${run}`;
  let dir: string;
  let broker: EmbeddedBroker;
  let knex: Knex;
  let template: RocketTemplate;
  let outbox: Outbox;
  let consumer: PushConsumer;
  const received: MessageExt[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outbox-broker-'));
    knex = createTestKnex(testKnexConfig(dialect, path.join(dir, 'db.sqlite')));
    await assertReachable(knex, dialect);
    broker = await startEmbeddedBroker({ topics: [{ topic, queueNums: 4 }] });
    template = new RocketTemplate({ producer: new Producer({ namesrvAddr: broker.namesrvAddr, group: `pg_outbox_${dialect}`, clientIP: '127.0.0.1' }) });
    await template.start();
    outbox = createOutbox({ knex, template, tableName, pollIntervalMs: 50 });
    await outbox.migrate();
    await knex.schema.createTable(bizTable, (t) => t.string('id', 64).primary());
    consumer = new PushConsumer({ namesrvAddr: broker.namesrvAddr, group: `cg_outbox_${dialect}`, clientIP: '127.0.0.1', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    consumer.subscribe(topic, '*');
    consumer.onMessage(async (m) => {
      received.push(m);
    });
    await consumer.start();
    outbox.relay.start();
  });

  afterAll(async () => {
    await outbox?.close();
    await consumer?.shutdown({ awaitTerminationMs: 1_000 });
    await template?.destroy();
    await broker?.stop();
    await dropOutboxTables(knex, tableName).catch(() => undefined);
    await knex?.schema.dropTableIfExists(bizTable).catch(() => undefined);
    await knex?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('delivers what a committed transaction enqueued and never what a rolled-back one did', async () => {
    const committed = await knex.transaction(async (trx) => {
      await trx(bizTable).insert({ id: 'o1' });
      return outbox.enqueue(trx, { topic, tags: 'Created', keys: ['o1'], body: { id: 'o1', qty: 2 } });
    });
    await knex
      .transaction(async (trx) => {
        await trx(bizTable).insert({ id: 'o2' });
        await outbox.enqueue(trx, { topic, tags: 'Created', keys: ['o2'], body: { id: 'o2' } });
        throw new Error('business rule failed');
      })
      .catch(() => undefined);
    await waitUntil('the committed message', () => received.some((m) => m.keys.includes('o1')));
    const m = received.find((x) => x.keys.includes('o1'))!;
    expect(m.msgId).toBe(committed[0]);
    expect(m.tags).toBe('Created');
    expect(JSON.parse(m.body.toString())).toEqual({ id: 'o1', qty: 2 });
    expect(m.properties.contentType).toBe('application/json');
    // A marker sent after the rollback arrives; the rolled-back message still has not.
    await outbox.enqueueNow({ topic, keys: ['marker'], body: 'm' });
    await waitUntil('the marker', () => received.some((x) => x.keys.includes('marker')));
    expect(received.some((x) => x.keys.includes('o2'))).toBe(false);
    expect(await outbox.counts()).toMatchObject({ SENT: 2, PENDING: 0, FAILED: 0 });
  });

  it('rows of one sharding key land in one queue, in enqueue order', async () => {
    const keys = ['order-1', 'order-2', 'order-3'];
    for (let step = 0; step < 5; step++) {
      await knex.transaction((trx) => outbox.enqueue(trx, keys.map((k) => ({ topic, tags: 'Status', keys: [`${k}/${step}`], body: { k, step }, shardingKey: k }))));
    }
    await waitUntil('15 status events', () => received.filter((m) => m.tags === 'Status').length >= 15);
    for (const k of keys) {
      const mine = received.filter((m) => m.tags === 'Status' && (JSON.parse(m.body.toString()) as { k: string }).k === k);
      expect(new Set(mine.map((m) => m.queueId)).size).toBe(1);
      const byOffset = [...mine].sort((a, b) => a.queueOffset - b.queueOffset);
      expect(byOffset.map((m) => (JSON.parse(m.body.toString()) as { step: number }).step)).toEqual([0, 1, 2, 3, 4]);
    }
  });
});
