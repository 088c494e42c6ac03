/**
 * Registration-time validation of the `dedup` listener option: unknown fields, the store and what it
 * needs (a Redis URL or client; a knex instance of a dialect with insert-or-ignore), types and ranges,
 * then the defaults of DEDUP_DEFAULTS. Errors are raised through `fail(field, reason)` so they name
 * the listener and `dedup.<field>`.
 */
import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { suggest } from '../config/rocketry-config';
import { dedupDialectOf, checkConsumedTableName, type DedupDialect } from './db-dedup.store';
import { DEDUP_DEFAULTS, DEDUP_OPTION_NAMES, type DedupKeySource, type DedupStoreName } from './dedup-options';

export interface ResolvedDedupOptions {
  store: DedupStoreName;
  redis: string | Redis | undefined;
  db: Knex | undefined;
  dialect: DedupDialect | undefined;
  key: DedupKeySource;
  ttlMs: number;
  processingLeaseMs: number;
  retryDelayLevel: number;
  storeTimeoutMs: number;
  keyPrefix: string;
  tableName: string;
  cleanupIntervalMs: number;
  createTable: boolean;
}

function isRedisClient(x: unknown): x is Redis {
  return typeof x === 'object' && x !== null && typeof (x as { eval?: unknown }).eval === 'function';
}

function isKnex(x: unknown): x is Knex {
  return typeof x === 'function' && typeof (x as { transaction?: unknown }).transaction === 'function' && typeof (x as { raw?: unknown }).raw === 'function';
}

export function resolveDedupOptions(raw: unknown, fail: (field: string, reason: string) => Error, resolveString: (field: string, value: string) => string = (_f, v) => v): ResolvedDedupOptions {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw fail('', "must be an object like { store: 'redis', redis: 'redis://127.0.0.1:6379' } or { store: 'db', db: knex }");
  const input = raw as Record<string, unknown>;
  const known = DEDUP_OPTION_NAMES as readonly string[];
  for (const k of Object.keys(input)) {
    if (!known.includes(k)) throw fail(k, `unknown field${suggest(k, known)}; known fields: ${known.join(', ')}`);
  }
  const int = (field: string, fallback: number, min: number, max: number): number => {
    let v = input[field];
    if (v === undefined) return fallback;
    if (typeof v === 'string') v = /^\s*-?\d+\s*$/.test(resolveString(field, v)) ? Number(resolveString(field, v)) : NaN;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw fail(field, `must be an integer in [${min}, ${max}], got ${JSON.stringify(input[field])}`);
    return v;
  };
  const store = input.store;
  if (store !== 'redis' && store !== 'db') throw fail('store', `must be 'redis' or 'db', got ${JSON.stringify(store)}`);

  let redis: string | Redis | undefined;
  let db: Knex | undefined;
  let dialect: DedupDialect | undefined;
  if (store === 'redis') {
    const r = input.redis;
    if (typeof r === 'string') {
      const url = resolveString('redis', r).trim();
      if (!/^rediss?:\/\//.test(url)) throw fail('redis', `must be a redis:// or rediss:// URL or an ioredis client, got ${JSON.stringify(url)}`);
      redis = url;
    } else if (isRedisClient(r)) redis = r;
    else throw fail('redis', `store 'redis' needs redis: a redis:// URL or an ioredis client`);
    if (input.db !== undefined) throw fail('db', `applies to store 'db' only`);
  } else {
    if (!isKnex(input.db)) throw fail('db', `store 'db' needs db: the knex instance your handler writes with`);
    db = input.db;
    try {
      dialect = dedupDialectOf(db);
    } catch (err) {
      throw fail('db', (err as Error).message);
    }
    if (input.redis !== undefined) throw fail('redis', `applies to store 'redis' only`);
  }

  const key = input.key ?? DEDUP_DEFAULTS.key;
  if (key !== 'msgId' && key !== 'keys' && typeof key !== 'function') throw fail('key', `must be 'msgId', 'keys' or a function (message) => string, got ${JSON.stringify(key)}`);

  const tableName = typeof input.tableName === 'string' ? resolveString('tableName', input.tableName) : input.tableName === undefined ? DEDUP_DEFAULTS.tableName : undefined;
  if (tableName === undefined) throw fail('tableName', 'must be a string');
  try {
    checkConsumedTableName(tableName);
  } catch (err) {
    throw fail('tableName', (err as Error).message);
  }
  const keyPrefix = input.keyPrefix === undefined ? DEDUP_DEFAULTS.keyPrefix : typeof input.keyPrefix === 'string' && input.keyPrefix.length > 0 ? resolveString('keyPrefix', input.keyPrefix) : undefined;
  if (keyPrefix === undefined) throw fail('keyPrefix', 'must be a non-empty string');
  const createTable = input.createTable ?? DEDUP_DEFAULTS.createTable;
  if (typeof createTable !== 'boolean') throw fail('createTable', 'must be true or false');

  const ttlMs = int('ttlMs', DEDUP_DEFAULTS.ttlMs, 1_000, 365 * 86_400_000);
  const processingLeaseMs = int('processingLeaseMs', DEDUP_DEFAULTS.processingLeaseMs, 100, 3_600_000);
  if (processingLeaseMs > ttlMs) throw fail('processingLeaseMs', `(${processingLeaseMs}) must not exceed ttlMs (${ttlMs})`);
  return {
    store,
    redis,
    db,
    dialect,
    key: key as DedupKeySource,
    ttlMs,
    processingLeaseMs,
    retryDelayLevel: int('retryDelayLevel', DEDUP_DEFAULTS.retryDelayLevel, 0, 1_000),
    storeTimeoutMs: int('storeTimeoutMs', DEDUP_DEFAULTS.storeTimeoutMs, 10, 600_000),
    keyPrefix,
    tableName,
    cleanupIntervalMs: int('cleanupIntervalMs', DEDUP_DEFAULTS.cleanupIntervalMs, 0, 86_400_000),
    createTable,
  };
}
