/**
 * The order flow of samples/03-nest-orders under faults, and the ledger check afterwards.
 *
 * Processes: `rocketry start` (NameServer + Broker, its own process), the sample app (a child
 * process: HTTP + outbox relay + @TransactionalProducer + the inventory consumer with Redis dedup),
 * real PostgreSQL (a schema of its own per run) and real Redis reached through a TCP proxy this
 * scenario controls. A paced HTTP driver places `orders` orders (4 in 5 through POST /orders, the
 * outbox path; 1 in 5 through POST /orders/transactional) while the nemesis, in order:
 *
 *   1. db-reject   PostgreSQL triggers reject a share of writes for a few seconds: order inserts
 *                  (→ HTTP 503, nothing stored), inventory effect inserts (→ the consumer retries),
 *                  outbox rows being marked SENT (→ the relay sends again: a duplicate message)
 *   2. broker-kill SIGKILL of the broker process, restart on the same data dir and ports
 *   3. app-kill    SIGKILL of the app while inventory handlers are running (mid-batch), restart
 *   4. redis-cut   the proxy resets every Redis connection and refuses new ones for a few seconds
 *
 * Then it waits for quiescence (outbox drained, every committed order has an effect, or a bound)
 * and checks the ledger in the database: every committed order has exactly one inventory effect,
 * no effect exists without a committed order, stock moved by exactly the committed quantities, and
 * every order the driver saw acknowledged is committed. "Committed" is what the orders table holds:
 * a request that got no answer may or may not have committed, so the database decides, as a
 * Jepsen-style checker treats an indeterminate call.
 */
import path from 'node:path';
import { Redis } from 'ioredis';
import knexFactory, { type Knex } from 'knex';
import { spawnNode, type ManagedChild } from '../helpers/child-process';
import { freePort, REPO_ROOT, sleep, tempDir, type TempDir } from '../helpers/env';
import { httpJson } from '../helpers/http-json';
import { ProtocolProbe } from '../helpers/protocol-probe';
import { startRocketryProcess, type RocketryProcess, type StartRocketryOptions } from '../helpers/rocketry-process';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';
import { ensureTopic, SHORT_DELAY_LEVELS } from '../helpers/topics';

export const PG_URL = process.env.ROCKETRY_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.ROCKETRY_REDIS_URL ?? 'redis://127.0.0.1:6379';
const APP_MAIN = path.join(REPO_ROOT, 'samples', '03-nest-orders', 'main.ts');
const ORDERS_TOPIC = 'Orders';
const INITIAL_STOCK = 1_000_000;
const SKUS = ['SKU-A', 'SKU-B', 'SKU-C', 'SKU-D'];

export interface FaultScenarioOptions {
  /** Orders the driver places. @defaultValue 240 */
  orders?: number;
  /** How long the driver spreads them over. @defaultValue 30000 */
  driveMs?: number;
  /** Concurrent HTTP clients. @defaultValue 4 */
  clients?: number;
  /** Longest wait for quiescence after the driver finished. @defaultValue 90000 */
  quiesceTimeoutMs?: number;
  /** Progress lines. @defaultValue none */
  log?: (line: string) => void;
}

export interface FaultEvent {
  atMs: number;
  what: string;
}

export interface LedgerCheck {
  /** Committed orders (rows in `orders`). */
  orders: number;
  /** Inventory effect rows. */
  effects: number;
  /** Committed orders without an effect. */
  lost: number;
  /** Effects beyond the first per order. */
  duplicated: number;
  /** Effects whose order is not committed. */
  orphans: number;
  /** Σ over SKUs of |stock consumed − committed quantity with an effect|. */
  stockDrift: number;
  /** Orders the driver saw acknowledged (201/200) that are not committed. */
  acknowledgedNotCommitted: number;
  /** Effects reached by more than one delivery (redeliveries the unique key absorbed). */
  redeliveredEffects: number;
  deadLetters: number;
  outbox: Record<string, number>;
}

export interface FaultScenarioResult {
  ledger: LedgerCheck;
  driver: { placed: number; acknowledged: number; rejected: number; gaveUp: number; http503: number; noAnswer: number };
  faults: FaultEvent[];
  /** Inventory handlers running when the app was killed. */
  inFlightAtAppKill: number;
  /** From the driver's end until the outbox was drained and every committed order had its effect. */
  quiescedAfterMs: number;
  /** `faults: orders N, effects N, lost 0, duplicated 0`. */
  summaryLine: string;
  detailLine: string;
  ok: boolean;
}

type Outcome = 'acknowledged' | 'rejected' | 'gave-up';

interface AppStats {
  ledger: { orders: number; effects: number };
  inventory: { inFlight: number; applied: number; alreadyApplied: number; failed: number };
}

function parseRedisUrl(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) };
}

async function count(q: Knex.QueryBuilder): Promise<number> {
  const rows = (await q.count<{ n: string | number }[]>({ n: '*' })) as { n: string | number }[];
  return Number(rows[0]?.n ?? 0);
}

export async function runOrdersFaultScenario(options: FaultScenarioOptions = {}): Promise<FaultScenarioResult> {
  const orders = options.orders ?? 240;
  const driveMs = options.driveMs ?? 30_000;
  const clients = options.clients ?? 4;
  const quiesceTimeoutMs = options.quiesceTimeoutMs ?? 90_000;
  const log = options.log ?? (() => undefined);
  const run = `f${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
  const schema = `faults_${run}`;
  const t0 = Date.now();
  const faults: FaultEvent[] = [];
  const note = (what: string) => {
    faults.push({ atMs: Date.now() - t0, what });
    log(`  +${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
  };

  // --- real services, failing loudly (never skipping) when absent ---------------------------------
  const db = knexFactory({ client: 'pg', connection: PG_URL, searchPath: [schema], pool: { min: 0, max: 4 } });
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let dataDir: TempDir | undefined;
  let proxy: TcpProxy | undefined;
  let broker: RocketryProcess | undefined;
  let app: ManagedChild | undefined;
  const probe = new ProtocolProbe();
  const appOutputs: string[] = [];
  try {
    try {
      await db.raw('select 1');
    } catch (err) {
      throw new Error(`PostgreSQL is unreachable at ${PG_URL}: ${(err as Error).message}`, { cause: err });
    }
    try {
      await redis.connect();
      await redis.ping();
    } catch (err) {
      throw new Error(`Redis is unreachable at ${REDIS_URL}: ${(err as Error).message}`, { cause: err });
    }
    await db.raw('create schema ??', [schema]);
    proxy = await startTcpProxy(parseRedisUrl(REDIS_URL));

    // --- broker as its own process ----------------------------------------------------------------
    dataDir = tempDir('faults-broker');
    const brokerOptions: StartRocketryOptions = {
      mode: 'start',
      dataDir: dataDir.path,
      name: 'rocketry start (faults)',
      // Retries come back after 1 s; half messages are checked back quickly after an app crash.
      settings: { messageDelayLevel: SHORT_DELAY_LEVELS, transactionCheckInterval: 2_000, transactionTimeOut: 3_000 },
    };
    broker = await startRocketryProcess(brokerOptions);
    brokerOptions.namesrvPort = broker.namesrvPort;
    brokerOptions.brokerPort = broker.brokerPort;
    const nameServer = broker.namesrvAddr!;
    await ensureTopic(probe, broker.brokerAddr!, [nameServer], ORDERS_TOPIC, 4);

    // --- the sample app as a child process ----------------------------------------------------------
    const appPort = await freePort();
    const base = `http://127.0.0.1:${appPort}`;
    let appStarts = 0;
    const startApp = async (): Promise<ManagedChild> => {
      appStarts++;
      const child = spawnNode(['--import', 'tsx', APP_MAIN], {
        name: `orders app #${appStarts}`,
        env: {
          PORT: String(appPort),
          ROCKETMQ_NAME_SERVER: nameServer,
          DATABASE_URL: PG_URL,
          DATABASE_SCHEMA: schema,
          REDIS_URL: `redis://${proxy!.address}`,
          ORDERS_TOPIC,
          GROUP_SUFFIX: run,
          INVENTORY_HANDLER_DELAY_MS: '40',
          INVENTORY_RETRY_DELAY_LEVEL: '1',
          INVENTORY_MAX_RECONSUME: '16',
          INITIAL_STOCK: String(INITIAL_STOCK),
          OUTBOX_POLL_MS: '100',
          OUTBOX_MAX_ATTEMPTS: '1000',
          OUTBOX_MAX_BACKOFF_MS: '1000',
          OUTBOX_LEASE_MS: '3000',
          DEDUP_LEASE_MS: '3000',
          CLIENT_REFRESH_MS: '1000',
        },
      });
      await child.waitForLine(/orders service ready/, 60_000);
      return child;
    };
    const stopApp = async (child: ManagedChild, signal: NodeJS.Signals) => {
      if (signal === 'SIGKILL') child.kill('SIGKILL');
      else child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await child.exited;
      clearTimeout(timer);
      appOutputs.push(child.output().slice(-3000));
    };
    app = await startApp();
    note(`app ready on :${appPort} (broker ${broker.brokerAddr}, schema ${schema}, redis via proxy :${proxy.port})`);

    // --- fault injection in the database: reject writes with a probability set in a flag table -----
    await db.schema.createTable('fault_flags', (t) => {
      t.string('target', 64).primary();
      t.double('reject_ratio').notNullable();
    });
    await db('fault_flags').insert([
      { target: 'orders', reject_ratio: 0 },
      { target: 'inventory_effects', reject_ratio: 0 },
      { target: 'rocketry_outbox', reject_ratio: 0 },
    ]);
    const q = (s: string) => `"${s}"`;
    await db.raw(`create or replace function ${q(schema)}.fault_reject() returns trigger language plpgsql as $$
      begin
        if random() < coalesce((select reject_ratio from ${q(schema)}.fault_flags where target = TG_TABLE_NAME), 0) then
          raise exception 'fault injection: % write rejected', TG_TABLE_NAME;
        end if;
        return new;
      end $$`);
    await db.raw(`create trigger fault_orders before insert on ${q(schema)}.orders for each row execute function ${q(schema)}.fault_reject()`);
    await db.raw(`create trigger fault_effects before insert on ${q(schema)}.inventory_effects for each row execute function ${q(schema)}.fault_reject()`);
    await db.raw(
      `create trigger fault_outbox_sent before update on ${q(schema)}.rocketry_outbox for each row when (new.status = 'SENT') execute function ${q(schema)}.fault_reject()`,
    );
    const setReject = (ratio: number) => db('fault_flags').update({ reject_ratio: ratio });

    // --- driver -----------------------------------------------------------------------------------
    const outcomes = new Map<string, Outcome>();
    const driver = { placed: 0, acknowledged: 0, rejected: 0, gaveUp: 0, http503: 0, noAnswer: 0 };
    const paceMs = driveMs / orders;
    const driveStart = Date.now();
    let next = 0;
    const placeOne = async (i: number): Promise<Outcome> => {
      const id = `${run}-${i}`;
      const transactional = i % 5 === 4;
      const url = `${base}/orders${transactional ? '/transactional' : ''}`;
      const body = { id, sku: SKUS[i % SKUS.length]!, qty: 1 + (i % 3) };
      const deadline = Date.now() + 60_000;
      let rejections = 0;
      while (true) {
        const r = await httpJson('POST', url, body, 8_000);
        if (r.status === 201 || r.status === 200) return 'acknowledged';
        if (r.status === 503) {
          driver.http503++;
          // A client retries a refused write once; a second refusal leaves the order uncommitted.
          if (++rejections >= 2) return 'rejected';
        } else if (r.status === 0 || r.status >= 500) {
          driver.noAnswer++;
        } else {
          throw new Error(`POST ${url} ${JSON.stringify(body)} answered ${r.status}: ${JSON.stringify(r.body)}`);
        }
        if (Date.now() > deadline) return 'gave-up';
        await sleep(250);
      }
    };
    const worker = async () => {
      while (next < orders) {
        const i = next++;
        const due = driveStart + i * paceMs;
        if (due > Date.now()) await sleep(due - Date.now());
        driver.placed++;
        const o = await placeOne(i);
        outcomes.set(`${run}-${i}`, o);
        if (o === 'acknowledged') driver.acknowledged++;
        else if (o === 'rejected') driver.rejected++;
        else driver.gaveUp++;
      }
    };

    // --- nemesis ----------------------------------------------------------------------------------
    let inFlightAtAppKill = 0;
    const at = async (ms: number) => {
      const wait = driveStart + ms - Date.now();
      if (wait > 0) await sleep(wait);
    };
    const nemesis = async () => {
      await at(2_000);
      await setReject(0.25);
      note('db-reject on: 25% of order inserts, inventory effect inserts and outbox mark-SENT updates fail');
      await at(6_000);
      await setReject(0);
      note('db-reject off');

      await at(8_000);
      broker!.kill('SIGKILL');
      await broker!.exited;
      note('broker-kill: SIGKILL');
      await sleep(2_000);
      broker = await startRocketryProcess(brokerOptions);
      note(`broker restarted on the same ports and data dir (${broker.brokerAddr})`);

      // Kill the app while the inventory consumer works through the backlog the outage built up.
      const killBy = Date.now() + 10_000;
      let inFlight = 0;
      while (Date.now() < killBy) {
        const s = await httpJson<AppStats>('GET', `${base}/stats`, undefined, 2_000);
        inFlight = s.body?.inventory.inFlight ?? 0;
        if (inFlight >= 2) break;
        await sleep(15);
      }
      inFlightAtAppKill = inFlight;
      await stopApp(app!, 'SIGKILL');
      note(`app-kill: SIGKILL with ${inFlight} inventory handler(s) running`);
      app = await startApp();
      note('app restarted');

      await at(Math.max(Date.now() - driveStart + 1_000, 21_000));
      const before = proxy!.stats.refused;
      proxy!.cut('reset');
      note(`redis-cut: ${proxy!.stats.refused - before} open connection(s) reset; new ones refused`);
      await sleep(4_000);
      proxy!.restore();
      note(`redis restored (${proxy!.stats.refused - before} connection(s) reset or refused while cut)`);
    };

    log(`driving ${orders} orders over ~${driveMs / 1000}s with ${clients} clients`);
    await Promise.all([nemesis(), ...Array.from({ length: clients }, () => worker())]);
    note(`driver done: ${driver.acknowledged} acknowledged, ${driver.rejected} rejected, ${driver.gaveUp} gave up (${driver.http503} × 503, ${driver.noAnswer} × no answer)`);

    // --- quiescence -------------------------------------------------------------------------------
    // Quiet = the outbox is drained, every committed order has an effect, and nothing changed for
    // STABLE_POLLS polls (longer than a retry's 1 s delay, so a late redelivery still shows up).
    const STABLE_POLLS = 6;
    const quiesceStart = Date.now();
    let stable = 0;
    let lastEffects = -1;
    while (Date.now() - quiesceStart < quiesceTimeoutMs) {
      const effects = await count(db('inventory_effects'));
      const unsent = await count(db('rocketry_outbox').whereNot('status', 'SENT'));
      const withoutEffect = await count(db('orders as o').whereNotExists(db('inventory_effects as e').whereRaw('e.order_id = o.id').select(db.raw('1'))));
      stable = unsent === 0 && withoutEffect === 0 && effects === lastEffects ? stable + 1 : 0;
      lastEffects = effects;
      if (stable >= STABLE_POLLS) break;
      await sleep(500);
    }
    const quiescedAfterMs = Date.now() - quiesceStart;
    note(stable >= STABLE_POLLS ? `quiescent after ${(quiescedAfterMs / 1000).toFixed(1)}s` : `NOT quiescent after ${quiesceTimeoutMs / 1000}s`);

    // --- ledger check -----------------------------------------------------------------------------
    const perOrder = (await db('orders as o')
      .leftJoin('inventory_effects as e', 'e.order_id', 'o.id')
      .groupBy('o.id')
      .select('o.id')
      .count({ n: 'e.order_id' })) as Array<{ id: string; n: string | number }>;
    const committedIds = new Set(perOrder.map((r) => r.id));
    const lost = perOrder.filter((r) => Number(r.n) === 0).length;
    const duplicated = perOrder.reduce((acc, r) => acc + Math.max(0, Number(r.n) - 1), 0);
    const orphans = await count(db('inventory_effects as e').whereNotExists(db('orders as o').whereRaw('o.id = e.order_id').select(db.raw('1'))));
    const effects = await count(db('inventory_effects'));
    const consumed = (await db('inventory_effects').groupBy('sku').select('sku').sum({ q: 'qty' })) as Array<{ sku: string; q: string | number }>;
    const stock = (await db('stock').select('sku', 'available')) as Array<{ sku: string; available: string | number }>;
    let stockDrift = 0;
    for (const s of stock) {
      const used = INITIAL_STOCK - Number(s.available);
      const expected = Number(consumed.find((c) => c.sku === s.sku)?.q ?? 0);
      stockDrift += Math.abs(used - expected);
    }
    const acknowledgedNotCommitted = [...outcomes].filter(([id, o]) => o === 'acknowledged' && !committedIds.has(id)).length;
    const outboxRows = (await db('rocketry_outbox').groupBy('status').select('status').count({ n: '*' })) as Array<{ status: string; n: string | number }>;
    const ledger: LedgerCheck = {
      orders: committedIds.size,
      effects,
      lost,
      duplicated,
      orphans,
      stockDrift,
      acknowledgedNotCommitted,
      redeliveredEffects: await count(db('inventory_effects').where('deliveries', '>', 1)),
      deadLetters: await count(db('dead_letters')),
      outbox: Object.fromEntries(outboxRows.map((r) => [r.status, Number(r.n)])),
    };
    // Counters of the app instance running since the restart (evidence the retries and dedup worked).
    const health = await httpJson<{ rocketmq: { consumers: Array<{ group: string; failed: number; duplicates?: number }> } }>('GET', `${base}/health`);
    const inventory = health.body?.rocketmq.consumers.find((c) => c.group.startsWith('inventory-cg'));
    const sinceRestart = `since app restart: ${inventory?.failed ?? '?'} failed/retried deliveries, ${inventory?.duplicates ?? '?'} duplicates acknowledged by dedup`;
    const summaryLine = `faults: orders ${ledger.orders}, effects ${ledger.effects}, lost ${ledger.lost}, duplicated ${ledger.duplicated}`;
    const detailLine =
      `faults detail: orphans ${ledger.orphans}, stock drift ${ledger.stockDrift}, acknowledged-not-committed ${ledger.acknowledgedNotCommitted}, ` +
      `redelivered effects ${ledger.redeliveredEffects}, dead letters ${ledger.deadLetters}, outbox ${JSON.stringify(ledger.outbox)}, ` +
      `app killed with ${inFlightAtAppKill} in flight, ${driver.http503} × 503, ${driver.noAnswer} × no answer; ${sinceRestart}`;
    const ok = ledger.lost === 0 && ledger.duplicated === 0 && ledger.orphans === 0 && ledger.stockDrift === 0 && ledger.acknowledgedNotCommitted === 0;

    await stopApp(app, 'SIGTERM');
    app = undefined;
    return { ledger, driver, faults, inFlightAtAppKill, quiescedAfterMs, summaryLine, detailLine, ok };
  } catch (err) {
    const tail = app ? app.output().slice(-3000) : appOutputs.at(-1) ?? '';
    if (tail) (err as Error).message += `\n--- app output tail ---\n${tail}`;
    throw err;
  } finally {
    if (app) {
      app.kill('SIGKILL');
      await app.exited;
    }
    if (broker) await broker.stop(15_000).catch(() => undefined);
    probe.close();
    await proxy?.close();
    dataDir?.cleanup();
    const keys = await redis.keys(`rocketry:dedup:*${run}*`).catch(() => [] as string[]);
    if (keys.length > 0) await redis.del(...keys).catch(() => undefined);
    redis.disconnect();
    await db.raw('drop schema if exists ?? cascade', [schema]).catch(() => undefined);
    await db.destroy();
  }
}
