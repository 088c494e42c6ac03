/**
 * `npm run bench`: our broker and Apache RocketMQ 5.3.x, one after the other on this machine, driven by
 * the same raw-remoting load generator (load-generator.ts) with the same settings, then the client
 * comparison (ours vs ali-ons vs the Java client) against our broker. Per system:
 *
 *   async-flush broker  1. produce 1 KiB, 4 queues, 16 and 64 senders (msg/s, p50/p99/p99.9)
 *                       3. batch send 32 x 1 KiB
 *                       4. consumer drain of a pre-filled backlog (--backlog, default 200k)
 *                       5. end-to-end latency at a fixed offered rate (--e2e-rate, default 10k msg/s)
 *   sync-flush broker   2. produce as in 1
 *   fresh async broker  7. restart recovery with a CommitLog of --recovery-mib (clean stop and kill -9)
 *   every scenario      6. broker CPU and RSS (proc-sampler.ts; Apache = Broker + NameServer JVMs)
 *   our broker          8. client comparison (client-bench.ts)
 *
 *   node --import tsx test/bench/run.ts [--systems rocketry,apache] [--messages 100000] [--seconds 20]
 *       [--concurrency 16,64] [--connections 2] [--queues 4] [--body 1024] [--flush async,sync]
 *       [--batch-size 32] [--batch-messages 320000] [--batch-inflight 8] [--backlog 200000]
 *       [--e2e-rate 10000] [--e2e-seconds 10] [--recovery-mib 2048] [--recovery-modes clean,crash]
 *       [--apache-heap-mib 1024] [--clients rocketry,ali-ons,java | none] [--client-* ...]
 *       [--profile]   only our broker, async produce (+ drain with --backlog N), under `node --cpu-prof`;
 *                     prints the top self times (cpu-profile-summary.ts)
 *
 * Prints the tables, writes JSON to test/bench/results/<timestamp>.json (git-ignored), and ends with
 *   bench: produce-async xR1 produce-sync xR2 consume xR3 client-vs-alions xR4
 * Exits non-zero when a run fails (errors, lost messages, a system that would not start).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { prepareJavaToolchain, type JavaToolchain } from '../compat/java-toolchain';
import { killAllChildren } from '../helpers/child-process';
import { REPO_ROOT } from '../helpers/env';
import { startApache } from './apache-broker';
import { BENCH_CLIENT_NAMES, type BenchClientName } from './client-adapters';
import {
  DEFAULT_CLIENT_BENCH,
  formatClientComparison,
  nodeClient,
  recordFailed,
  representativeRun,
  runClientComparison,
  type ClientBenchConfig,
  type ClientComparison,
  type ClientUnderTest,
} from './client-bench';
import { CLIENT_SCENARIOS, type ClientScenarioName } from './client-scenario';
import { formatProfileSummary, summarizeProfile, type ProfileSummary } from './cpu-profile-summary';
import { javaBenchClient } from './java-client';
import { ConnectionPool, createTopic, runEndToEnd, runPull, runPut, waitDispatched } from './load-generator';
import { startRocketry, type BrokerUnderTest, type FlushMode, type SystemName } from './process-harness';
import { ProcSampler, readProc, type ProcUsage } from './proc-sampler';
import { summarize, type LatencySummary } from './stats';
import { createRequest } from '../../broker/src/protocol/remoting-command';
import { RequestCode } from '../../broker/src/protocol/request-code';
import { ResponseCode } from '../../broker/src/protocol/response-code';
import { encodeProperties } from '../../broker/src/protocol/message-record';

const PULL_BATCH_SIZE = 32;
const RESULTS_DIR = path.join(REPO_ROOT, 'test', 'bench', 'results');
const ALL_SYSTEMS: readonly SystemName[] = ['rocketry', 'apache'];
const CLIENT_NAMES = [...BENCH_CLIENT_NAMES, 'java'] as const;

export interface BenchConfig {
  systems: SystemName[];
  messages: number;
  seconds: number;
  concurrency: number[];
  connections: number;
  queues: number;
  flush: FlushMode[];
  bodyBytes: number;
  batchSize: number;
  batchMessages: number;
  batchInFlight: number;
  backlog: number;
  e2eRate: number;
  e2eSeconds: number;
  /** 0 skips the recovery scenario. */
  recoveryMiB: number;
  recoveryModes: Array<'clean' | 'crash'>;
  apacheHeapMiB: number;
  profile: boolean;
  /** Client comparison settings; undefined with `--clients none`. */
  clientBench: ClientBenchConfig | undefined;
}

export type ScenarioKind = 'produce' | 'batch' | 'drain' | 'e2e';

export interface ScenarioRow {
  system: SystemName;
  scenario: ScenarioKind;
  flush: FlushMode;
  /** Requests in flight (produce/batch), pullers (drain), offered msg/s (e2e). */
  load: string;
  messages: number;
  expected: number;
  errors: number;
  seconds: number;
  msgsPerSec: number;
  /** produce: per send; batch: per batch request; e2e: send stamp to consumer receipt; drain: none. */
  latency: LatencySummary | undefined;
  usage: ProcUsage;
  notes: string[];
}

export interface RecoveryRow {
  system: SystemName;
  mode: 'clean' | 'crash';
  commitLogMiB: number;
  messages: number;
  readyMs: number;
  /** Spawn to a successful send and a pull of the last filled message. */
  servingMs: number;
  rssAfterMiB: number;
}

export interface SystemInfo {
  system: SystemName;
  pidNote: string;
  error?: string;
}

/** A bad command line: reported as one line, without a stack. */
export class BenchConfigError extends Error {}

function isConfigError(err: unknown): boolean {
  return err instanceof BenchConfigError || String((err as { code?: unknown } | undefined)?.code ?? '').startsWith('ERR_PARSE_ARGS');
}

export function parseConfig(argv: string[]): BenchConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      systems: { type: 'string', default: ALL_SYSTEMS.join(',') },
      messages: { type: 'string', default: '100000' },
      seconds: { type: 'string', default: '20' },
      concurrency: { type: 'string', default: '16,64' },
      connections: { type: 'string', default: '2' },
      queues: { type: 'string', default: '4' },
      flush: { type: 'string', default: 'async,sync' },
      body: { type: 'string', default: '1024' },
      'batch-size': { type: 'string', default: '32' },
      'batch-messages': { type: 'string', default: '320000' },
      'batch-inflight': { type: 'string', default: '8' },
      // '' = the default: 200000, or 0 under --profile (pass --backlog N there to profile a drain too)
      backlog: { type: 'string', default: '' },
      'e2e-rate': { type: 'string', default: '10000' },
      'e2e-seconds': { type: 'string', default: '10' },
      'recovery-mib': { type: 'string', default: '2048' },
      'recovery-modes': { type: 'string', default: 'clean,crash' },
      'apache-heap-mib': { type: 'string', default: '1024' },
      profile: { type: 'boolean', default: false },
      clients: { type: 'string', default: [...DEFAULT_CLIENT_BENCH.clients, 'java'].join(',') },
      'client-scenarios': { type: 'string', default: DEFAULT_CLIENT_BENCH.scenarios.join(',') },
      'client-messages': { type: 'string', default: String(DEFAULT_CLIENT_BENCH.producerMessages) },
      'client-batch-messages': { type: 'string', default: String(DEFAULT_CLIENT_BENCH.batchMessages) },
      'client-backlog': { type: 'string', default: String(DEFAULT_CLIENT_BENCH.drainBacklog) },
      'client-seconds': { type: 'string', default: String(DEFAULT_CLIENT_BENCH.maxSeconds) },
      'client-drain-seconds': { type: 'string', default: String(DEFAULT_CLIENT_BENCH.drainMaxSeconds) },
      'client-inflight': { type: 'string', default: String(DEFAULT_CLIENT_BENCH.asyncInFlight) },
      'client-batch-size': { type: 'string', default: String(DEFAULT_CLIENT_BENCH.batchSize) },
      'client-batch-inflight': { type: 'string', default: String(DEFAULT_CLIENT_BENCH.batchInFlight) },
      'client-rounds': { type: 'string', default: String(DEFAULT_CLIENT_BENCH.rounds) },
    },
  });
  const int = (name: string, v: string, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new BenchConfigError(`--${name} must be an integer in [${min}, ${max}]`);
    return n;
  };
  const list = (v: string) => v.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
  const oneOf = <T extends string>(name: string, v: string, allowed: readonly T[]): T[] => {
    const items = list(v);
    for (const x of items) if (!allowed.includes(x as T)) throw new BenchConfigError(`--${name} entries must be one of ${allowed.join(', ')}, got ${x}`);
    return items as T[];
  };
  const bodyBytes = int('body', values.body, 16, 4 * 1024 * 1024);
  const profile = values.profile;
  let clientBench: ClientBenchConfig | undefined;
  if (values.clients !== 'none' && !profile) {
    const clients = oneOf('clients', values.clients, CLIENT_NAMES);
    if (clients.length === 0) throw new BenchConfigError('--clients names no client');
    clientBench = {
      ...DEFAULT_CLIENT_BENCH,
      clients,
      scenarios: oneOf('client-scenarios', values['client-scenarios'], CLIENT_SCENARIOS) as ClientScenarioName[],
      bodyBytes,
      producerMessages: int('client-messages', values['client-messages'], 1, 10_000_000),
      batchMessages: int('client-batch-messages', values['client-batch-messages'], 1, 10_000_000),
      drainBacklog: int('client-backlog', values['client-backlog'], 1, 10_000_000),
      maxSeconds: int('client-seconds', values['client-seconds'], 1, 3600),
      drainMaxSeconds: int('client-drain-seconds', values['client-drain-seconds'], 1, 3600),
      asyncInFlight: int('client-inflight', values['client-inflight'], 1, 4096),
      batchSize: int('client-batch-size', values['client-batch-size'], 1, 1024),
      batchInFlight: int('client-batch-inflight', values['client-batch-inflight'], 1, 1024),
      rounds: int('client-rounds', values['client-rounds'], 1, 20),
    };
  }
  return {
    systems: profile ? ['rocketry'] : oneOf('systems', values.systems, ALL_SYSTEMS),
    messages: int('messages', values.messages, 1, 100_000_000),
    seconds: int('seconds', values.seconds, 1, 3600),
    concurrency: list(values.concurrency).map((c) => int('concurrency', c, 1, 4096)),
    connections: int('connections', values.connections, 1, 64),
    queues: int('queues', values.queues, 1, 1024),
    flush: profile ? ['async'] : oneOf('flush', values.flush, ['async', 'sync'] as const),
    bodyBytes,
    batchSize: int('batch-size', values['batch-size'], 2, 1024),
    batchMessages: profile ? 0 : int('batch-messages', values['batch-messages'], 0, 100_000_000),
    batchInFlight: int('batch-inflight', values['batch-inflight'], 1, 1024),
    backlog: values.backlog === '' ? (profile ? 0 : 200_000) : int('backlog', values.backlog, 0, 100_000_000),
    e2eRate: int('e2e-rate', values['e2e-rate'], 0, 1_000_000),
    e2eSeconds: profile ? 0 : int('e2e-seconds', values['e2e-seconds'], 0, 3600),
    recoveryMiB: profile ? 0 : int('recovery-mib', values['recovery-mib'], 0, 64 * 1024),
    recoveryModes: oneOf('recovery-modes', values['recovery-modes'], ['clean', 'crash'] as const),
    apacheHeapMiB: int('apache-heap-mib', values['apache-heap-mib'], 256, 16 * 1024),
    profile,
    clientBench,
  };
}

// ------------------------------------------------------------------------------------- scenarios

interface Ctx {
  cfg: BenchConfig;
  log: (line: string) => void;
  runTag: string;
}

function sampler(broker: BrokerUnderTest): ProcSampler {
  return new ProcSampler(broker.pids());
}

async function withPool<T>(cfg: BenchConfig, fn: (pool: ConnectionPool) => Promise<T>): Promise<T> {
  const pool = new ConnectionPool(cfg.connections);
  try {
    return await fn(pool);
  } finally {
    pool.close();
  }
}

/** Scenario 1/2: single sends, `concurrency` in flight. */
async function produce(ctx: Ctx, broker: BrokerUnderTest, concurrency: number): Promise<ScenarioRow> {
  const { cfg } = ctx;
  return withPool(cfg, async (pool) => {
    const topic = `Bench_${broker.flush}_c${concurrency}_${ctx.runTag}`;
    await createTopic(pool.pick(0), broker.brokerAddr, topic, cfg.queues);
    await createTopic(pool.pick(0), broker.brokerAddr, `${topic}_warm`, cfg.queues);
    // Warm-up: connections, JIT and the first segment pages, outside the measurement.
    await runPut({ pool, brokerAddr: broker.brokerAddr, topic: `${topic}_warm`, queueNums: cfg.queues, bodyBytes: cfg.bodyBytes, concurrency, totalMessages: Math.min(20_000, cfg.messages), maxDurationMs: 10_000 });
    const s = sampler(broker);
    const put = await runPut({ pool, brokerAddr: broker.brokerAddr, topic, queueNums: cfg.queues, bodyBytes: cfg.bodyBytes, concurrency, totalMessages: cfg.messages, maxDurationMs: cfg.seconds * 1000 });
    const usage = s.stop();
    const seconds = put.elapsedMs / 1000;
    return {
      system: broker.system,
      scenario: 'produce',
      flush: broker.flush,
      load: `${concurrency} in flight`,
      messages: put.sent,
      expected: cfg.messages,
      errors: put.errors,
      seconds,
      msgsPerSec: put.sent / seconds,
      latency: summarize(put.latenciesMs, put.sent),
      usage,
      notes: put.errorSamples.slice(0, 3),
    };
  });
}

/** Scenario 3: SEND_BATCH_MESSAGE of batchSize x body, batchInFlight requests in flight. */
async function batch(ctx: Ctx, broker: BrokerUnderTest): Promise<ScenarioRow> {
  const { cfg } = ctx;
  return withPool(cfg, async (pool) => {
    const topic = `BenchBatch_${broker.flush}_${ctx.runTag}`;
    await createTopic(pool.pick(0), broker.brokerAddr, topic, cfg.queues);
    const opts = { pool, brokerAddr: broker.brokerAddr, queueNums: cfg.queues, bodyBytes: cfg.bodyBytes, concurrency: cfg.batchInFlight, batchSize: cfg.batchSize };
    await runPut({ ...opts, topic, totalMessages: cfg.batchSize * 200, maxDurationMs: 10_000 });
    const s = sampler(broker);
    const put = await runPut({ ...opts, topic, totalMessages: cfg.batchMessages, maxDurationMs: cfg.seconds * 1000 });
    const usage = s.stop();
    const seconds = put.elapsedMs / 1000;
    return {
      system: broker.system,
      scenario: 'batch',
      flush: broker.flush,
      load: `${cfg.batchSize}/batch, ${cfg.batchInFlight} in flight`,
      messages: put.sent,
      expected: cfg.batchMessages,
      errors: put.errors,
      seconds,
      msgsPerSec: put.sent / seconds,
      latency: summarize(put.latenciesMs, put.latenciesMs.length),
      usage,
      notes: ['latency per batch request', ...put.errorSamples.slice(0, 3)],
    };
  });
}

/** Fills `topic` with `count` messages through batch sends; returns the per-queue offsets to reach. */
async function fillBacklog(ctx: Ctx, broker: BrokerUnderTest, pool: ConnectionPool, topic: string, count: number): Promise<number[]> {
  const { cfg } = ctx;
  const t0 = performance.now();
  const put = await runPut({ pool, brokerAddr: broker.brokerAddr, topic, queueNums: cfg.queues, bodyBytes: cfg.bodyBytes, concurrency: cfg.batchInFlight, batchSize: cfg.batchSize, totalMessages: count, maxDurationMs: 600_000 });
  if (put.sent < count) throw new Error(`${broker.name}: backlog fill stored ${put.sent} of ${count} (${put.errors} errors: ${put.errorSamples.slice(0, 3).join('; ')})`);
  const offsets = await waitDispatched(pool.pick(0), broker.brokerAddr, topic, cfg.queues, put.sent, 60_000);
  ctx.log(`    backlog: ${put.sent} x ${cfg.bodyBytes} B in ${((performance.now() - t0) / 1000).toFixed(1)} s (dispatched ${offsets.reduce((a, b) => a + b, 0)})`);
  return offsets;
}

/** Scenario 4: one puller per queue (32 per pull, no suspend) drains a backlog from offset 0. */
async function drain(ctx: Ctx, broker: BrokerUnderTest): Promise<ScenarioRow> {
  const { cfg } = ctx;
  return withPool(cfg, async (pool) => {
    const topic = `BenchDrain_${ctx.runTag}`;
    await createTopic(pool.pick(0), broker.brokerAddr, topic, cfg.queues);
    const targets = await fillBacklog(ctx, broker, pool, topic, cfg.backlog);
    const s = sampler(broker);
    const pull = await runPull({ pool, brokerAddr: broker.brokerAddr, topic, targetOffsetByQueue: targets, batchSize: PULL_BATCH_SIZE, maxDurationMs: 300_000 });
    const usage = s.stop();
    const seconds = pull.elapsedMs / 1000;
    return {
      system: broker.system,
      scenario: 'drain',
      flush: broker.flush,
      load: `${cfg.queues} pullers x ${PULL_BATCH_SIZE}`,
      messages: pull.pulled,
      expected: cfg.backlog,
      errors: pull.errors,
      seconds,
      msgsPerSec: pull.pulled / seconds,
      latency: undefined,
      usage,
      notes: pull.errorSamples.slice(0, 3),
    };
  });
}

/** Scenario 5: end-to-end latency at a fixed offered rate. */
async function endToEnd(ctx: Ctx, broker: BrokerUnderTest): Promise<ScenarioRow> {
  const { cfg } = ctx;
  return withPool(cfg, async (pool) => {
    const topic = `BenchE2E_${ctx.runTag}`;
    await createTopic(pool.pick(0), broker.brokerAddr, topic, cfg.queues);
    const s = sampler(broker);
    const r = await runEndToEnd({ pool, brokerAddr: broker.brokerAddr, topic, queueNums: cfg.queues, bodyBytes: cfg.bodyBytes, ratePerSec: cfg.e2eRate, durationMs: cfg.e2eSeconds * 1000 });
    const usage = s.stop();
    const seconds = r.elapsedMs / 1000;
    return {
      system: broker.system,
      scenario: 'e2e',
      flush: broker.flush,
      load: `${cfg.e2eRate} msg/s offered`,
      messages: r.received,
      expected: r.offered,
      errors: r.sendErrors + (r.behind > 0 ? 1 : 0),
      seconds,
      msgsPerSec: r.sent / seconds,
      latency: r.endToEnd,
      usage,
      notes: [
        `send p50/p99 ${r.send.p50Ms.toFixed(2)}/${r.send.p99Ms.toFixed(2)} ms`,
        ...(r.behind > 0 ? [`generator fell behind by ${r.behind} sends (in-flight cap)`] : []),
        ...r.errorSamples.slice(0, 3),
      ],
    };
  });
}

/** Sends one message and pulls the last filled one, retrying until both succeed (bounded). */
async function waitServing(broker: BrokerUnderTest, topic: string, lastOffsetQueue0: number, timeoutMs: number): Promise<void> {
  const pool = new ConnectionPool(1);
  const deadline = performance.now() + timeoutMs;
  const client = pool.pick(0);
  const props = encodeProperties({ WAIT: 'true' });
  try {
    let sent = false;
    for (;;) {
      if (performance.now() > deadline) throw new Error(`${broker.name}: not serving within ${timeoutMs} ms of its ready line`);
      try {
        if (!sent) {
          const reply = await client.invoke(
            broker.brokerAddr,
            createRequest(RequestCode.SEND_MESSAGE_V2, { a: 'bench_recovery', b: topic, c: 'TBW102', d: 4, e: 1, f: 0, g: Date.now(), h: 0, i: props, j: 0, k: false }, Buffer.from('after restart')),
            5_000,
          );
          sent = reply.code === ResponseCode.SUCCESS;
        }
        if (sent) {
          const reply = await client.invoke(
            broker.brokerAddr,
            createRequest(RequestCode.PULL_MESSAGE, { consumerGroup: 'bench_recovery', topic, queueId: 0, queueOffset: lastOffsetQueue0, maxMsgNums: 1, sysFlag: 0x4, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0, expressionType: 'TAG' }),
            5_000,
          );
          if (reply.code === ResponseCode.SUCCESS && (reply.body?.length ?? 0) > 0) return;
        }
      } catch {
        // not accepting yet
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    pool.close();
  }
}

/** Scenario 7: fill the CommitLog to recoveryMiB, then time restarts (clean stop, then kill -9). */
async function recovery(ctx: Ctx, broker: BrokerUnderTest): Promise<RecoveryRow[]> {
  const { cfg } = ctx;
  const topic = `BenchRecovery_${ctx.runTag}`;
  const target = cfg.recoveryMiB * 1024 * 1024;
  let messages = 0;
  let physical = 0;
  let offsets: number[] = [];
  await withPool(cfg, async (pool) => {
    await createTopic(pool.pick(0), broker.brokerAddr, topic, cfg.queues);
    const t0 = performance.now();
    // Chunks of ~64 MiB until the last reply's CommitLog offset passes the target.
    const chunk = Math.max(cfg.batchSize, Math.ceil((64 * 1024 * 1024) / (cfg.bodyBytes + 150) / cfg.batchSize) * cfg.batchSize);
    while (physical < target) {
      if (performance.now() - t0 > 600_000) throw new Error(`${broker.name}: recovery fill did not reach ${cfg.recoveryMiB} MiB in 600 s`);
      const left = Math.ceil((target - physical) / (cfg.bodyBytes + 100) / cfg.batchSize) * cfg.batchSize;
      const put = await runPut({ pool, brokerAddr: broker.brokerAddr, topic, queueNums: cfg.queues, bodyBytes: cfg.bodyBytes, concurrency: cfg.batchInFlight, batchSize: cfg.batchSize, totalMessages: Math.max(cfg.batchSize, Math.min(chunk, left)), maxDurationMs: 120_000 });
      if (put.sent === 0) throw new Error(`${broker.name}: recovery fill failed: ${put.errorSamples.slice(0, 3).join('; ')}`);
      messages += put.sent;
      physical = Math.max(physical, put.maxPhysicalOffset ?? -1);
      if ((put.maxPhysicalOffset ?? -1) < 0) physical = messages * (cfg.bodyBytes + 120); // estimate when msgIds are unreadable
    }
    offsets = await waitDispatched(pool.pick(0), broker.brokerAddr, topic, cfg.queues, messages, 60_000);
    ctx.log(`    recovery fill: ${messages} messages, CommitLog ~${(physical / 2 ** 20).toFixed(0)} MiB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  });
  const rows: RecoveryRow[] = [];
  for (const mode of cfg.recoveryModes) {
    const { readyMs } = await broker.restart(mode);
    const t1 = performance.now();
    await waitServing(broker, topic, Math.max(0, (offsets[0] ?? 1) - 1), 120_000);
    const servingMs = readyMs + (performance.now() - t1);
    const rss = broker.pids().reduce((sum, pid) => sum + (readProc(pid)?.rssMiB ?? 0), 0);
    rows.push({ system: broker.system, mode, commitLogMiB: Math.round(physical / 2 ** 20), messages, readyMs, servingMs, rssAfterMiB: rss });
    ctx.log(`    restart after ${mode === 'clean' ? 'clean stop' : 'kill -9'}: ready ${(readyMs / 1000).toFixed(2)} s, serving ${(servingMs / 1000).toFixed(2)} s, RSS ${rss.toFixed(0)} MiB`);
  }
  return rows;
}

// ------------------------------------------------------------------------------------ orchestration

async function startSystem(ctx: Ctx, system: SystemName, flush: FlushMode, toolchain: () => Promise<JavaToolchain>, nodeArgs?: string[]): Promise<BrokerUnderTest> {
  if (system === 'rocketry') return startRocketry({ flush, nodeArgs });
  return startApache({ flush, serverClasspath: (await toolchain()).serverClasspath, heapMiB: ctx.cfg.apacheHeapMiB });
}

function describeRow(r: ScenarioRow): string {
  const lat = r.latency ? `, p50/p99/p99.9 ${r.latency.p50Ms.toFixed(2)}/${r.latency.p99Ms.toFixed(2)}/${r.latency.p999Ms.toFixed(2)} ms` : '';
  const err = r.errors > 0 ? `, ${r.errors} ERRORS ${r.notes.join('; ')}` : '';
  return `${r.scenario} ${r.flush} ${r.load}: ${r.messages}/${r.expected} msgs, ${r.msgsPerSec.toFixed(0)} msg/s${lat}, CPU ${r.usage.cpuPercent.toFixed(0)}%, RSS max ${r.usage.rssMaxMiB.toFixed(0)} MiB${err}`;
}

async function benchSystem(ctx: Ctx, system: SystemName, toolchain: () => Promise<JavaToolchain>, rows: ScenarioRow[], recoveryRows: RecoveryRow[], profileDir?: string): Promise<SystemInfo> {
  const { cfg, log } = ctx;
  let pidNote = '';
  for (const flush of cfg.flush) {
    const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : undefined;
    const broker = await startSystem(ctx, system, flush, toolchain, nodeArgs);
    pidNote = broker.pidNote;
    log(`  started ${broker.name}: broker ${broker.brokerAddr} (pids ${broker.pids().join(', ')})`);
    try {
      const push = (r: ScenarioRow) => {
        rows.push(r);
        log(`    ${describeRow(r)}`);
      };
      for (const c of cfg.concurrency) push(await produce(ctx, broker, c));
      if (flush === 'async') {
        if (cfg.batchMessages > 0) push(await batch(ctx, broker));
        if (cfg.backlog > 0) push(await drain(ctx, broker));
        if (cfg.e2eRate > 0 && cfg.e2eSeconds > 0) push(await endToEnd(ctx, broker));
      }
    } finally {
      const exit = await broker.stop();
      if (exit.code !== 0 && exit.code !== 143) log(`  warning: ${broker.name} exited with code ${exit.code} signal ${exit.signal}`);
    }
  }
  if (cfg.recoveryMiB > 0) {
    const broker = await startSystem(ctx, system, 'async', toolchain);
    log(`  started ${broker.name} for recovery (${cfg.recoveryMiB} MiB CommitLog)`);
    try {
      recoveryRows.push(...(await recovery(ctx, broker)));
    } finally {
      await broker.stop();
    }
  }
  return { system, pidNote };
}

// ------------------------------------------------------------------------------------ reporting

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const f2 = (n: number | undefined) => (n === undefined ? '-' : n.toFixed(2));

function scenarioLabel(r: ScenarioRow): string {
  return `${r.scenario} ${r.flush}, ${r.load}`;
}

export function formatRows(rows: readonly ScenarioRow[]): string {
  return table(
    ['system', 'scenario', 'msgs', 'msg/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'CPU %', 'gen CPU %', 'RSS max MiB', 'errors'],
    rows.map((r) => [
      r.system,
      scenarioLabel(r),
      r.messages === r.expected ? String(r.messages) : `${r.messages}/${r.expected}`,
      r.msgsPerSec.toFixed(0),
      f2(r.latency?.p50Ms),
      f2(r.latency?.p99Ms),
      f2(r.latency?.p999Ms),
      r.usage.cpuPercent.toFixed(0),
      r.usage.generatorCpuPercent.toFixed(0),
      r.usage.rssMaxMiB.toFixed(0),
      String(r.errors),
    ]),
  );
}

/** Same scenario, ours next to Apache's. */
export function formatSideBySide(rows: readonly ScenarioRow[]): string {
  const keys = [...new Set(rows.map(scenarioLabel))];
  const find = (sys: SystemName, k: string) => rows.find((r) => r.system === sys && scenarioLabel(r) === k);
  return table(
    ['scenario', '', 'ours msg/s', 'apache msg/s', 'ours/apache', 'ours p99', 'apache p99', 'ours RSS', 'apache RSS'],
    keys.map((k) => {
      const a = find('rocketry', k);
      const b = find('apache', k);
      return [
        k,
        '',
        a ? a.msgsPerSec.toFixed(0) : '-',
        b ? b.msgsPerSec.toFixed(0) : '-',
        a && b && b.msgsPerSec > 0 ? `${(a.msgsPerSec / b.msgsPerSec).toFixed(2)}x` : '-',
        f2(a?.latency?.p99Ms),
        f2(b?.latency?.p99Ms),
        a ? a.usage.rssMaxMiB.toFixed(0) : '-',
        b ? b.usage.rssMaxMiB.toFixed(0) : '-',
      ];
    }),
  );
}

export function formatRecovery(rows: readonly RecoveryRow[]): string {
  return table(
    ['system', 'restart after', 'CommitLog MiB', 'messages', 'ready s', 'serving s', 'RSS after MiB'],
    rows.map((r) => [r.system, r.mode === 'clean' ? 'clean stop' : 'kill -9', String(r.commitLogMiB), String(r.messages), (r.readyMs / 1000).toFixed(2), (r.servingMs / 1000).toFixed(2), r.rssAfterMiB.toFixed(0)]),
  );
}

export interface BenchRatios {
  produceAsync: number | undefined;
  produceSync: number | undefined;
  consume: number | undefined;
  /** Ours (best of async and autobatch) / ali-ons async. */
  clientVsAliOns: number | undefined;
  /** Ours without autoBatch / ali-ons, for the record. */
  clientVsAliOnsPlainAsync: number | undefined;
}

function best(rows: readonly ScenarioRow[], system: SystemName, scenario: ScenarioKind, flush: FlushMode): number | undefined {
  const xs = rows.filter((r) => r.system === system && r.scenario === scenario && r.flush === flush && r.messages > 0).map((r) => r.msgsPerSec);
  return xs.length > 0 ? Math.max(...xs) : undefined;
}

/** R1/R2: best produce msg/s over the in-flight levels, ours / Apache; R3: drain; R4: async producer, ours / ali-ons. */
export function computeRatios(rows: readonly ScenarioRow[], cmp: ClientComparison | undefined): BenchRatios {
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
  const clientRate = (client: string, scenario: 'async' | 'autobatch') => {
    const r = representativeRun(cmp?.runs.filter((x) => x.client === client && x.scenario === scenario) ?? []);
    return r && !recordFailed(r) && r.kind === 'producer' ? r.msgsPerSec : undefined;
  };
  // R4: each client's fastest way to send single messages asynchronously (ali-ons has one way; ours
  // may batch them on its own). The plain async ratio is kept beside it.
  const ours = [clientRate('rocketry', 'async'), clientRate('rocketry', 'autobatch')].filter((x): x is number => x !== undefined);
  return {
    produceAsync: ratio(best(rows, 'rocketry', 'produce', 'async'), best(rows, 'apache', 'produce', 'async')),
    produceSync: ratio(best(rows, 'rocketry', 'produce', 'sync'), best(rows, 'apache', 'produce', 'sync')),
    consume: ratio(best(rows, 'rocketry', 'drain', 'async'), best(rows, 'apache', 'drain', 'async')),
    clientVsAliOns: ratio(ours.length > 0 ? Math.max(...ours) : undefined, clientRate('ali-ons', 'async')),
    clientVsAliOnsPlainAsync: ratio(clientRate('rocketry', 'async'), clientRate('ali-ons', 'async')),
  };
}

export function benchLine(r: BenchRatios): string {
  const x = (v: number | undefined) => (v === undefined ? 'n/a' : `x${v.toFixed(2)}`);
  return `bench: produce-async ${x(r.produceAsync)} produce-sync ${x(r.produceSync)} consume ${x(r.consume)} client-vs-alions ${x(r.clientVsAliOns)}`;
}

export interface BenchReport {
  startedAt: string;
  config: BenchConfig;
  systems: SystemInfo[];
  rows: ScenarioRow[];
  recovery: RecoveryRow[];
  clientComparison: ClientComparison | undefined;
  ratios: BenchRatios;
  profile: ProfileSummary | undefined;
  failures: string[];
}

export async function runBench(cfg: BenchConfig, log: (line: string) => void = console.log): Promise<BenchReport> {
  const startedAt = new Date();
  const ctx: Ctx = { cfg, log, runTag: Date.now().toString(36) };
  const rows: ScenarioRow[] = [];
  const recoveryRows: RecoveryRow[] = [];
  const systems: SystemInfo[] = [];
  const failures: string[] = [];
  let toolchainPromise: Promise<JavaToolchain> | undefined;
  const toolchain = () => (toolchainPromise ??= prepareJavaToolchain(log));
  let profileDir: string | undefined;
  if (cfg.profile) {
    profileDir = path.join(RESULTS_DIR, 'profiles', startedAt.toISOString().replace(/[:.]/g, '-'));
    fs.mkdirSync(profileDir, { recursive: true });
  }
  log(
    `bench: ${cfg.systems.join(' then ')}; ${cfg.messages} x ${cfg.bodyBytes} B per produce run (max ${cfg.seconds} s), ${cfg.queues} queues, in-flight ${cfg.concurrency.join('/')}, ${cfg.connections} connection(s), flush ${cfg.flush.join('/')}; ` +
      `batch ${cfg.batchSize} x ${cfg.batchMessages / cfg.batchSize} requests; backlog ${cfg.backlog}; e2e ${cfg.e2eRate} msg/s for ${cfg.e2eSeconds} s; recovery ${cfg.recoveryMiB} MiB${cfg.profile ? '; PROFILE (--cpu-prof)' : ''}`,
  );
  for (const system of cfg.systems) {
    log(`${system}:`);
    try {
      systems.push(await benchSystem(ctx, system, toolchain, rows, recoveryRows, profileDir));
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      systems.push({ system, pidNote: '', error: text });
      failures.push(`${system}: ${text.split('\n')[0]}`);
      log(`  ${system} FAILED: ${text}`);
    }
  }
  let clientComparison: ClientComparison | undefined;
  if (cfg.clientBench) {
    const cb = cfg.clientBench;
    try {
      log(`clients ${cb.clients.join(' vs ')} on rocketry async, a fresh broker per scenario: ${cb.scenarios.join(', ')} (each in its own process, one after another)`);
      const clients: ClientUnderTest[] = [];
      for (const c of cb.clients) clients.push(c === 'java' ? await javaBenchClient(await toolchain()) : nodeClient(c as BenchClientName));
      clientComparison = await runClientComparison(() => startRocketry({ flush: 'async' }), cb, clients, log);
    } catch (err) {
      failures.push(`client comparison: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    }
  }
  for (const r of rows) {
    if (r.messages < r.expected || r.errors > 0) failures.push(`${r.system} ${scenarioLabel(r)}: ${r.messages}/${r.expected} messages, ${r.errors} errors ${r.notes.join('; ')}`);
  }
  for (const r of clientComparison?.runs ?? []) {
    if (recordFailed(r)) failures.push(`client ${r.client} ${r.scenario}: ${r.kind === 'failed' ? r.error.split('\n')[0] : 'errors or incomplete (see above)'}`);
  }
  let profile: ProfileSummary | undefined;
  if (profileDir) {
    const files = fs.readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length === 0) failures.push(`profile: no .cpuprofile written in ${profileDir}`);
    else profile = summarizeProfile(path.join(profileDir, files.sort().at(-1)!), 25);
  }
  return { startedAt: startedAt.toISOString(), config: cfg, systems, rows, recovery: recoveryRows, clientComparison, ratios: computeRatios(rows, clientComparison), profile, failures };
}

async function main(): Promise<void> {
  const cfg = parseConfig(process.argv.slice(2));
  const report = await runBench(cfg);
  const print = (s = '') => console.log(s);
  if (report.rows.length > 0) {
    print();
    print(formatRows(report.rows));
    if (cfg.systems.length > 1) {
      print();
      print(formatSideBySide(report.rows));
    }
  }
  if (report.recovery.length > 0) {
    print();
    print(formatRecovery(report.recovery));
  }
  if (report.clientComparison) {
    print();
    print(`client comparison on ${report.clientComparison.broker} (${cfg.bodyBytes} B bodies; best of ${cfg.clientBench?.rounds} rounds; ratio = ${report.clientComparison.config.clients[0]} / other):`);
    print(formatClientComparison(report.clientComparison));
  }
  if (report.profile) {
    print();
    print(formatProfileSummary(report.profile));
  }
  for (const s of report.systems) if (s.pidNote) print(`CPU/RSS of ${s.system}: ${s.pidNote}`);
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${report.startedAt.replace(/[:.]/g, '-')}${cfg.profile ? '-profile' : ''}.json`);
  const host = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, totalMemMiB: Math.round(os.totalmem() / 2 ** 20), node: process.version, platform: `${os.platform()} ${os.release()}` };
  fs.writeFileSync(file, `${JSON.stringify({ ...report, host }, null, 2)}\n`);
  print(`\nresults: ${path.relative(REPO_ROOT, file)}`);
  if (report.failures.length > 0) {
    print('bench FAILED:');
    for (const f of report.failures) print(`  - ${f}`);
    process.exitCode = 1;
  }
  if (!cfg.profile) print(benchLine(report.ratios));
}

const isEntry = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isEntry) {
  // Ctrl-C / SIGTERM: stop brokers and workers before leaving (the compat JVM tracker kills JVMs on exit).
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      console.error(`bench: ${sig}, stopping children`);
      void killAllChildren().finally(() => process.exit(130));
    });
  }
  main().catch(async (err: unknown) => {
    const text = isConfigError(err) ? (err as Error).message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    console.error(`bench failed: ${text}`);
    await killAllChildren();
    process.exitCode = 1;
  });
}
