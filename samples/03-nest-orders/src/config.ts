/**
 * Configuration of the orders service, from environment variables (defaults in one place).
 *
 * | variable                   | default                                   | meaning |
 * |----------------------------|-------------------------------------------|---------|
 * | `PORT`                     | `3000` (`0` = any free port)              | HTTP port |
 * | `ROCKETMQ_NAME_SERVER`     | embedded broker started in this process   | NameServer(s), `h:p;h:p` |
 * | `DATABASE_URL`             | SQLite file `SQLITE_FILE`                 | `postgres://…` or `mysql://…` |
 * | `SQLITE_FILE`              | `samples/03-nest-orders/data/orders.sqlite` | SQLite database file |
 * | `DATABASE_SCHEMA`          | –                                         | PostgreSQL schema (search_path), created if missing |
 * | `REDIS_URL`                | – (then the consumer dedups in the database) | Redis for the inventory consumer's dedup |
 * | `ORDERS_TOPIC`             | `Orders`                                  | topic of order events |
 * | `GROUP_SUFFIX`             | –                                         | appended to every group name (isolated test runs) |
 * | `INVENTORY_HANDLER_DELAY_MS` | `0`                                     | simulated work per inventory message |
 * | `INVENTORY_MAX_RECONSUME`  | `16`                                      | retries before the dead-letter queue |
 * | `INVENTORY_RETRY_DELAY_LEVEL` | `0` (broker's schedule: 10 s, 30 s, 1 min …) | delay level of each retry; 1 = 1 s |
 * | `OUTBOX_POLL_MS`           | `200`                                     | relay polling period |
 * | `OUTBOX_MAX_ATTEMPTS`      | `30`                                      | sends per outbox row before FAILED |
 * | `OUTBOX_MAX_BACKOFF_MS`    | `5000`                                    | cap of the relay's exponential backoff |
 * | `OUTBOX_LEASE_MS`          | `30000`                                   | a claimed row is reclaimed after this (relay died mid-send) |
 * | `INITIAL_STOCK`            | `1000000`                                 | stock per SKU created on first use |
 * | `DEDUP_LEASE_MS`           | `30000`                                   | Redis dedup: PROCESSING lease (renewed while the handler runs) |
 * | `CLIENT_REFRESH_MS`        | client defaults (30 s routes, 20 s rebalance) | route refresh and rebalance period of the consumers |
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface OrdersSampleConfig {
  httpPort: number;
  nameServer: string | undefined;
  databaseUrl: string | undefined;
  sqliteFile: string;
  databaseSchema: string | undefined;
  redisUrl: string | undefined;
  ordersTopic: string;
  /** Producer group of the outbox relay. */
  outboxProducerGroup: string;
  /** Producer group of the @TransactionalProducer variant. */
  txProducerGroup: string;
  /** Consumer group of the inventory listener (its DLQ is `%DLQ%<group>`). */
  inventoryGroup: string;
  /** Consumer group reading the inventory group's DLQ. */
  deadLetterGroup: string;
  handlerDelayMs: number;
  maxReconsumeTimes: number;
  retryDelayLevel: number;
  outboxPollMs: number;
  outboxMaxAttempts: number;
  outboxMaxBackoffMs: number;
  outboxLeaseMs: number;
  initialStock: number;
  dedupLeaseMs: number;
  clientRefreshMs: number | undefined;
}

const SAMPLE_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): OrdersSampleConfig {
  const suffix = env.GROUP_SUFFIX ? `-${env.GROUP_SUFFIX}` : '';
  return {
    httpPort: int(env, 'PORT', 3000),
    nameServer: env.ROCKETMQ_NAME_SERVER || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    sqliteFile: env.SQLITE_FILE || path.join(SAMPLE_DIR, 'data', 'orders.sqlite'),
    databaseSchema: env.DATABASE_SCHEMA || undefined,
    redisUrl: env.REDIS_URL || undefined,
    ordersTopic: env.ORDERS_TOPIC || 'Orders',
    outboxProducerGroup: `orders-outbox-pg${suffix}`,
    txProducerGroup: `orders-tx-pg${suffix}`,
    inventoryGroup: `inventory-cg${suffix}`,
    deadLetterGroup: `inventory-dlq-cg${suffix}`,
    handlerDelayMs: int(env, 'INVENTORY_HANDLER_DELAY_MS', 0),
    maxReconsumeTimes: int(env, 'INVENTORY_MAX_RECONSUME', 16),
    retryDelayLevel: int(env, 'INVENTORY_RETRY_DELAY_LEVEL', 0),
    outboxPollMs: int(env, 'OUTBOX_POLL_MS', 200),
    outboxMaxAttempts: int(env, 'OUTBOX_MAX_ATTEMPTS', 30),
    outboxMaxBackoffMs: int(env, 'OUTBOX_MAX_BACKOFF_MS', 5_000),
    outboxLeaseMs: int(env, 'OUTBOX_LEASE_MS', 30_000),
    initialStock: int(env, 'INITIAL_STOCK', 1_000_000),
    dedupLeaseMs: int(env, 'DEDUP_LEASE_MS', 30_000),
    clientRefreshMs: env.CLIENT_REFRESH_MS ? int(env, 'CLIENT_REFRESH_MS', 0) : undefined,
  };
}

/** This process's configuration, read once at start (decorators below take values from it). */
export const appConfig: OrdersSampleConfig = loadConfig();
