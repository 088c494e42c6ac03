import knexFactory, { type Knex } from 'knex';
import { describe, expect, it } from 'vitest';
import { resolveRocketryConfig } from '../config/rocketry-config';
import { RocketListener } from '../decorators/rocket-listener.decorator';
import { RocketListenerContainer } from '../listener/rocket-listener-container';
import { resolveListenerOptions } from '../listener/listener-definition';
import { dedupDialectOf } from './db-dedup.store';
import { DEDUP_DEFAULTS } from './dedup-options';

const config = resolveRocketryConfig({ nameServer: '127.0.0.1:9876', env: false });

/** What knex looks like to the dedup option, for a dialect whose driver is not installed. */
function fakeKnex(client: string): Knex {
  const fn = (() => undefined) as unknown as Knex & { client: unknown };
  Object.assign(fn, { client: { config: { client } }, transaction: () => undefined, raw: () => undefined });
  return fn;
}

const resolve = (dedup: unknown, extra: Record<string, unknown> = {}) => resolveListenerOptions({ topic: 'T', group: 'g', dedup, ...extra }, 'Inv.onOrder', config);

describe('dedup option validation', () => {
  it('defaults', () => {
    const o = resolve({ store: 'redis', redis: 'redis://127.0.0.1:6379' }).dedup!;
    expect(o).toMatchObject({ store: 'redis', redis: 'redis://127.0.0.1:6379', key: 'msgId', ttlMs: DEDUP_DEFAULTS.ttlMs, processingLeaseMs: 30_000, retryDelayLevel: 0, tableName: 'rocketry_consumed' });
    expect(resolve(undefined).dedup).toBeUndefined();
  });

  it('names the listener and the field', () => {
    expect(() => resolve({ store: 'memory' })).toThrow(/@RocketListener on Inv\.onOrder: option 'dedup\.store': must be 'redis' or 'db', got "memory"/);
    expect(() => resolve({ store: 'redis' })).toThrow(/option 'dedup\.redis': store 'redis' needs redis/);
    expect(() => resolve({ store: 'redis', redis: 'http://x' })).toThrow(/dedup\.redis': must be a redis:\/\/ or rediss:\/\/ URL/);
    expect(() => resolve({ store: 'db' })).toThrow(/dedup\.db': store 'db' needs db: the knex instance/);
    expect(() => resolve({ store: 'redis', redis: 'redis://h', ttl: 5 })).toThrow(/dedup\.ttl': unknown field \(did you mean ttlMs\?\)/);
    expect(() => resolve({ store: 'redis', redis: 'redis://h', key: 'body' })).toThrow(/dedup\.key': must be 'msgId', 'keys' or a function/);
    expect(() => resolve({ store: 'redis', redis: 'redis://h', ttlMs: 5_000, processingLeaseMs: 10_000 })).toThrow(/dedup\.processingLeaseMs': \(10000\) must not exceed ttlMs/);
    expect(() => resolve({ store: 'redis', redis: 'redis://h' }, { messageModel: 'BROADCASTING' })).toThrow(/option 'dedup': applies to CLUSTERING listeners only/);
    expect(() => resolveListenerOptions({ topic: 'T', group: 'g', idempotent: true }, 'Inv.onOrder', config)).toThrow(/unknown option \(did you mean dedup\?\)/);
    expect(() => resolve(undefined, { onDeadLetter: 42 })).toThrow(/option 'onDeadLetter': must be a function/);
    expect(() => resolve(undefined, { onDeadLetter: 'x', messageModel: 'BROADCASTING' })).toThrow(/no dead-letter queue/);
  });

  it('insert-or-ignore dialects are accepted; others fail with a clear message at registration', () => {
    const sqlite = knexFactory({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });
    const pg = knexFactory({ client: 'pg', connection: 'postgres://127.0.0.1/none' });
    const mysql = knexFactory({ client: 'mysql2', connection: 'mysql://127.0.0.1/none' });
    try {
      expect([dedupDialectOf(sqlite), dedupDialectOf(pg), dedupDialectOf(mysql)]).toEqual(['sqlite', 'pg', 'mysql']);
      expect(resolve({ store: 'db', db: pg }).dedup).toMatchObject({ store: 'db', dialect: 'pg' });
    } finally {
      void sqlite.destroy();
      void pg.destroy();
      void mysql.destroy();
    }
    for (const client of ['mssql', 'oracledb']) {
      expect(() => resolve({ store: 'db', db: fakeKnex(client) })).toThrow(
        new RegExp(`option 'dedup\\.db': dedup store 'db' does not support the knex client "${client}": the consumed-message insert needs insert-or-ignore`),
      );
    }
    class MsSqlListener {
      @RocketListener({ topic: 'T', group: 'g', dedup: { store: 'db', db: fakeKnex('mssql') } })
      onOrder(): void {}
    }
    expect(() => new RocketListenerContainer({ config }).registerInstance(new MsSqlListener())).toThrow(/MsSqlListener\.onOrder: option 'dedup\.db': .*"mssql".*PostgreSQL \(pg\), MySQL\/MariaDB \(mysql, mysql2\) and SQLite/);
  });

  it('onDeadLetter as a method name must exist on the class', () => {
    class NoHook {
      @RocketListener({ topic: 'T', group: 'g', onDeadLetter: 'missing' })
      onOrder(): void {}
    }
    expect(() => new RocketListenerContainer({ config }).registerInstance(new NoHook())).toThrow(/option 'onDeadLetter': .*NoHook has no method missing/);
  });
});
