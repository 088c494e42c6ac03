/**
 * Test support (specs, e2e suites and their child scripts): knex configs for the three supported
 * databases. PostgreSQL and MariaDB/MySQL come from ROCKETRY_PG_URL / ROCKETRY_MYSQL_URL (defaults
 * below); a test that needs one fails loudly when it is unreachable. SQLite is a file (shared by
 * processes) in WAL mode with a busy timeout.
 */
import knexFactory, { type Knex } from 'knex';

export type TestDialect = 'sqlite' | 'pg' | 'mysql';

export const PG_URL = process.env.ROCKETRY_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MYSQL_URL = process.env.ROCKETRY_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** A serialisable knex config (child processes get it as JSON). */
export function testKnexConfig(dialect: TestDialect, sqliteFile?: string, poolMax = 5): Knex.Config {
  if (dialect === 'sqlite') {
    if (!sqliteFile) throw new Error('testKnexConfig: sqliteFile is required for sqlite');
    return { client: 'better-sqlite3', connection: { filename: sqliteFile }, useNullAsDefault: true };
  }
  if (dialect === 'pg') return { client: 'pg', connection: PG_URL, pool: { min: 0, max: poolMax } };
  return { client: 'mysql2', connection: MYSQL_URL, pool: { min: 0, max: poolMax } };
}

/** knex from a config made by `testKnexConfig`; SQLite gets WAL + a busy timeout (default 10 s) on every connection. */
export function createTestKnex(config: Knex.Config, sqliteBusyTimeoutMs = 10_000): Knex {
  if (config.client !== 'better-sqlite3') return knexFactory(config);
  return knexFactory({
    ...config,
    pool: {
      afterCreate: (conn: { pragma: (s: string) => unknown }, done: (err: Error | null, conn: unknown) => void) => {
        conn.pragma('journal_mode = WAL');
        conn.pragma(`busy_timeout = ${sqliteBusyTimeoutMs}`);
        done(null, conn);
      },
    },
  });
}

/** Fails loudly (never skips) when the server is unreachable. */
export async function assertReachable(knex: Knex, dialect: TestDialect): Promise<void> {
  try {
    await knex.raw('select 1');
  } catch (err) {
    throw new Error(`${dialect} is unreachable (${dialect === 'pg' ? PG_URL : dialect === 'mysql' ? MYSQL_URL : 'sqlite'}): ${(err as Error).message}`, { cause: err });
  }
}

/** Unique table name per test run (parallel runs must not clash). */
export function uniqueTableName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`.slice(0, 60);
}
