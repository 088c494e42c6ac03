/**
 * The compatibility matrix: brokers {rocketry, Apache RocketMQ 5.3.x} x clients {Java 5.x remoting,
 * Java 4.9.x, ali-ons, ours}, the same scenario list (scenarios.ts) in every cell.
 *
 *   npm run test:compat                      # whole matrix; last line `compat: X/Y cells pass`
 *   node --import tsx test/compat/run.ts --brokers rocketry --clients java5 --scenarios send-sync,delay
 *   node --import tsx test/compat/run.ts --record-fixtures   # re-record broker/src/protocol/fixtures/java/
 *   ... --no-frame-diff                                      # skip the frame-shape diff after the matrix
 *
 * After the matrix, the Java client's traffic with both brokers is recorded through a proxy and the
 * frame shapes are diffed (record-fixtures.ts). Exit code 0 only when every selected cell passes and no
 * unexplained frame difference remains. A cell passes when every scenario its client
 * supports passes; unsupported scenarios are listed, never counted.
 */
import { aliOnsClient } from './clients/ali-ons-client';
import { javaClient } from './clients/java-client';
import { rocketryClient } from './clients/rocketry-client';
import { startApacheBroker, startRocketryBroker, type BrokerKind, type BrokerUnderTest } from './brokers';
import { recordJavaFixtures } from './record-fixtures';
import { prepareJavaToolchain, type JavaToolchain } from './java-toolchain';
import { SCENARIOS, withTimeout, type ClientUnderTest, type ScenarioName, type ScenarioOutcome } from './scenarios';

const SCENARIO_TIMEOUT_MS = 150_000;

type ClientKey = 'java5' | 'java4' | 'ali-ons' | 'rocketry';
const ALL_CLIENTS: ClientKey[] = ['java5', 'java4', 'ali-ons', 'rocketry'];
const ALL_BROKERS: BrokerKind[] = ['rocketry', 'apache'];

interface Args {
  brokers: BrokerKind[];
  clients: ClientKey[];
  scenarios: ScenarioName[];
  recordFixtures: boolean;
  frameDiff: boolean;
}

function parseArgs(argv: string[]): Args {
  const get = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const list = <T extends string>(flag: string, all: readonly T[]): T[] => {
    const v = get(flag);
    if (!v) return [...all];
    const picked = v.split(',').map((s) => s.trim());
    for (const p of picked) if (!all.includes(p as T)) throw new Error(`${flag}: unknown ${p} (one of ${all.join(', ')})`);
    return picked as T[];
  };
  return {
    brokers: list('--brokers', ALL_BROKERS),
    clients: list('--clients', ALL_CLIENTS),
    scenarios: list('--scenarios', SCENARIOS),
    recordFixtures: argv.includes('--record-fixtures'),
    frameDiff: !argv.includes('--no-frame-diff'),
  };
}

interface CellResult {
  broker: BrokerKind;
  client: string;
  passed: ScenarioName[];
  failed: Array<{ scenario: ScenarioName; error: string }>;
  unsupported: ScenarioName[];
  ms: number;
}

const log = (line: string) => process.stdout.write(line + '\n');
const runId = Date.now().toString(36).slice(-5);

function makeClient(key: ClientKey, toolchain: JavaToolchain): ClientUnderTest {
  switch (key) {
    case 'java5':
      return javaClient(toolchain, 'client5');
    case 'java4':
      return javaClient(toolchain, 'client4');
    case 'ali-ons':
      return aliOnsClient();
    case 'rocketry':
      return rocketryClient();
  }
}

function shortName(s: string): string {
  return s.replace(/[^a-zA-Z0-9]/g, '').slice(0, 12);
}

async function runCell(broker: BrokerUnderTest, client: ClientUnderTest, scenarios: ScenarioName[]): Promise<CellResult> {
  const started = Date.now();
  const result: CellResult = { broker: broker.kind, client: client.name, passed: [], failed: [], unsupported: [], ms: 0 };
  for (const scenario of scenarios) {
    if (!client.supported.has(scenario)) {
      result.unsupported.push(scenario);
      continue;
    }
    const id = `${shortName(broker.kind)}_${shortName(client.name)}_${shortName(scenario)}_${runId}`;
    const ctx = { broker, topic: `CT_${id}`, group: `CG_${id}`, log };
    const t0 = Date.now();
    const outcome: ScenarioOutcome = await withTimeout(SCENARIO_TIMEOUT_MS, scenario, async () => {
      // send-sync exercises TBW102 auto-create where the client can; everything else starts from a known topic
      if (!(scenario === 'send-sync' && client.autoCreatesTopics)) await broker.createTopic(ctx.topic, 4);
      return client.run(scenario, ctx);
    });
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    if (outcome.ok) {
      result.passed.push(scenario);
      log(`  ${broker.kind} x ${client.name} ${scenario}: pass (${secs} s)`);
    } else {
      result.failed.push({ scenario, error: outcome.error });
      log(`  ${broker.kind} x ${client.name} ${scenario}: FAIL (${secs} s) ${outcome.error.split('\n').slice(0, 6).join('\n    ')}`);
    }
  }
  result.ms = Date.now() - started;
  return result;
}

function cellLine(r: CellResult): string {
  const ok = r.failed.length === 0 && r.passed.length > 0;
  const unsupported = r.unsupported.length ? `; unsupported: ${r.unsupported.join(', ')}` : '';
  const head = `compat cell broker=${r.broker} client=${r.client}: ${ok ? 'PASS' : 'FAIL'} ${r.passed.length}/${r.passed.length + r.failed.length} scenarios`;
  const first = r.failed[0] ? ` first failing: ${r.failed[0].scenario}` : '';
  return `${head}${first}${unsupported} (${(r.ms / 1000).toFixed(0)} s)`;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const toolchain = await prepareJavaToolchain(log);
  if (args.recordFixtures) {
    const diffs = await recordJavaFixtures(toolchain, log, { write: true });
    return diffs.length === 0 ? 0 : 1;
  }
  const results: CellResult[] = [];
  for (const kind of args.brokers) {
    log(`compat: starting ${kind} broker`);
    const broker = kind === 'rocketry' ? await startRocketryBroker() : await startApacheBroker(toolchain.serverClasspath);
    try {
      log(`compat: ${kind} namesrv=${broker.namesrvAddr} broker=${broker.brokerAddr}`);
      for (const key of args.clients) {
        const r = await runCell(broker, makeClient(key, toolchain), args.scenarios);
        results.push(r);
        log(cellLine(r));
      }
    } finally {
      await broker.stop();
    }
  }
  log('');
  log('compat matrix:');
  for (const r of results) log(cellLine(r));
  let diffs: string[] = [];
  if (args.frameDiff) {
    log('');
    log('compat: frame-shape diff (Java client traffic through a recording proxy, rocketry vs Apache)');
    diffs = await recordJavaFixtures(toolchain, log, { write: false });
  }
  const pass = results.filter((r) => r.failed.length === 0 && r.passed.length > 0).length;
  log(`compat: runtime ${((Date.now() - started) / 1000).toFixed(0)} s`);
  log(`compat: ${pass}/${results.length} cells pass`);
  return pass === results.length && diffs.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`compat: FAILED TO RUN: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    log('compat: 0/0 cells pass');
    process.exit(1);
  },
);
