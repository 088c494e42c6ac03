/**
 * ali-ons 3.12 (the npm package, unmodified) as a matrix column: each scenario runs
 * `clients/ali-ons-driver.js` in its own Node process; the last stdout line is the JSON verdict.
 */
import path from 'node:path';
import { COMPAT_DIR } from '../java-toolchain';
import { runToCompletion } from '../java-process';
import { runAcrossRestart, type ClientUnderTest, type ScenarioContext, type ScenarioName, type ScenarioOutcome } from '../scenarios';

const DRIVER = path.join(COMPAT_DIR, 'clients', 'ali-ons-driver.js');
const DRIVER_TIMEOUT_MS = 90_000;

/** What ali-ons can do at all: no async/oneway/batch API, no orderly consumption, no transactions, no query. */
const SUPPORTED: ReadonlySet<ScenarioName> = new Set<ScenarioName>(['send-sync', 'clustering', 'broadcasting', 'retry-dlq', 'delay', 'offsets-restart']);

export function aliOnsClient(): ClientUnderTest {
  const runDriver = async (scenario: string, ctx: ScenarioContext, phase?: string): Promise<ScenarioOutcome> => {
    const args = [DRIVER, scenario, ctx.broker.namesrvAddr, ctx.topic, ctx.group];
    if (phase) args.push(phase);
    const r = await runToCompletion(process.execPath, args, { name: `ali-ons ${scenario}`, timeoutMs: DRIVER_TIMEOUT_MS });
    const verdictLine = [...r.lines].reverse().find((l) => l.includes('"event":"result"'));
    if (!verdictLine) return { ok: false, error: `no verdict (exit ${r.code}); output tail:\n${r.output.slice(-2000)}` };
    const verdict = JSON.parse(verdictLine) as { ok: boolean; error?: string };
    return verdict.ok ? { ok: true } : { ok: false, error: `${verdict.error ?? 'failed'}\n${r.output.slice(-1500)}` };
  };
  return {
    name: 'ali-ons-3.12',
    supported: SUPPORTED,
    autoCreatesTopics: false,
    async run(scenario, ctx) {
      if (scenario !== 'offsets-restart') return runDriver(scenario, ctx);
      return runAcrossRestart(ctx, (phase) => runDriver(scenario, ctx, phase));
    },
  };
}
