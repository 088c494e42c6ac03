/**
 * Client comparison on our broker (a fresh one per scenario): each (client, scenario) runs in its own worker
 * process (client-worker.ts), one after another, and the results become a ratio table
 * (first client / each other client). Each scenario runs `rounds` times with the client order
 * alternating; the table shows each client's best round (least disturbed by anything else on the box),
 * the JSON keeps every round.
 *
 * A new reference client (e.g. the Apache RocketMQ Java client) only needs a `ClientUnderTest` whose
 * `spawnWorker` starts a process that takes the same WorkerConfig JSON and prints the same result line.
 */
import path from 'node:path';
import * as esbuild from 'esbuild';
import { jsonLines, spawnNode } from '../helpers/child-process';
import { REPO_ROOT } from '../helpers/env';
import { ProtocolProbe } from '../helpers/protocol-probe';
import { ensureTopic } from '../helpers/topics';
import type { BenchClientName } from './client-adapters';
import { scenarioFailed, type ClientScenarioName, type ClientScenarioResult, type WorkerConfig } from './client-scenario';
import { ConnectionPool, runPut } from './load-generator';
import type { BrokerUnderTest } from './process-harness';

const WORKER_SOURCE = path.join(REPO_ROOT, 'test', 'bench', 'client-worker.ts');
/** Git-ignored (dist/). Inside the repo, so ali-ons and the other packages resolve from node_modules. */
const WORKER_BUNDLE = path.join(REPO_ROOT, 'test', 'bench', 'dist', 'client-worker.cjs');
const QUEUE_NUMS = 8;
/** Worker start-up (client start, routes), warm-up and shutdown on top of the scenario bound. */
const WORKER_SLACK_MS = 60_000;

export interface ClientBenchConfig {
  /** The first is "ours": ratios are first / each other. */
  clients: string[];
  scenarios: ClientScenarioName[];
  bodyBytes: number;
  /** sync / async: messages per run (also bounded by maxSeconds). */
  producerMessages: number;
  batchMessages: number;
  /** Pre-filled backlog the drain scenario consumes. */
  drainBacklog: number;
  maxSeconds: number;
  drainMaxSeconds: number;
  /** async: sends in flight. */
  asyncInFlight: number;
  batchSize: number;
  /** batch: batches in flight. */
  batchInFlight: number;
  warmupMessages: number;
  rounds: number;
}

export const DEFAULT_CLIENT_BENCH: ClientBenchConfig = {
  clients: ['rocketry', 'ali-ons'],
  scenarios: ['sync', 'async', 'autobatch', 'batch', 'drain'],
  bodyBytes: 1024,
  producerMessages: 100_000,
  batchMessages: 300_000,
  drainBacklog: 100_000,
  maxSeconds: 10,
  drainMaxSeconds: 60,
  asyncInFlight: 128,
  batchSize: 32,
  batchInFlight: 8,
  warmupMessages: 2_000,
  rounds: 3,
};

/** What runWorker needs of a worker process (a node child, or a JVM via java-client.ts). */
export interface WorkerProcess {
  waitForLine(match: RegExp, timeoutMs: number): Promise<string>;
  stderr(): string;
  stop(timeoutMs: number, signal: NodeJS.Signals): Promise<unknown>;
}

/** A client library that can run worker scenarios. */
export interface ClientUnderTest {
  readonly name: string;
  spawnWorker(cfg: Omit<WorkerConfig, 'client'>): WorkerProcess;
}

let workerBuilt = false;

/**
 * The worker (harness + our client from source) compiled once per bench run with esbuild, as an
 * application would ship it; packages (ali-ons) stay in node_modules. Under tsx every imported binding
 * is read through a module getter (~7% of our client's CPU in a profile), a cost of the dev loader, not
 * of either client.
 */
function workerBundle(): string {
  if (!workerBuilt) {
    esbuild.buildSync({
      entryPoints: [WORKER_SOURCE],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      packages: 'external',
      outfile: WORKER_BUNDLE,
      logLevel: 'warning',
    });
    workerBuilt = true;
  }
  return WORKER_BUNDLE;
}

/** A client measured by client-worker.ts (bundled) in its own process (ours and ali-ons). */
export function nodeClient(name: BenchClientName): ClientUnderTest {
  return {
    name,
    spawnWorker(cfg) {
      return spawnNode([workerBundle(), JSON.stringify({ ...cfg, client: name })], {
        name: `bench worker ${name} ${cfg.scenario}`,
      });
    },
  };
}

export interface FailedScenarioResult {
  kind: 'failed';
  client: string;
  scenario: ClientScenarioName;
  error: string;
}

type WorkerOutcome = ClientScenarioResult | FailedScenarioResult;
/** One (client, scenario, round). */
export type ClientRunRecord = WorkerOutcome & { round: number };

export interface ClientComparison {
  broker: string;
  config: ClientBenchConfig;
  runs: ClientRunRecord[];
}

export function recordFailed(r: WorkerOutcome): boolean {
  return r.kind === 'failed' || scenarioFailed(r);
}

/** Runs one worker to completion; never leaves it running. */
async function runWorker(client: ClientUnderTest, cfg: Omit<WorkerConfig, 'client'>): Promise<WorkerOutcome> {
  const child = client.spawnWorker(cfg);
  const fail = (error: string): FailedScenarioResult => ({ kind: 'failed', client: client.name, scenario: cfg.scenario, error });
  try {
    const line = await child.waitForLine(/^\{"event":"(result|error)"/, cfg.maxSeconds * 1000 + WORKER_SLACK_MS);
    const [msg] = jsonLines<{ event: string; result?: ClientScenarioResult; error?: string }>([line]);
    if (msg?.event === 'result' && msg.result) return msg.result;
    const stderr = child.stderr().trim().split('\n').slice(-10).join('\n');
    return fail(`${msg?.error ?? line}${stderr ? `\n${stderr}` : ''}`);
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  } finally {
    await child.stop(5_000, 'SIGKILL');
  }
}

/** Sends the drain backlog through raw remoting (fast, client-neutral); returns how many were stored. */
async function fillBacklog(broker: BrokerUnderTest, topic: string, cfg: ClientBenchConfig): Promise<number> {
  const pool = new ConnectionPool(2);
  try {
    const put = await runPut({
      pool,
      brokerAddr: broker.brokerAddr,
      topic,
      queueNums: QUEUE_NUMS,
      bodyBytes: cfg.bodyBytes,
      concurrency: 64,
      totalMessages: cfg.drainBacklog,
      maxDurationMs: 120_000,
    });
    if (put.sent !== cfg.drainBacklog) {
      throw new Error(`backlog fill stored ${put.sent} of ${cfg.drainBacklog} (${put.errors} errors: ${put.errorSamples.slice(0, 3).join('; ')})`);
    }
    return put.sent;
  } finally {
    pool.close();
  }
}

export async function runClientComparison(
  startBroker: () => Promise<BrokerUnderTest>,
  cfg: ClientBenchConfig,
  clients: readonly ClientUnderTest[],
  log: (line: string) => void = console.log,
): Promise<ClientComparison> {
  const runs: ClientRunRecord[] = [];
  const runTag = Date.now().toString(36);
  const topicOf = (scenario: string, client: string) => `CB_${scenario}_${client.replace(/[^A-Za-z0-9]/g, '_')}_${runTag}`;
  let brokerName = '';
  for (const scenario of cfg.scenarios) {
    // A fresh broker and store per scenario: every scenario meets the same broker state, and no store
    // grows past ~2 GB of page cache, where this VM's page-cache writes slow down 2x (docs/performance.md).
    const broker = await startBroker();
    brokerName = broker.name;
    try {
      const drain = scenario === 'drain';
      // The drain's clients all read one backlog; producers each write a topic of their own.
      const drainTopic = topicOf('drain', 'all');
      const topicFor = (client: string) => (drain ? drainTopic : topicOf(scenario, client));
      const probe = new ProtocolProbe();
      try {
        // Topics first: ali-ons needs a route in the NameServer (no TBW102 fallback).
        const topics = new Set<string>();
        for (const c of clients) topics.add(topicOf('warm', c.name)).add(topicFor(c.name));
        for (const t of topics) await ensureTopic(probe, broker.brokerAddr, [broker.namesrvAddr], t, QUEUE_NUMS);
      } finally {
        probe.close();
      }
      if (drain) {
        const t0 = performance.now();
        await fillBacklog(broker, drainTopic, cfg);
        log(`  drain backlog: ${cfg.drainBacklog} x ${cfg.bodyBytes} B in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
      for (let round = 1; round <= cfg.rounds; round++) {
        // Alternate who goes first, so neither client always meets the broker in the same state.
        const order = round % 2 === 1 ? clients : [...clients].reverse();
        for (const client of order) {
          const record = await runWorker(client, {
            scenario,
            namesrvAddr: broker.namesrvAddr,
            topic: topicFor(client.name),
            warmupTopic: topicOf('warm', client.name),
            warmupMessages: cfg.warmupMessages,
            // A fresh group per round: the drain starts from the first offset again.
            group: `cb_${scenario}_${client.name.replace(/[^A-Za-z0-9]/g, '_')}_${runTag}_r${round}`,
            bodyBytes: cfg.bodyBytes,
            messages: drain ? cfg.drainBacklog : scenario === 'batch' ? cfg.batchMessages : cfg.producerMessages,
            maxSeconds: drain ? cfg.drainMaxSeconds : cfg.maxSeconds,
            concurrency: scenario === 'batch' ? cfg.batchInFlight : cfg.asyncInFlight,
            batchSize: cfg.batchSize,
          });
          runs.push({ ...record, round });
          log(`  ${client.name} ${scenario} round ${round}: ${describeRecord(record)}`);
        }
      }
    } finally {
      await broker.stop();
    }
  }
  return { broker: brokerName, config: cfg, runs };
}

function describeRecord(r: WorkerOutcome): string {
  switch (r.kind) {
    case 'failed':
      return `FAILED: ${r.error}`;
    case 'unsupported':
      return `n/a (${r.reason})`;
    case 'producer': {
      const cpu = r.cpuUsPerMsg === undefined ? '' : `, client CPU ${r.cpuUsPerMsg.toFixed(1)} µs/msg`;
      const text = `${r.sent} sent, ${r.msgsPerSec.toFixed(0)} msg/s, p99 ${r.latency.p99Ms.toFixed(2)} ms${cpu}${r.deadlineHit ? ' (time bound)' : ''}`;
      return r.errors > 0 ? `${text}, ${r.errors} ERRORS: ${r.errorSamples.join('; ')}` : text;
    }
    case 'drain': {
      const text = `${r.unique}/${r.expected} in ${(r.elapsedMs / 1000).toFixed(1)} s, ${r.msgsPerSec.toFixed(0)} msg/s, ${r.duplicates} duplicates, first after ${r.startToFirstMs.toFixed(0)} ms`;
      return r.complete ? text : `${text} INCOMPLETE`;
    }
  }
}

function scenarioLabel(s: ClientScenarioName, cfg: ClientBenchConfig): string {
  switch (s) {
    case 'sync':
      return 'producer sync (1 in flight)';
    case 'async':
      return `producer async (${cfg.asyncInFlight} in flight)`;
    case 'autobatch':
      return `producer async, autoBatch (${cfg.asyncInFlight} in flight)`;
    case 'batch':
      return `producer batch (${cfg.batchSize}/batch, ${cfg.batchInFlight} in flight)`;
    case 'drain':
      return `consumer drain (${cfg.drainBacklog} backlog)`;
  }
}

function rate(r: ClientRunRecord | undefined): number | undefined {
  if (!r || r.kind === 'failed' || r.kind === 'unsupported') return undefined;
  return recordFailed(r) ? undefined : r.msgsPerSec;
}

/** The round to show: a failed or n/a round if any (never hide a failure), else the fastest. */
export function representativeRun(runs: readonly ClientRunRecord[]): ClientRunRecord | undefined {
  const failed = runs.find((r) => recordFailed(r) || r.kind === 'unsupported');
  if (failed) return failed;
  let best: ClientRunRecord | undefined;
  for (const r of runs) if (best === undefined || (rate(r) ?? 0) > (rate(best) ?? 0)) best = r;
  return best;
}

function rateCell(r: ClientRunRecord | undefined): string {
  if (!r) return '-';
  if (r.kind === 'unsupported') return 'n/a';
  if (recordFailed(r)) return 'FAILED';
  return (r as { msgsPerSec: number }).msgsPerSec.toFixed(0);
}

function latencyCell(r: ClientRunRecord | undefined): string {
  if (!r || r.kind !== 'producer' || recordFailed(r)) return '-';
  return `${r.latency.p50Ms.toFixed(2)}/${r.latency.p99Ms.toFixed(2)}`;
}

/** Rows: scenarios; columns: best msg/s per client, ratio first/other, p50/p99 per client (producers) of that round. */
export function formatClientComparison(cmp: ClientComparison): string {
  const clients = [...new Set(cmp.runs.map((r) => r.client))];
  const ours = clients[0];
  const refs = clients.slice(1);
  const find = (client: string | undefined, s: ClientScenarioName) => representativeRun(cmp.runs.filter((r) => r.client === client && r.scenario === s));
  const headers = [
    'scenario',
    ...clients.map((c) => `${c} msg/s`),
    ...refs.map((c) => `${ours}/${c}`),
    ...clients.map((c) => `${c} p50/p99 ms`),
  ];
  const rows = cmp.config.scenarios.map((s) => {
    const mine = find(ours, s);
    return [
      scenarioLabel(s, cmp.config),
      ...clients.map((c) => rateCell(find(c, s))),
      ...refs.map((c) => {
        const ref = find(c, s);
        if (mine?.kind === 'unsupported' || ref?.kind === 'unsupported') return 'n/a';
        const a = rate(mine);
        const b = rate(ref);
        return a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}x` : '-';
      }),
      ...clients.map((c) => latencyCell(find(c, s))),
    ];
  });
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
