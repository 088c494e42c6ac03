/**
 * Starts `node bin/rocketry.js <mode> ...` as a separate process and waits for its `rocketry ready` line.
 *
 *   start   : NameServer + Broker in one process  (--namesrv-port P --broker-port Q --data-dir D)
 *   namesrv : NameServer only                      (--port P)
 *   broker  : Broker only                          (--namesrv 'h:p;h:p' --port Q --data-dir D)
 *
 * Ports are picked here unless given, so the addresses are known even if the ready line's format changes.
 */
import path from 'node:path';
import { spawnNode, type ExitInfo, type ManagedChild } from './child-process';
import { freePorts, REPO_ROOT } from './env';

export type RocketryMode = 'start' | 'namesrv' | 'broker';

export interface StartRocketryOptions {
  mode: RocketryMode;
  /** Extra CLI arguments (e.g. ['--flush', 'sync', '--set', 'messageDelayLevel=1s 1s']). */
  args?: string[];
  env?: Record<string, string | undefined>;
  /** Store root for start/broker. Required for those modes. */
  dataDir?: string;
  /** NameServer port for start/namesrv; picked when absent. */
  namesrvPort?: number;
  /** Broker port for start/broker; picked when absent. */
  brokerPort?: number;
  /** For mode broker: `h:p;h:p`. */
  namesrvAddr?: string;
  /** `--set key=value` pairs. */
  settings?: Record<string, string | number | boolean>;
  readyTimeoutMs?: number;
  name?: string;
}

export interface RocketryProcess {
  readonly mode: RocketryMode;
  /** `127.0.0.1:port` of the NameServer (start/namesrv), else undefined. */
  readonly namesrvAddr: string | undefined;
  /** `127.0.0.1:port` of the broker (start/broker), else undefined. */
  readonly brokerAddr: string | undefined;
  readonly namesrvPort: number | undefined;
  readonly brokerPort: number | undefined;
  readonly pid: number;
  readonly readyLine: string;
  readonly proc: ManagedChild;
  output(): string;
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM and wait (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<ExitInfo>;
  readonly exited: Promise<ExitInfo>;
}

export const ROCKETRY_BIN = path.join(REPO_ROOT, 'bin', 'rocketry.js');

/** Pulls `host:port` for a role out of the ready line, if it names it. */
function addrFromReadyLine(line: string, role: 'namesrv' | 'broker'): string | undefined {
  const re = role === 'namesrv' ? /name\s*-?srv[a-z]*\W{0,5}([\w.-]+:\d{1,5})/i : /broker[a-z]*\W{0,5}([\w.-]+:\d{1,5})/i;
  return re.exec(line)?.[1];
}

/**
 * Starts the process and waits for its ready line. When the ports were picked here and another process
 * grabbed one in between (EADDRINUSE), it retries with fresh ports (up to 3 attempts).
 */
export async function startRocketryProcess(opts: StartRocketryOptions): Promise<RocketryProcess> {
  const picked = opts.namesrvPort === undefined && opts.brokerPort === undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (!picked || attempt >= 3 || !/EADDRINUSE|address already in use/i.test((err as Error).message)) throw err;
    }
  }
}

async function startOnce(opts: StartRocketryOptions): Promise<RocketryProcess> {
  const [p1, p2] = await freePorts(2);
  const args: string[] = [ROCKETRY_BIN, opts.mode];
  let namesrvPort: number | undefined;
  let brokerPort: number | undefined;
  if (opts.mode === 'start') {
    namesrvPort = opts.namesrvPort ?? p1!;
    brokerPort = opts.brokerPort ?? p2!;
    if (!opts.dataDir) throw new Error('startRocketryProcess: dataDir is required for start');
    args.push('--namesrv-port', String(namesrvPort), '--broker-port', String(brokerPort), '--data-dir', opts.dataDir);
  } else if (opts.mode === 'namesrv') {
    namesrvPort = opts.namesrvPort ?? p1!;
    args.push('--port', String(namesrvPort));
    if (opts.dataDir) args.push('--data-dir', opts.dataDir);
  } else {
    brokerPort = opts.brokerPort ?? p2!;
    if (!opts.dataDir) throw new Error('startRocketryProcess: dataDir is required for broker');
    if (!opts.namesrvAddr) throw new Error('startRocketryProcess: namesrvAddr is required for broker');
    args.push('--namesrv', opts.namesrvAddr, '--port', String(brokerPort), '--data-dir', opts.dataDir);
  }
  for (const [k, v] of Object.entries(opts.settings ?? {})) args.push('--set', `${k}=${String(v)}`);
  args.push(...(opts.args ?? []));

  const name = opts.name ?? `rocketry ${opts.mode}`;
  const proc = spawnNode(args, { env: { ROCKETRY_LOG_LEVEL: 'warn', ...opts.env }, name });
  let readyLine: string;
  try {
    readyLine = await proc.waitForLine((l) => l.startsWith('rocketry ready') || /^\S*\s*rocketry ready/.test(l), opts.readyTimeoutMs ?? 30_000);
  } catch (err) {
    proc.kill('SIGKILL');
    await proc.exited;
    throw new Error(`${name} did not become ready (${args.slice(1).join(' ')}): ${(err as Error).message}`);
  }
  const namesrvAddr =
    namesrvPort !== undefined ? (addrFromReadyLine(readyLine, 'namesrv') ?? `127.0.0.1:${namesrvPort}`) : undefined;
  const brokerAddr = brokerPort !== undefined ? (addrFromReadyLine(readyLine, 'broker') ?? `127.0.0.1:${brokerPort}`) : undefined;
  return {
    mode: opts.mode,
    namesrvAddr: normaliseLoopback(namesrvAddr),
    brokerAddr: normaliseLoopback(brokerAddr),
    namesrvPort,
    brokerPort,
    pid: proc.pid,
    readyLine,
    proc,
    output: () => proc.output(),
    kill: (signal: NodeJS.Signals = 'SIGKILL') => proc.kill(signal),
    stop: (timeoutMs = 15_000) => proc.stop(timeoutMs),
    exited: proc.exited,
  };
}

/** A wildcard listen address in the ready line is not connectable; use loopback. */
function normaliseLoopback(addr: string | undefined): string | undefined {
  if (!addr) return addr;
  return addr.replace(/^(0\.0\.0\.0|\[?::\]?|localhost):/, '127.0.0.1:');
}

/** Runs `rocketry admin <args>` to completion; resolves with exit code and output. */
export async function runRocketryAdmin(
  args: string[],
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawnNode([ROCKETRY_BIN, 'admin', ...args], { name: `rocketry admin ${args[0] ?? ''}` });
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  try {
    const info = await proc.exited;
    // let the pipes drain
    await new Promise((r) => setTimeout(r, 20));
    return { code: info.code, stdout: proc.stdout(), stderr: proc.stderr() };
  } finally {
    clearTimeout(timer);
  }
}
