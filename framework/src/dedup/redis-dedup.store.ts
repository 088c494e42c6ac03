/**
 * Redis dedup record, one key per (group, dedup key): `<prefix>:<group>:<key>` holding
 *
 *   P:<token>  PROCESSING, expires after the lease (renewed by the holder while its handler runs)
 *   D          DONE, expires after the dedup window (ttlMs)
 *
 * Every transition is one Lua script, so it is atomic and conditional on the current value: only the
 * holder of the lease (same token) can mark DONE, release or renew, and nobody overwrites a DONE. A
 * stale holder whose lease expired and was taken over therefore cannot clobber the new holder's
 * record; one whose lease simply expired may still mark DONE (nobody else ran it).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { DedupStoreUnavailableError, withStoreTimeout } from './dedup-errors';

const ACQUIRE = `
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], 'P:' .. ARGV[1], 'PX', ARGV[2])
  return 'ACQUIRED'
end
if v == 'D' then return 'DONE' end
return 'PROCESSING'`;

const MARK_DONE = `
local v = redis.call('GET', KEYS[1])
if v == 'D' then return 1 end
if (not v) or v == 'P:' .. ARGV[1] then
  redis.call('SET', KEYS[1], 'D', 'PX', ARGV[2])
  return 1
end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == 'P:' .. ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const RENEW = `
if redis.call('GET', KEYS[1]) == 'P:' .. ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

export type AcquireOutcome = { state: 'ACQUIRED'; token: string } | { state: 'DONE' } | { state: 'PROCESSING' };

export interface RedisDedupStoreOptions {
  keyPrefix: string;
  ttlMs: number;
  processingLeaseMs: number;
  storeTimeoutMs: number;
}

/** An ioredis client for a URL, tuned to fail fast (the caller retries the message later) rather than queue forever. */
export function createDedupRedisClient(url: string, storeTimeoutMs: number): Redis {
  const client = new Redis(url, {
    maxRetriesPerRequest: 1,
    connectTimeout: Math.max(storeTimeoutMs, 1_000),
    // Keep reconnecting (so the store comes back after an outage) but never faster than every 100 ms.
    retryStrategy: (times) => Math.min(100 * times, 1_000),
    lazyConnect: false,
  });
  // Connection errors surface per command (as DedupStoreUnavailableError); without a listener ioredis prints them.
  client.on('error', () => undefined);
  return client;
}

export class RedisDedupStore {
  constructor(
    readonly client: Redis,
    private readonly opts: RedisDedupStoreOptions,
  ) {}

  keyOf(group: string, key: string): string {
    return `${this.opts.keyPrefix}:${group}:${key}`;
  }

  private async run(operation: string, script: string, key: string, ...args: (string | number)[]): Promise<unknown> {
    try {
      return await withStoreTimeout(this.client.eval(script, 1, key, ...args), this.opts.storeTimeoutMs, 'redis', operation);
    } catch (err) {
      throw err instanceof DedupStoreUnavailableError ? err : new DedupStoreUnavailableError('redis', operation, err);
    }
  }

  /** PROCESSING with a new lease when there is no record; else what is there. */
  async acquire(group: string, key: string): Promise<AcquireOutcome> {
    const token = randomUUID();
    let state: unknown;
    try {
      state = await this.run('acquire', ACQUIRE, this.keyOf(group, key), token, this.opts.processingLeaseMs);
    } catch (err) {
      // A timed-out acquire may still run once the connection is back and leave an orphan lease; queue
      // a release of our token behind it (same connection, FIFO) so the retry need not wait for the lease.
      this.client.eval(RELEASE, 1, this.keyOf(group, key), token).catch(() => undefined);
      throw err;
    }
    if (state === 'ACQUIRED') return { state, token };
    if (state === 'DONE') return { state };
    return { state: 'PROCESSING' };
  }

  /** DONE for the dedup window; false when another holder has the record now (our lease was lost). */
  async markDone(group: string, key: string, token: string): Promise<boolean> {
    return (await this.run('markDone', MARK_DONE, this.keyOf(group, key), token, this.opts.ttlMs)) === 1;
  }

  /** Deletes our PROCESSING record so a retry can run at once. */
  async release(group: string, key: string, token: string): Promise<void> {
    await this.run('release', RELEASE, this.keyOf(group, key), token);
  }

  /** Extends our lease; false when it is no longer ours. */
  async renew(group: string, key: string, token: string): Promise<boolean> {
    return (await this.run('renew', RENEW, this.keyOf(group, key), token, this.opts.processingLeaseMs)) === 1;
  }
}
