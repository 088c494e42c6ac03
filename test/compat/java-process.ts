/**
 * Child processes that are not Node (java, mvn): spawn with captured, bounded output, wait for a line,
 * stop with SIGTERM → SIGKILL. Every child is tracked and SIGKILLed when the harness exits, so a failed
 * run never leaves a JVM behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const MAX_OUTPUT_CHARS = 256 * 1024;
const live = new Set<ChildProcess>();

function killAllLive(): void {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.once('exit', killAllLive);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAllLive();
    process.exit(130);
  });
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ExternalProcess {
  readonly pid: number;
  readonly name: string;
  output(): string;
  /** Complete stdout lines so far. */
  lines(): string[];
  waitForLine(match: RegExp, timeoutMs: number): Promise<string>;
  readonly exited: Promise<ExitInfo>;
  /** SIGTERM, then SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<ExitInfo>;
}

export function spawnExternal(
  command: string,
  args: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string; name: string },
): ExternalProcess {
  const child = spawn(command, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  let partial = '';
  const lines: string[] = [];
  const waiters: Array<(line: string) => void> = [];
  let exitInfo: ExitInfo | undefined;
  const onChunk = (chunk: string, fromStdout: boolean) => {
    out += chunk;
    if (out.length > MAX_OUTPUT_CHARS) out = out.slice(out.length - MAX_OUTPUT_CHARS);
    if (!fromStdout) {
      for (const w of [...waiters]) for (const l of chunk.split('\n')) w(l);
      return;
    }
    partial += chunk;
    let nl = partial.indexOf('\n');
    while (nl >= 0) {
      const line = partial.slice(0, nl).replace(/\r$/, '');
      partial = partial.slice(nl + 1);
      lines.push(line);
      if (lines.length > 20_000) lines.splice(0, lines.length - 20_000);
      for (const w of [...waiters]) w(line);
      nl = partial.indexOf('\n');
    }
  };
  child.stdout!.setEncoding('utf8').on('data', (c: string) => onChunk(c, true));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => onChunk(c, false));
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      live.delete(child);
      resolve(exitInfo);
    });
    child.once('error', (err) => {
      out += `\nspawn error: ${err.message}`;
      exitInfo ??= { code: -1, signal: null };
      live.delete(child);
      resolve(exitInfo);
    });
  });
  const kill = (signal: NodeJS.Signals) => {
    if (exitInfo === undefined) {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    }
  };
  return {
    pid: child.pid ?? -1,
    name: opts.name,
    output: () => out,
    lines: () => lines.slice(),
    exited,
    waitForLine(match, timeoutMs) {
      return new Promise<string>((resolve, reject) => {
        const found = lines.find((l) => match.test(l));
        if (found !== undefined) return resolve(found);
        let done = false;
        const finish = (err: Error | undefined, line?: string) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          const i = waiters.indexOf(waiter);
          if (i >= 0) waiters.splice(i, 1);
          if (err) reject(err);
          else resolve(line!);
        };
        const waiter = (line: string) => {
          if (match.test(line)) finish(undefined, line);
        };
        const timer = setTimeout(() => finish(new Error(`${opts.name}: no line matching ${match} within ${timeoutMs} ms\n${out.slice(-3000)}`)), timeoutMs);
        waiters.push(waiter);
        void exited.then((info) =>
          setTimeout(() => finish(new Error(`${opts.name} exited (${info.code}/${info.signal}) before ${match}\n${out.slice(-3000)}`)), 50),
        );
      });
    },
    async stop(timeoutMs = 15_000) {
      if (exitInfo) return exitInfo;
      kill('SIGTERM');
      const timer = setTimeout(() => kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Runs a command to completion (bounded); resolves with exit code and output. */
export async function runToCompletion(
  command: string,
  args: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string; name: string; timeoutMs: number },
): Promise<{ code: number | null; output: string; lines: string[] }> {
  const p = spawnExternal(command, args, opts);
  const timer = setTimeout(() => void p.stop(2000), opts.timeoutMs);
  try {
    const info = await p.exited;
    await new Promise((r) => setTimeout(r, 20));
    return { code: info.code, output: p.output(), lines: p.lines() };
  } finally {
    clearTimeout(timer);
  }
}
