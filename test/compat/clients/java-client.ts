/**
 * The Apache RocketMQ Java client (5.x remoting or 4.9.x) as a matrix column: each scenario is one run of
 * `rocketry.compat.Driver` (test/compat/java/driver) whose last stdout line is the JSON verdict.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ClientLine, JavaToolchain } from '../java-toolchain';
import { runToCompletion } from '../java-process';
import { ALL_SCENARIOS, runAcrossRestart, type ClientUnderTest, type ScenarioContext, type ScenarioName, type ScenarioOutcome } from '../scenarios';

const DRIVER_TIMEOUT_MS = 90_000;

/** Fast JVM start for short-lived drivers; client logs (~/logs) go to a temp home. */
function jvmArgs(home: string): string[] {
  return [
    '-Xms64m',
    '-Xmx192m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    `-Duser.home=${home}`,
    // rebalance every second instead of 20 s, so consumers settle within a scenario
    '-Drocketmq.client.rebalance.waitInterval=1000',
  ];
}

/** One temp `user.home` per process for all driver runs (client logs land there), removed at exit. */
let sharedHome: string | undefined;
function driverHome(): string {
  if (!sharedHome) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rocketry-compat-java-'));
    sharedHome = dir;
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return sharedHome;
}

export function javaClient(toolchain: JavaToolchain, line: ClientLine, extraJvmArgs: string[] = []): ClientUnderTest {
  const home = driverHome();
  const classpath = toolchain.driverClasspath[line];
  const runDriver = async (scenario: string, ctx: ScenarioContext, phase?: string): Promise<ScenarioOutcome> => {
    const args = [...jvmArgs(home), ...extraJvmArgs, '-cp', classpath, 'rocketry.compat.Driver', scenario, ctx.broker.namesrvAddr, ctx.topic, ctx.group];
    if (phase) args.push(phase);
    const r = await runToCompletion('java', args, { name: `driver ${line} ${scenario}`, timeoutMs: DRIVER_TIMEOUT_MS });
    const verdictLine = [...r.lines].reverse().find((l) => l.startsWith('{"event":"result"'));
    if (!verdictLine) return { ok: false, error: `no verdict (exit ${r.code}); output tail:\n${r.output.slice(-2000)}` };
    const verdict = JSON.parse(verdictLine) as { ok: boolean; error?: string };
    return verdict.ok ? { ok: true } : { ok: false, error: verdict.error ?? 'failed' };
  };
  return {
    name: line === 'client5' ? 'java-5.3.3' : 'java-4.9.7',
    supported: ALL_SCENARIOS,
    autoCreatesTopics: true,
    async run(scenario: ScenarioName, ctx: ScenarioContext): Promise<ScenarioOutcome> {
      if (scenario !== 'offsets-restart') return runDriver(scenario, ctx);
      return runAcrossRestart(ctx, (phase) => runDriver(scenario, ctx, phase));
    },
  };
}
