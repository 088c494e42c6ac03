/**
 * Runs one handler call under a listener's `dedup` option, and owns the stores of a container
 * (Redis clients created from URLs are shared per URL and closed on close(); clients and knex
 * instances passed in stay the caller's).
 *
 * Outcomes: `ran` (the handler ran; its result decides success), `duplicate` (already consumed:
 * acknowledge without running), `retry-later` (the key is PROCESSING elsewhere or the store is
 * unreachable: consume again later — never run unguarded). Handler errors propagate after the
 * PROCESSING lease is released (Redis) or the transaction rolled back (DB).
 */
import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import type { Logger } from '../client/client-options';
import type { MessageExt } from '../client/message';
import { DbDedupStore } from './db-dedup.store';
import type { ResolvedDedupOptions } from './dedup-definition';
import { DedupStoreUnavailableError } from './dedup-errors';
import { dedupKeyOf } from './dedup-key';
import type { RocketListenerExtras } from './dedup-options';
import { createDedupRedisClient, RedisDedupStore } from './redis-dedup.store';

export type DedupRunOutcome = { kind: 'ran'; result: unknown } | { kind: 'duplicate'; key: string } | { kind: 'retry-later'; key: string | undefined; reason: string; error?: Error };

/** Attempts to record DONE after the handler succeeded (it must not be lost to one Redis hiccup). */
const MARK_DONE_ATTEMPTS = 3;
const MARK_DONE_BACKOFF_MS = 200;

export class DedupRunner {
  private readonly ownedRedis = new Map<string, Redis>();
  private readonly dbStores = new Map<Knex, Map<string, DbDedupStore>>();
  private closed = false;

  constructor(private readonly logger: Logger) {}

  private redisStore(o: ResolvedDedupOptions): RedisDedupStore {
    let client: Redis;
    if (typeof o.redis === 'string') {
      client = this.ownedRedis.get(o.redis) ?? createDedupRedisClient(o.redis, o.storeTimeoutMs);
      this.ownedRedis.set(o.redis, client);
    } else client = o.redis!;
    return new RedisDedupStore(client, { keyPrefix: o.keyPrefix, ttlMs: o.ttlMs, processingLeaseMs: o.processingLeaseMs, storeTimeoutMs: o.storeTimeoutMs });
  }

  private dbStore(o: ResolvedDedupOptions): DbDedupStore {
    const byTable = this.dbStores.get(o.db!) ?? new Map<string, DbDedupStore>();
    this.dbStores.set(o.db!, byTable);
    let store = byTable.get(o.tableName);
    if (!store) {
      store = new DbDedupStore(o.db!, { tableName: o.tableName, ttlMs: o.ttlMs, storeTimeoutMs: o.storeTimeoutMs, createTable: o.createTable, cleanupIntervalMs: o.cleanupIntervalMs });
      store.startCleanup((err) => this.logger.warn({ err, table: o.tableName }, 'dedup cleanup failed'));
      byTable.set(o.tableName, store);
    }
    return store;
  }

  /** Prepares the stores of a listener (Redis connection, DB cleanup timer) so the first message does not pay for it. */
  prepare(o: ResolvedDedupOptions): void {
    if (o.store === 'redis') this.redisStore(o);
    else this.dbStore(o);
  }

  async run(
    o: ResolvedDedupOptions,
    group: string,
    message: MessageExt,
    invoke: (extras: RocketListenerExtras) => Promise<unknown>,
    isFailure: (result: unknown) => boolean,
  ): Promise<DedupRunOutcome> {
    const key = dedupKeyOf(o.key, message);
    return o.store === 'redis' ? this.runRedis(this.redisStore(o), o, group, key, invoke, isFailure) : this.runDb(this.dbStore(o), group, key, invoke, isFailure);
  }

  private async runRedis(
    store: RedisDedupStore,
    o: ResolvedDedupOptions,
    group: string,
    key: string,
    invoke: (extras: RocketListenerExtras) => Promise<unknown>,
    isFailure: (result: unknown) => boolean,
  ): Promise<DedupRunOutcome> {
    let acquired;
    try {
      acquired = await store.acquire(group, key);
    } catch (err) {
      return { kind: 'retry-later', key, reason: (err as Error).message, error: err as Error };
    }
    if (acquired.state === 'DONE') return { kind: 'duplicate', key };
    if (acquired.state === 'PROCESSING') return { kind: 'retry-later', key, reason: `dedup key ${key} is being processed by another consumer (PROCESSING)` };
    const { token } = acquired;
    // Keep the lease while the handler runs, so a slow handler is not run twice.
    const renew = setInterval(
      () => {
        store.renew(group, key, token).then(
          (ok) => {
            if (!ok) this.logger.warn({ group, key }, 'dedup lease lost while the handler runs');
          },
          (err: unknown) => this.logger.warn({ err, group, key }, 'dedup lease renewal failed'),
        );
      },
      Math.max(50, Math.floor(o.processingLeaseMs / 3)),
    );
    renew.unref();
    let result: unknown;
    try {
      result = await invoke({ dedupKey: key });
    } catch (err) {
      clearInterval(renew);
      await this.release(store, group, key, token);
      throw err;
    }
    clearInterval(renew);
    if (isFailure(result)) {
      await this.release(store, group, key, token);
      return { kind: 'ran', result };
    }
    for (let attempt = 1; attempt <= MARK_DONE_ATTEMPTS; attempt++) {
      try {
        if (!(await store.markDone(group, key, token))) this.logger.warn({ group, key }, 'dedup: lease was taken over before DONE; another consumer may run this message too');
        break;
      } catch (err) {
        // The effect happened: acknowledging is right; without DONE a copy arriving after the lease expires would run again.
        if (attempt === MARK_DONE_ATTEMPTS) this.logger.warn({ err, group, key }, 'dedup: could not record DONE; message acknowledged');
        else await new Promise((r) => setTimeout(r, MARK_DONE_BACKOFF_MS * attempt));
      }
    }
    return { kind: 'ran', result };
  }

  private async release(store: RedisDedupStore, group: string, key: string, token: string): Promise<void> {
    try {
      await store.release(group, key, token);
    } catch (err) {
      // The lease then expires on its own (processingLeaseMs) and the retry waits for that.
      this.logger.warn({ err, group, key }, 'dedup: could not release the PROCESSING lease');
    }
  }

  private async runDb(
    store: DbDedupStore,
    group: string,
    key: string,
    invoke: (extras: RocketListenerExtras) => Promise<unknown>,
    isFailure: (result: unknown) => boolean,
  ): Promise<DedupRunOutcome> {
    try {
      const outcome = await store.run(group, key, (trx) => invoke({ trx, dedupKey: key }), (v) => !isFailure(v));
      return outcome.duplicate ? { kind: 'duplicate', key } : { kind: 'ran', result: outcome.value };
    } catch (err) {
      if (err instanceof DedupStoreUnavailableError) return { kind: 'retry-later', key, reason: err.message, error: err };
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const byTable of this.dbStores.values()) for (const s of byTable.values()) s.stop();
    this.dbStores.clear();
    for (const c of this.ownedRedis.values()) c.disconnect();
    this.ownedRedis.clear();
  }
}
