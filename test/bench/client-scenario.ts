/**
 * The client scenarios, run inside a worker process against one client (client-adapters.ts). Every
 * loop is bounded by a message count and a deadline; results are plain JSON for the parent.
 *
 *   sync   one send at a time, each awaited
 *   async  `concurrency` sends in flight (the client's async API; ali-ons: concurrent `send` promises)
 *   autobatch  as async, with the client's automatic batching of concurrent async sends switched on
 *          (ours: `autoBatch`; Java 5.x: `setAutoBatch(true)`; ali-ons has none: n/a)
 *   batch  `sendBatch` of `batchSize` with `concurrency` batches in flight (clients without batch: n/a)
 *   drain  a CLUSTERING push consumer drains a pre-filled backlog; rate from first to last message
 */
import type { BenchClient, BenchClientName, BenchProducer } from './client-adapters';
import { summarize, type LatencySummary } from './stats';

export type ClientScenarioName = 'sync' | 'async' | 'autobatch' | 'batch' | 'drain';
export const CLIENT_SCENARIOS: readonly ClientScenarioName[] = ['sync', 'async', 'autobatch', 'batch', 'drain'];

/** Stop recording error texts after this many (the count keeps going). */
const MAX_ERROR_SAMPLES = 5;
/** A producer scenario gives up after this many failed sends (the broker is clearly unwell). */
const MAX_SEND_ERRORS = 200;

export interface WorkerConfig {
  client: BenchClientName;
  scenario: ClientScenarioName;
  namesrvAddr: string;
  /** Topic to measure on (producers send to it; drain consumes it). */
  topic: string;
  /** Producer scenarios: warm-up sends go here first, outside the measurement. */
  warmupTopic: string;
  warmupMessages: number;
  group: string;
  bodyBytes: number;
  /** Producers: messages to send. Drain: backlog size to consume. */
  messages: number;
  maxSeconds: number;
  /** async: sends in flight; batch: batches in flight. */
  concurrency: number;
  batchSize: number;
}

interface ResultBase {
  /** The client library (`java` for the JVM worker). */
  client: string;
  scenario: ClientScenarioName;
  notes: string;
  errors: number;
  errorSamples: string[];
}

export interface ProducerScenarioResult extends ResultBase {
  kind: 'producer';
  sent: number;
  elapsedMs: number;
  msgsPerSec: number;
  /** Per call: one message (sync/async) or one batch. */
  latency: LatencySummary;
  /** Client process CPU (user + system) per message sent, in µs; the JVM worker does not report it. */
  cpuUsPerMsg?: number;
  deadlineHit: boolean;
}

export interface DrainScenarioResult extends ResultBase {
  kind: 'drain';
  expected: number;
  /** Distinct (queueId, queueOffset) seen. */
  unique: number;
  duplicates: number;
  /** Consumer start() call to the first message (rebalance + first pull). */
  startToFirstMs: number;
  /** First to last message. */
  elapsedMs: number;
  msgsPerSec: number;
  complete: boolean;
}

export interface UnsupportedScenarioResult {
  kind: 'unsupported';
  client: string;
  scenario: ClientScenarioName;
  notes: string;
  reason: string;
}

export type ClientScenarioResult = ProducerScenarioResult | DrainScenarioResult | UnsupportedScenarioResult;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs `calls` of `op` (each sending `perCall` messages) with `concurrency` in flight, recording a
 * latency per call. Returns after `maxCalls` calls, the deadline, or too many errors.
 */
async function drive(
  op: () => Promise<void>,
  opts: { maxCalls: number; concurrency: number; deadline: number },
): Promise<{ ok: number; errors: number; errorSamples: string[]; latenciesMs: Float64Array; deadlineHit: boolean }> {
  const latenciesMs = new Float64Array(opts.maxCalls);
  const errorSamples: string[] = [];
  let next = 0;
  let ok = 0;
  let errors = 0;
  let deadlineHit = false;
  const loop = async () => {
    while (next < opts.maxCalls && errors < MAX_SEND_ERRORS) {
      if (performance.now() >= opts.deadline) {
        deadlineHit = true;
        return;
      }
      next++;
      const t0 = performance.now();
      try {
        await op();
        latenciesMs[ok++] = performance.now() - t0;
      } catch (err) {
        errors++;
        if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push(errorText(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, loop));
  return { ok, errors, errorSamples, latenciesMs, deadlineHit };
}

async function runProducerScenario(client: BenchClient, cfg: WorkerConfig): Promise<ClientScenarioResult> {
  const batch = cfg.scenario === 'batch';
  const base = { client: client.name, scenario: cfg.scenario, notes: client.notes };
  const autoBatch = cfg.scenario === 'autobatch';
  const producer: BenchProducer = await client.createProducer({ namesrvAddr: cfg.namesrvAddr, group: cfg.group, autoBatch });
  try {
    if (batch && !producer.sendBatch) return { kind: 'unsupported', ...base, reason: `${client.name} has no batch send API` };
    if (autoBatch && !producer.autoBatch) return { kind: 'unsupported', ...base, reason: `${client.name} has no automatic batching` };
    const body = Buffer.alloc(cfg.bodyBytes, 0x61);
    const bodies = Array.from({ length: cfg.batchSize }, () => body);
    const concurrency = cfg.scenario === 'sync' ? 1 : cfg.concurrency;
    const opOn = (topic: string): (() => Promise<void>) => {
      if (batch) return () => producer.sendBatch!(topic, bodies);
      if (cfg.scenario === 'async' || autoBatch) return () => producer.sendAsync(topic, body);
      return () => producer.send(topic, body);
    };
    const perCall = batch ? cfg.batchSize : 1;
    // Warm-up: routes, connections and JIT, outside the measurement.
    const warm = await drive(opOn(cfg.warmupTopic), {
      maxCalls: Math.max(1, Math.ceil(cfg.warmupMessages / perCall)),
      concurrency,
      deadline: performance.now() + 10_000,
    });
    if (warm.ok === 0) throw new Error(`warm-up failed: ${warm.errorSamples.join('; ') || 'no send completed'}`);

    const start = performance.now();
    const cpuBefore = process.cpuUsage();
    const run = await drive(opOn(cfg.topic), {
      maxCalls: Math.ceil(cfg.messages / perCall),
      concurrency,
      deadline: start + cfg.maxSeconds * 1000,
    });
    const elapsedMs = performance.now() - start;
    const cpu = process.cpuUsage(cpuBefore);
    const sent = run.ok * perCall;
    return {
      kind: 'producer',
      ...base,
      sent,
      errors: run.errors,
      errorSamples: run.errorSamples,
      elapsedMs,
      msgsPerSec: sent / (elapsedMs / 1000),
      latency: summarize(run.latenciesMs, run.ok),
      cpuUsPerMsg: sent > 0 ? (cpu.user + cpu.system) / sent : undefined,
      deadlineHit: run.deadlineHit,
    };
  } finally {
    await producer.shutdown();
  }
}

async function runDrainScenario(client: BenchClient, cfg: WorkerConfig): Promise<DrainScenarioResult> {
  // queueId * 2^32 + queueOffset: exact for any realistic offset, cheaper than string keys.
  const seen = new Set<number>();
  let duplicates = 0;
  let firstAt = 0;
  let lastAt = 0;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const started = performance.now();
  const consumer = await client.startConsumer({ namesrvAddr: cfg.namesrvAddr, group: cfg.group, topic: cfg.topic }, (queueId, queueOffset) => {
    const now = performance.now();
    if (firstAt === 0) firstAt = now;
    const key = queueId * 2 ** 32 + queueOffset;
    if (seen.has(key)) {
      duplicates++;
      return;
    }
    seen.add(key);
    lastAt = now;
    if (seen.size >= cfg.messages) resolveDone();
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, cfg.maxSeconds * 1000)))]);
  } finally {
    clearTimeout(timer);
    await consumer.shutdown();
  }
  const unique = seen.size;
  const elapsedMs = unique > 1 ? lastAt - firstAt : 0;
  return {
    kind: 'drain',
    client: client.name,
    scenario: 'drain',
    notes: client.notes,
    errors: 0,
    errorSamples: unique < cfg.messages ? [`drained ${unique} of ${cfg.messages} within ${cfg.maxSeconds} s`] : [],
    expected: cfg.messages,
    unique,
    duplicates,
    startToFirstMs: firstAt > 0 ? firstAt - started : 0,
    elapsedMs,
    msgsPerSec: elapsedMs > 0 ? unique / (elapsedMs / 1000) : 0,
    complete: unique >= cfg.messages,
  };
}

export function runClientScenario(client: BenchClient, cfg: WorkerConfig): Promise<ClientScenarioResult> {
  return cfg.scenario === 'drain' ? runDrainScenario(client, cfg) : runProducerScenario(client, cfg);
}

/** True when the scenario result counts as a failure (unsupported is n/a, never a failure nor a pass). */
export function scenarioFailed(r: ClientScenarioResult): boolean {
  if (r.kind === 'unsupported') return false;
  if (r.kind === 'drain') return !r.complete;
  return r.sent === 0 || r.errors > 0;
}
