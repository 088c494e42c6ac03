/**
 * `dedup: { store: 'db' }` end to end on the embedded broker with SQLite, PostgreSQL and MariaDB
 * (ROCKETRY_PG_URL / ROCKETRY_MYSQL_URL; fails loudly when unreachable): the consumed row and the
 * business row are written in one transaction (the handler gets `{ trx }`), so duplicates, a
 * redelivery and concurrent copies produce exactly one business row, and a handler that throws after
 * its insert leaves neither row. With the database unreachable the message is retried, never run
 * unguarded. Expiry cleanup deletes rows past the window.
 */
import net from 'node:net';
import path from 'node:path';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupConsumed,
  resolveRocketryConfig,
  RocketListener,
  RocketListenerContainer,
  RocketTemplate,
  startEmbeddedBroker,
  type EmbeddedBroker,
  type MessageExt,
  type RocketListenerExtras,
  type RocketryConfig,
} from '@rocketry/framework';
import { createRequest, RequestCode, ResponseCode, UpdateConsumerOffsetRequestHeader } from '@rocketry/broker/protocol';
import { RemotingClient } from '@rocketry/broker/remoting';
import { assertReachable, createTestKnex, PG_URL, testKnexConfig, uniqueTableName, type TestDialect } from '../../framework/src/transaction/db.test-support';
import { freePort, tempDir, type TempDir } from '../helpers/env';

async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let broker: EmbeddedBroker;
let config: RocketryConfig;
let template: RocketTemplate;
let dir: TempDir;

beforeAll(async () => {
  dir = tempDir('dedup-db');
  broker = await startEmbeddedBroker({ settings: { messageDelayLevel: Array.from({ length: 18 }, () => '1s').join(' ') } });
  config = resolveRocketryConfig({ nameServer: broker.namesrvAddr, producer: { group: `ddb-pg-${process.pid}` }, env: false });
  template = RocketTemplate.fromConfig(config);
  await template.start();
});

afterAll(async () => {
  await template?.destroy();
  await broker?.stop();
  dir?.cleanup();
});

async function rewindGroup(group: string, topic: string): Promise<void> {
  const client = new RemotingClient();
  try {
    for (let queueId = 0; queueId < 4; queueId++) {
      const header = UpdateConsumerOffsetRequestHeader.encode({ consumerGroup: group, topic, queueId, commitOffset: 0 });
      const reply = await client.invoke(broker.brokerAddr, createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, header), 3_000);
      expect(reply.code).toBe(ResponseCode.SUCCESS);
    }
  } finally {
    client.close();
  }
}

for (const dialect of ['sqlite', 'pg', 'mysql'] as TestDialect[]) {
  describe(`dedup with the database (${dialect})`, () => {
    const run = `${dialect}_${process.pid}_${Date.now().toString(36)}`;
    const topic = `DedupDb_${run}`;
    const group = `ddb-cg-${run}`;
    const consumedTable = uniqueTableName('rc_consumed');
    const ordersTable = uniqueTableName('rc_orders');
    let knex: Knex;
    let container: RocketListenerContainer;

    class Inventory {
      runs: Array<{ id: string; reconsumeTimes: number; hadTrx: boolean }> = [];
      failAfterInsert = new Set<string>();
      slowMs = 0;
      @RocketListener({ topic, group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', dedup: { store: 'db', db: undefined as unknown as Knex, tableName: consumedTable, retryDelayLevel: 1 } })
      async onOrder(p: { id: string }, msg: MessageExt, { trx }: RocketListenerExtras): Promise<void> {
        this.runs.push({ id: p.id, reconsumeTimes: msg.reconsumeTimes, hadTrx: trx !== undefined });
        await trx!(ordersTable).insert({ order_id: p.id, msg_id: msg.msgId });
        if (this.slowMs > 0) await sleep(this.slowMs);
        if (this.failAfterInsert.delete(p.id)) throw new Error(`failed after the insert of ${p.id}`);
      }
    }
    const inv = new Inventory();

    const count = async (table: string, where: Record<string, string> = {}) => Number(((await knex(table).where(where).count({ n: '*' })) as Array<{ n: number | string }>)[0]!.n);

    beforeAll(async () => {
      knex = createTestKnex(testKnexConfig(dialect, path.join(dir.path, `${run}.sqlite`)));
      await assertReachable(knex, dialect);
      await knex.schema.createTable(ordersTable, (t) => {
        t.string('order_id', 64).notNullable();
        t.string('msg_id', 64).notNullable();
      });
      await broker.createTopic(topic, 4);
      // The decorator ran before knex existed: give the option its instance (what a DI container would do).
      const fn = Inventory.prototype.onOrder as unknown as object;
      const meta = Reflect.getOwnMetadata(Symbol.for('rocketry:listener:method'), fn) as Array<{ dedup: { db: Knex } }>;
      meta[0]!.dedup.db = knex;
      container = new RocketListenerContainer({ config });
      container.registerInstance(inv);
      await container.start();
    });

    afterAll(async () => {
      await container?.stop({ awaitTerminationMs: 1_000 });
      if (knex) {
        await knex.schema.dropTableIfExists(ordersTable);
        await knex.schema.dropTableIfExists(consumedTable);
        await knex.destroy();
      }
    });

    it('the same msgId twice and a redelivery of the queue: one business row per message', async () => {
      for (const id of ['o1', 'o2']) {
        await template.syncSend(topic, { id }, { properties: { UNIQ_KEY: `${run}-${id}` } });
        await template.syncSend(topic, { id }, { properties: { UNIQ_KEY: `${run}-${id}` } });
      }
      await until('4 deliveries', () => {
        const c = container.health().consumers[0]!;
        return c.consumed + c.duplicates === 4;
      });
      expect(await count(ordersTable, { order_id: 'o1' })).toBe(1);
      expect(await count(ordersTable, { order_id: 'o2' })).toBe(1);
      expect(await count(consumedTable, { consumer_group: group })).toBe(2);
      expect(inv.runs.every((r) => r.hadTrx)).toBe(true);

      // Redelivery (a crash before the offset commit): rewind the group and consume everything again.
      await container.stop({ awaitTerminationMs: 1_000 });
      await rewindGroup(group, topic);
      container = new RocketListenerContainer({ config });
      container.registerInstance(inv);
      await container.start();
      await until('redelivered 4 acknowledged as duplicates', () => container.health().consumers[0]!.duplicates === 4);
      expect(await count(ordersTable)).toBe(2);
    });

    it('a handler that throws after its insert leaves neither row; the retry writes both once', async () => {
      inv.failAfterInsert.add('o3');
      await template.syncSend(topic, { id: 'o3' }, { keys: ['o3'] });
      await until('first attempt failed', () => inv.runs.some((r) => r.id === 'o3'));
      await until('failure recorded', () => container.health().consumers[0]!.lastError?.message.includes('o3'));
      // Rolled back together: no business row and no consumed row between the failure and the retry.
      expect(await count(ordersTable, { order_id: 'o3' })).toBe(0);
      await until('retried', () => inv.runs.filter((r) => r.id === 'o3').length === 2);
      await until('committed once', async () => (await count(ordersTable, { order_id: 'o3' })) === 1);
      expect(inv.runs.filter((r) => r.id === 'o3').map((r) => r.reconsumeTimes)).toEqual([0, 1]);
      const msgId = ((await knex(ordersTable).where({ order_id: 'o3' }).first()) as { msg_id: string }).msg_id;
      expect(await count(consumedTable, { consumer_group: group, dedup_key: msgId })).toBe(1);
    });

    it('concurrent copies of one message: one business row', async () => {
      inv.slowMs = 300;
      try {
        await Promise.all([0, 1, 2].map(() => template.syncSend(topic, { id: 'o4' }, { properties: { UNIQ_KEY: `${run}-o4` } })));
        await until('three copies handled', async () => {
          const c = container.health().consumers[0]!;
          return c.duplicates >= 6 && (await count(ordersTable, { order_id: 'o4' })) === 1;
        });
        await sleep(500);
        expect(await count(ordersTable, { order_id: 'o4' })).toBe(1);
      } finally {
        inv.slowMs = 0;
      }
    });

    it('expiry cleanup deletes consumed rows past the window only', async () => {
      await knex(consumedTable).insert({ consumer_group: group, dedup_key: 'old-one', created_at_ms: Date.now() - 10 * 86_400_000 });
      const before = await count(consumedTable);
      expect(await cleanupConsumed(knex, { tableName: consumedTable, ttlMs: 86_400_000 })).toBe(1);
      expect(await count(consumedTable)).toBe(before - 1);
    });
  });
}

/** A TCP forwarder to PostgreSQL that starts closed ("database down") and can be opened. */
async function gate(port: number, target: { host: string; port: number }): Promise<{ open(): Promise<void>; close(): Promise<void> }> {
  let server: net.Server | undefined;
  const sockets = new Set<net.Socket>();
  return {
    open: async () => {
      server = net.createServer((c) => {
        const u = net.connect(target.port, target.host);
        for (const s of [c, u]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => s.destroy());
        }
        c.pipe(u).pipe(c);
      });
      await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      if (server) await new Promise<void>((r) => server!.close(() => r()));
      server = undefined;
    },
  };
}

describe('dedup with the database unreachable (PostgreSQL behind a closed port)', () => {
  it('retries the message (the handler never runs) and consumes it once the database is back', async () => {
    const run = `down_${process.pid}_${Date.now().toString(36)}`;
    const topic = `DedupDbDown_${run}`;
    const consumedTable = uniqueTableName('rc_consumed');
    const real = createTestKnex(testKnexConfig('pg'));
    await assertReachable(real, 'pg');
    const port = await freePort();
    const url = new URL(PG_URL);
    const g = await gate(port, { host: url.hostname, port: Number(url.port || 5432) });
    url.host = `127.0.0.1:${port}`;
    const { default: knexFactory } = await import('knex');
    const down = knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 2 }, acquireConnectionTimeout: 500, log: { warn: () => undefined, error: () => undefined, debug: () => undefined, deprecate: () => undefined } });
    const runs: string[] = [];
    class Down {
      @RocketListener({ topic, group: `ddb-down-${run}`, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', dedup: { store: 'db', db: down, tableName: consumedTable, retryDelayLevel: 1, storeTimeoutMs: 1_000 } })
      async on(p: { id: string }, _m: MessageExt, { trx }: RocketListenerExtras): Promise<void> {
        await trx!.raw('select 1');
        runs.push(p.id);
      }
    }
    await broker.createTopic(topic, 2);
    const c = new RocketListenerContainer({ config });
    c.registerInstance(new Down());
    await c.start();
    try {
      await template.syncSend(topic, { id: 'x1' });
      await until('two guarded retries', () => c.health().consumers[0]!.failed >= 2, 30_000);
      expect(runs).toEqual([]);
      expect(c.health().consumers[0]!.lastError?.message).toMatch(/dedup store db unavailable/);
      await g.open();
      await until('consumed once the database is back', () => runs.length === 1, 30_000);
      expect(await real(consumedTable).count({ n: '*' })).toEqual([{ n: '1' }]);
    } finally {
      await c.stop({ awaitTerminationMs: 500 });
      await g.close();
      await down.destroy();
      await real.schema.dropTableIfExists(consumedTable);
      await real.destroy();
    }
  });
});
