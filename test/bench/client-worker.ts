/**
 * One client scenario in its own process, so clients never share a CPU with each other.
 *
 *   node test/bench/dist/client-worker.cjs '<WorkerConfig json>'   (client-bench.ts builds it with esbuild)
 *   node --import tsx test/bench/client-worker.ts '<WorkerConfig json>'   (the same from source)
 *
 * stdout: one line `{"event":"result","result":{...}}` then exit 0, or `{"event":"error","error":"..."}`
 * and exit 1. A watchdog exits with code 3 if the scenario overruns its bound (a client that hangs).
 */
import { BENCH_CLIENT_NAMES, loadBenchClient, type BenchClientName } from './client-adapters';
import { CLIENT_SCENARIOS, runClientScenario, type ClientScenarioName, type WorkerConfig } from './client-scenario';

/** Time beyond maxSeconds for start-up, warm-up and shutdown before the watchdog fires. */
const WATCHDOG_SLACK_MS = 45_000;

function print(obj: object): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function parseWorkerConfig(text: string | undefined): WorkerConfig {
  if (!text) throw new Error('usage: client-worker.ts <config json>');
  const cfg = JSON.parse(text) as WorkerConfig;
  if (!BENCH_CLIENT_NAMES.includes(cfg.client as BenchClientName)) throw new Error(`unknown client ${String(cfg.client)}`);
  if (!CLIENT_SCENARIOS.includes(cfg.scenario as ClientScenarioName)) throw new Error(`unknown scenario ${String(cfg.scenario)}`);
  for (const k of ['messages', 'maxSeconds', 'concurrency', 'batchSize', 'bodyBytes', 'warmupMessages'] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] < 0) throw new Error(`${k} must be a non-negative integer`);
  }
  return cfg;
}

async function main(): Promise<void> {
  const cfg = parseWorkerConfig(process.argv[2]);
  const watchdog = setTimeout(() => {
    print({ event: 'error', error: `${cfg.client} ${cfg.scenario}: still running ${cfg.maxSeconds} s + ${WATCHDOG_SLACK_MS / 1000} s after start` });
    process.exit(3);
  }, cfg.maxSeconds * 1000 + WATCHDOG_SLACK_MS);
  watchdog.unref();
  const client = await loadBenchClient(cfg.client);
  const result = await runClientScenario(client, cfg);
  print({ event: 'result', result });
  // Client libraries may keep timers or sockets alive after shutdown; the result is out, so leave.
  process.exit(0);
}

main().catch((err: unknown) => {
  print({ event: 'error', error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
