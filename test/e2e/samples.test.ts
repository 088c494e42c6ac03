/**
 * Each sample, run the way its README says (`node --import tsx samples/<n>/main.ts` from the repo
 * root), briefly end to end:
 * - 01-quickstart: inversify app, template → listener; exits 0 after receiving every greeting.
 * - 02-ordered: orderly listener with a failure on every PAID event; still in order, exits 0.
 * - 03-nest-orders (SQLite + real Redis dedup, embedded broker): POST /orders (outbox) and
 *   POST /orders/transactional create orders whose inventory effect appears once; a repeated POST is
 *   idempotent; an order the inventory cannot serve is retried, dead-lettered and recorded by the
 *   @DlqListener; Redis holds the dedup records; SIGTERM closes gracefully.
 * - 03-nest-orders with the defaults alone (no Redis: dedup in the database).
 */
import path from 'node:path';
import knexFactory from 'knex';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { killAllChildren, spawnNode, type ManagedChild } from '../helpers/child-process';
import { freePort, REPO_ROOT, tempDir, waitFor, type TempDir } from '../helpers/env';
import { httpJson } from '../helpers/http-json';

const REDIS_URL = process.env.ROCKETRY_REDIS_URL ?? 'redis://127.0.0.1:6379';
const sample = (dir: string) => path.join(REPO_ROOT, 'samples', dir, 'main.ts');

const dirs: TempDir[] = [];
afterAll(async () => {
  await killAllChildren();
  for (const d of dirs) d.cleanup();
});

async function runToExit(child: ManagedChild, timeoutMs: number): Promise<number | null> {
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    return (await child.exited).code;
  } finally {
    clearTimeout(timer);
  }
}

interface OrderAnswer {
  order: { id: string; via: string };
  created: boolean;
}
interface OrderView {
  order: { id: string };
  effect: { orderId: string; deliveries: number } | null;
}
interface Stats {
  ledger: { orders: number; effects: number; deadLetters: number };
  outbox: Record<string, number>;
  inventory: { applied: number; deadLettered: number };
}

describe('samples run end to end with one command', () => {
  it('01-quickstart: template → @RocketListener through the inversify starter', async () => {
    const child = spawnNode(['--import', 'tsx', sample('01-quickstart')], { env: { SAMPLE_COUNT: '4' }, name: 'sample 01' });
    expect(await runToExit(child, 45_000), child.output()).toBe(0);
    expect(child.stdout()).toContain('quickstart: sent 4, received 4');
    expect(child.stdout().match(/^received #/gm)).toHaveLength(4);
  });

  it('02-ordered: per-order sequence holds even when each PAID event fails once', async () => {
    const child = spawnNode(['--import', 'tsx', sample('02-ordered')], { env: { SAMPLE_ORDERS: '6', SAMPLE_FAIL_ONCE: '1' }, name: 'sample 02' });
    expect(await runToExit(child, 60_000), child.output()).toBe(0);
    expect(child.stdout()).toContain('ordered: orders 6, events 24, out-of-order 0, complete 6, retried 6');
  });

  it('03-nest-orders: outbox and @TransactionalProducer orders get one inventory effect each (Redis dedup); a failing one is dead-lettered', async () => {
    // Fail loudly when Redis is not there (never skip).
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect().catch((err: unknown) => {
      throw new Error(`Redis is unreachable at ${REDIS_URL}: ${(err as Error).message}`);
    });
    const dir = tempDir('sample03');
    dirs.push(dir);
    const port = await freePort();
    const suffix = `e2e${Date.now().toString(36)}`;
    const base = `http://127.0.0.1:${port}`;
    const app = spawnNode(['--import', 'tsx', sample('03-nest-orders')], {
      name: 'sample 03',
      env: {
        PORT: String(port),
        SQLITE_FILE: path.join(dir.path, 'orders.sqlite'),
        REDIS_URL,
        GROUP_SUFFIX: suffix,
        INITIAL_STOCK: '100',
        INVENTORY_MAX_RECONSUME: '1',
        INVENTORY_RETRY_DELAY_LEVEL: '1',
        CLIENT_REFRESH_MS: '1000',
        DATABASE_URL: '',
      },
    });
    try {
      await app.waitForLine(/orders service ready/, 60_000);

      const first = await httpJson<OrderAnswer>('POST', `${base}/orders`, { id: 'e2e-1', sku: 'WIDGET', qty: 2 });
      expect(first.status, JSON.stringify(first)).toBe(201);
      expect(first.body).toMatchObject({ created: true, order: { id: 'e2e-1', via: 'outbox' } });
      const again = await httpJson<OrderAnswer>('POST', `${base}/orders`, { id: 'e2e-1', sku: 'WIDGET', qty: 2 });
      expect(again.status).toBe(200);
      expect(again.body?.created).toBe(false);
      const tx = await httpJson<OrderAnswer>('POST', `${base}/orders/transactional`, { id: 'e2e-2', sku: 'WIDGET', qty: 3 });
      expect(tx.status, JSON.stringify(tx)).toBe(201);
      expect(tx.body).toMatchObject({ created: true, order: { id: 'e2e-2', via: 'transactional' } });
      const bad = await httpJson('POST', `${base}/orders`, { sku: 'WIDGET', qty: 0 });
      expect(bad.status).toBe(400);

      for (const id of ['e2e-1', 'e2e-2']) {
        const view = await waitFor(`inventory effect of ${id}`, async () => {
          const r = await httpJson<OrderView>('GET', `${base}/orders/${id}`);
          return r.body?.effect ? r.body : undefined;
        }, { timeoutMs: 30_000 });
        expect(view.effect).toMatchObject({ orderId: id, deliveries: 1 });
      }

      // More than the stock: the handler throws, is retried once, then the message is dead-lettered.
      const tooMany = await httpJson<OrderAnswer>('POST', `${base}/orders`, { id: 'e2e-3', sku: 'RARE', qty: 500 });
      expect(tooMany.status).toBe(201);
      const dead = await waitFor('dead letter of e2e-3', async () => {
        const r = await httpJson<Array<{ orderId: string; reason: string | null }>>('GET', `${base}/dead-letters`);
        return r.body?.find((d) => d.orderId === 'e2e-3');
      }, { timeoutMs: 45_000 });
      expect(dead.reason).toContain('insufficient stock');
      expect(dead).toMatchObject({ orderId: 'e2e-3' });

      const stats = await httpJson<Stats>('GET', `${base}/stats`);
      expect(stats.body?.ledger).toMatchObject({ orders: 3, effects: 2, deadLetters: 1 });
      expect(stats.body?.outbox.PENDING).toBe(0);
      expect(stats.body?.outbox.FAILED).toBe(0);
      expect(stats.body?.inventory.deadLettered).toBe(1);

      // The dedup records are in Redis, under the run's group.
      const keys = await redis.keys(`rocketry:dedup:inventory-cg-${suffix}:*`);
      expect(keys.length).toBeGreaterThanOrEqual(2);
      if (keys.length > 0) await redis.del(...keys);

      app.kill('SIGTERM');
      expect((await runToExit(app, 20_000))).toBe(0);
      expect(app.stdout()).toMatch(/orders service closed \(SIGTERM\)/);
    } finally {
      app.kill('SIGKILL');
      redis.disconnect();
    }
  });

  it('03-nest-orders with no configuration at all: SQLite, embedded broker, dedup in the database', async () => {
    const dir = tempDir('sample03-default');
    dirs.push(dir);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const app = spawnNode(['--import', 'tsx', sample('03-nest-orders')], {
      name: 'sample 03 (defaults)',
      env: { PORT: String(port), SQLITE_FILE: path.join(dir.path, 'orders.sqlite'), REDIS_URL: '', DATABASE_URL: '' },
    });
    try {
      await app.waitForLine(/orders service ready/, 60_000);
      const r = await httpJson<OrderAnswer>('POST', `${base}/orders`, { id: 'd-1', sku: 'WIDGET', qty: 1 });
      expect(r.status, JSON.stringify(r)).toBe(201);
      const view = await waitFor('inventory effect of d-1', async () => {
        const v = await httpJson<OrderView>('GET', `${base}/orders/d-1`);
        return v.body?.effect ? v.body : undefined;
      }, { timeoutMs: 30_000 });
      expect(view.effect?.deliveries).toBe(1);
      app.kill('SIGTERM');
      expect(await runToExit(app, 20_000)).toBe(0);
      // The consumed-message row was written next to the effect (the framework's default table).
      const sqlite = knexFactory({ client: 'better-sqlite3', connection: { filename: path.join(dir.path, 'orders.sqlite') }, useNullAsDefault: true });
      try {
        const rows = (await sqlite('rocketry_consumed').count({ n: '*' })) as Array<{ n: number | string }>;
        expect(Number(rows[0]?.n)).toBe(1);
      } finally {
        await sqlite.destroy();
      }
    } finally {
      app.kill('SIGKILL');
    }
  });
});
