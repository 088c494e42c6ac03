/**
 * Brokers under test, each in its own process. `startRocketry` runs `node bin/rocketry.js start` on
 * free ports with a temp data dir and reads the addresses from the ready line; `startApache`
 * (apache-broker.ts) starts Apache RocketMQ's NameServer + Broker JVMs behind the same shape.
 */
import { spawnNode, type ExitInfo, type ManagedChild } from '../helpers/child-process';
import { freePorts, tempDir, type TempDir } from '../helpers/env';

export type FlushMode = 'async' | 'sync';
export type SystemName = 'rocketry' | 'apache';

export interface RestartTiming {
  /** Spawn of the (broker) process to its ready line. */
  readyMs: number;
}

export interface BrokerUnderTest {
  /** Label for tables, e.g. `rocketry async`. */
  readonly name: string;
  readonly system: SystemName;
  readonly flush: FlushMode;
  readonly namesrvAddr: string;
  readonly brokerAddr: string;
  /** Processes whose CPU and RSS are sampled (summed). */
  pids(): number[];
  /** What `pids()` covers, for the results. */
  readonly pidNote: string;
  /**
   * Stops the broker (`clean`: SIGTERM and wait; `crash`: SIGKILL) and starts it again on the same
   * store and ports; resolves once the new process printed its ready line.
   */
  restart(how: 'clean' | 'crash'): Promise<RestartTiming>;
  /** Graceful stop (SIGTERM, then SIGKILL after the timeout); removes what it created. */
  stop(): Promise<ExitInfo>;
}

export interface RocketryStartOptions {
  flush: FlushMode;
  /** Extra `--set key=value` entries. */
  settings?: Record<string, string | number | boolean>;
  /** Node flags before the script, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
  /** Keep the data dir after stop (debugging). */
  keepData?: boolean;
}

const READY_RE = /^rocketry ready namesrv=(\S+) broker=(\S+) data=(\S+)/;

export async function startRocketry(opts: RocketryStartOptions): Promise<BrokerUnderTest & { dataDir: TempDir }> {
  const [namesrvPort, brokerPort] = await freePorts(2);
  const dataDir = tempDir(`bench-${opts.flush}`);
  const args = [
    ...(opts.nodeArgs ?? []),
    'bin/rocketry.js',
    'start',
    '--namesrv-port',
    String(namesrvPort),
    '--broker-port',
    String(brokerPort),
    '--data-dir',
    dataDir.path,
    '--flush',
    opts.flush,
  ];
  for (const [k, v] of Object.entries(opts.settings ?? {})) args.push('--set', `${k}=${v}`);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
  const spawnReady = async (): Promise<{ child: ManagedChild; line: string }> => {
    const child = spawnNode(args, { name: `rocketry start (${opts.flush})`, env: { ROCKETRY_LOG_LEVEL: 'warn' } });
    try {
      return { child, line: await child.waitForLine(READY_RE, readyTimeoutMs) };
    } catch (err) {
      await child.stop(5_000, 'SIGKILL');
      throw err;
    }
  };
  let current: { child: ManagedChild; line: string };
  try {
    current = await spawnReady();
  } catch (err) {
    dataDir.cleanup();
    throw err;
  }
  const m = READY_RE.exec(current.line)!;
  return {
    name: `rocketry ${opts.flush}`,
    system: 'rocketry',
    flush: opts.flush,
    namesrvAddr: m[1]!,
    brokerAddr: m[2]!,
    dataDir,
    pids: () => [current.child.pid],
    pidNote: 'rocketry start: one node process (NameServer + Broker)',
    async restart(how) {
      if (how === 'clean') await current.child.stop(60_000);
      else await current.child.stop(5_000, 'SIGKILL');
      const t0 = performance.now();
      current = await spawnReady();
      return { readyMs: performance.now() - t0 };
    },
    async stop() {
      const info = await current.child.stop(60_000);
      if (!opts.keepData) dataDir.cleanup();
      return info;
    },
  };
}
