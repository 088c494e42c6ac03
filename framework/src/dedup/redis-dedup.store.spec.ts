/** The Redis two-state record against the real Redis (ROCKETRY_REDIS_URL; fails loudly when unreachable). */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DedupStoreUnavailableError } from './dedup-errors';
import { createDedupRedisClient, RedisDedupStore } from './redis-dedup.store';

const REDIS_URL = process.env.ROCKETRY_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rocketry-spec:${process.pid}:${Date.now().toString(36)}`;

describe('RedisDedupStore', () => {
  let redis: Redis;
  let store: RedisDedupStore;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect().catch((err: Error) => {
      throw new Error(`Redis is unreachable at ${REDIS_URL}: ${err.message}`);
    });
    store = new RedisDedupStore(redis, { keyPrefix: prefix, ttlMs: 60_000, processingLeaseMs: 300, storeTimeoutMs: 2_000 });
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('PROCESSING with a lease, then DONE for the window; a second copy sees PROCESSING, then DONE', async () => {
    const a = await store.acquire('g', 'k1');
    expect(a.state).toBe('ACQUIRED');
    expect(await redis.get(`${prefix}:g:k1`)).toMatch(/^P:/);
    expect(await redis.pttl(`${prefix}:g:k1`)).toBeLessThanOrEqual(300);
    expect((await store.acquire('g', 'k1')).state).toBe('PROCESSING');
    expect(await store.markDone('g', 'k1', (a as { token: string }).token)).toBe(true);
    expect(await redis.get(`${prefix}:g:k1`)).toBe('D');
    expect(await redis.pttl(`${prefix}:g:k1`)).toBeGreaterThan(50_000);
    expect((await store.acquire('g', 'k1')).state).toBe('DONE');
    expect((await store.acquire('other-group', 'k1')).state).toBe('ACQUIRED');
  });

  it('release frees the key for a retry; only the holder can release, renew or mark DONE', async () => {
    const a = (await store.acquire('g', 'k2')) as { state: 'ACQUIRED'; token: string };
    await store.release('g', 'k2', 'not-the-token');
    expect((await store.acquire('g', 'k2')).state).toBe('PROCESSING');
    expect(await store.renew('g', 'k2', 'not-the-token')).toBe(false);
    expect(await store.markDone('g', 'k2', 'not-the-token')).toBe(false);
    expect(await store.renew('g', 'k2', a.token)).toBe(true);
    await store.release('g', 'k2', a.token);
    expect((await store.acquire('g', 'k2')).state).toBe('ACQUIRED');
  });

  it('a lease expires (crashed holder); a stale holder cannot overwrite the new holder or a DONE', async () => {
    const stale = (await store.acquire('g', 'k3')) as { token: string };
    await new Promise((r) => setTimeout(r, 400));
    const fresh = (await store.acquire('g', 'k3')) as { state: string; token: string };
    expect(fresh.state).toBe('ACQUIRED');
    expect(await store.markDone('g', 'k3', stale.token)).toBe(false);
    await store.release('g', 'k3', stale.token);
    expect(await redis.get(`${prefix}:g:k3`)).toBe(`P:${fresh.token}`);
    expect(await store.markDone('g', 'k3', fresh.token)).toBe(true);
    // DONE is final for the window: a stale holder's release or DONE changes nothing.
    await store.release('g', 'k3', stale.token);
    expect(await store.markDone('g', 'k3', stale.token)).toBe(true);
    expect(await redis.get(`${prefix}:g:k3`)).toBe('D');
    // A holder whose lease simply expired (nobody took over) may still record DONE.
    const lone = (await store.acquire('g', 'k4')) as { token: string };
    await new Promise((r) => setTimeout(r, 400));
    expect(await store.markDone('g', 'k4', lone.token)).toBe(true);
    expect((await store.acquire('g', 'k4')).state).toBe('DONE');
  });

  it('an unreachable Redis fails fast with DedupStoreUnavailableError', async () => {
    const client = createDedupRedisClient('redis://127.0.0.1:1', 200);
    try {
      const down = new RedisDedupStore(client, { keyPrefix: prefix, ttlMs: 60_000, processingLeaseMs: 300, storeTimeoutMs: 200 });
      const started = Date.now();
      await expect(down.acquire('g', 'k')).rejects.toBeInstanceOf(DedupStoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      client.disconnect();
    }
  });
});
