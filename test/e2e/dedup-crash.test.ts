/**
 * A consumer process is SIGKILLed right after its handler's effect and the dedup record, before the
 * offset commit; the broker redelivers the message to the next process of the group, which
 * acknowledges it as a duplicate: one effect, with Redis and with PostgreSQL.
 */
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RocketTemplate, resolveRocketryConfig, startEmbeddedBroker, type EmbeddedBroker } from '@rocketry/framework';
import { assertReachable, createTestKnex, testKnexConfig, uniqueTableName } from '../../framework/src/transaction/db.test-support';
import { killAllChildren, spawnNode, type ManagedChild } from '../helpers/child-process';
import { waitFor } from '../helpers/env';

const REDIS_URL = process.env.ROCKETRY_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SCRIPT = path.join('test', 'e2e', 'dedup-scripts', 'crash-consumer.ts');

function startConsumer(config: Record<string, unknown>): ManagedChild {
  return spawnNode(['--import', 'tsx', SCRIPT, JSON.stringify(config)], { name: 'crash-consumer' });
}

function events(child: ManagedChild): Array<Record<string, unknown>> {
  return child
    .lines()
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('redelivery after a consumer crash', () => {
  let broker: EmbeddedBroker;
  let template: RocketTemplate;

  beforeAll(async () => {
    broker = await startEmbeddedBroker();
    template = RocketTemplate.fromConfig(resolveRocketryConfig({ nameServer: broker.namesrvAddr, producer: { group: `crash-pg-${process.pid}` }, env: false }));
    await template.start();
  });

  afterAll(async () => {
    await killAllChildren();
    await template?.destroy();
    await broker?.stop();
  });

  async function crashThenRedeliver(base: Record<string, unknown>, topic: string, effects: () => Promise<number>): Promise<void> {
    await broker.createTopic(topic, 1);
    const a = startConsumer({ ...base, killAfterEffect: true });
    await a.waitForLine(/"event":"ready"/, 60_000);
    await template.syncSend(topic, { id: 'order-1' });
    const exit = await a.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(events(a).map((e) => e.event)).toEqual(expect.arrayContaining(['effect', 'killing']));
    expect(await effects()).toBe(1);

    const b = startConsumer({ ...base, killAfterEffect: false });
    await waitFor('the redelivered copy acknowledged as a duplicate', () => events(b).some((e) => e.event === 'stats' && Number(e.duplicates) >= 1), { timeoutMs: 60_000, intervalMs: 100 });
    expect(events(b).some((e) => e.event === 'effect')).toBe(false);
    expect(await effects()).toBe(1);
    await b.stop(5_000);
  }

  it('Redis: DONE recorded before the crash → the redelivery runs nothing', async () => {
    const run = `${process.pid}_${Date.now().toString(36)}`;
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect().catch((err: Error) => {
      throw new Error(`Redis is unreachable at ${REDIS_URL}: ${err.message}`);
    });
    const keyPrefix = `rocketry-crash:${run}`;
    try {
      await crashThenRedeliver(
        { namesrvAddr: broker.namesrvAddr, topic: `CrashRedis_${run}`, group: `crash-redis-${run}`, store: 'redis', redisUrl: REDIS_URL, keyPrefix },
        `CrashRedis_${run}`,
        async () => Number((await redis.get(`${keyPrefix}:effects:order-1`)) ?? 0),
      );
    } finally {
      const keys = await redis.keys(`${keyPrefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  it('PostgreSQL: the business row committed with the consumed row → the redelivery runs nothing', async () => {
    const run = `${process.pid}_${Date.now().toString(36)}`;
    const dbConfig = testKnexConfig('pg');
    const knex: Knex = createTestKnex(dbConfig);
    await assertReachable(knex, 'pg');
    const consumedTable = uniqueTableName('rc_crash_consumed');
    const bizTable = uniqueTableName('rc_crash_orders');
    await knex.schema.createTable(bizTable, (t) => {
      t.string('order_id', 64);
      t.integer('pid');
    });
    try {
      await crashThenRedeliver(
        { namesrvAddr: broker.namesrvAddr, topic: `CrashDb_${run}`, group: `crash-db-${run}`, store: 'db', db: dbConfig, consumedTable, bizTable },
        `CrashDb_${run}`,
        async () => Number(((await knex(bizTable).count({ n: '*' })) as Array<{ n: string }>)[0]!.n),
      );
    } finally {
      await knex.schema.dropTableIfExists(bizTable);
      await knex.schema.dropTableIfExists(consumedTable);
      await knex.destroy();
    }
  });
});
