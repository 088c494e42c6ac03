/**
 * Child processes for cross-process suites: spawn, capture bounded output, wait for a line, kill.
 * Every child is tracked so `killAllChildren()` (afterAll) and process exit never leave one behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from './env';

/** Output kept per child (tail), so a chatty child cannot grow the test's memory without bound. */
const MAX_OUTPUT_CHARS = 512 * 1024;

const liveChildren = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedChild {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Combined stdout+stderr tail. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Complete stdout lines seen so far (bounded like the output). */
  lines(): string[];
  /** Resolves with the first stdout/stderr line matching, rejects on timeout or exit (with the output tail). */
  waitForLine(match: RegExp | ((line: string) => boolean), timeoutMs: number): Promise<string>;
  /** Registers a callback for every complete stdout line (past lines are replayed). */
  onLine(cb: (line: string) => void): void;
  readonly exited: Promise<ExitInfo>;
  readonly exitInfo: ExitInfo | undefined;
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM (or `signal`), wait up to `timeoutMs`, then SIGKILL. Resolves with the exit info. */
  stop(timeoutMs?: number, signal?: NodeJS.Signals): Promise<ExitInfo>;
}

function appendBounded(current: string, chunk: string): string {
  const next = current + chunk;
  return next.length > MAX_OUTPUT_CHARS ? next.slice(next.length - MAX_OUTPUT_CHARS) : next;
}

export interface SpawnOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Label used in error messages. */
  name?: string;
}

/** Spawns `node <args...>` from the repo root with piped output. */
export function spawnNode(args: string[], opts: SpawnOptions = {}): ManagedChild {
  const child = spawn(process.execPath, args, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);
  const name = opts.name ?? args.join(' ');
  let out = '';
  let so = '';
  let se = '';
  let stdoutPartial = '';
  let stderrPartial = '';
  const lines: string[] = [];
  const lineListeners: Array<(line: string) => void> = [];
  let exitInfo: ExitInfo | undefined;

  const emitLine = (line: string, fromStdout: boolean) => {
    if (fromStdout) {
      lines.push(line);
      if (lines.length > 200_000) lines.splice(0, lines.length - 200_000);
    }
    for (const l of lineListeners) l(line);
  };
  const feed = (chunk: string, fromStdout: boolean) => {
    let partial = (fromStdout ? stdoutPartial : stderrPartial) + chunk;
    let nl = partial.indexOf('\n');
    while (nl >= 0) {
      emitLine(partial.slice(0, nl).replace(/\r$/, ''), fromStdout);
      partial = partial.slice(nl + 1);
      nl = partial.indexOf('\n');
    }
    if (fromStdout) stdoutPartial = partial;
    else stderrPartial = partial;
  };

  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => {
    out = appendBounded(out, c);
    so = appendBounded(so, c);
    feed(c, true);
  });
  child.stderr!.on('data', (c: string) => {
    out = appendBounded(out, c);
    se = appendBounded(se, c);
    feed(c, false);
  });

  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      liveChildren.delete(child);
      resolve(exitInfo);
    });
    child.once('error', () => {
      exitInfo = exitInfo ?? { code: -1, signal: null };
      liveChildren.delete(child);
      resolve(exitInfo);
    });
  });

  const managed: ManagedChild = {
    pid: child.pid ?? -1,
    child,
    output: () => out,
    stdout: () => so,
    stderr: () => se,
    lines: () => lines.slice(),
    get exitInfo() {
      return exitInfo;
    },
    exited,
    onLine(cb) {
      for (const l of lines) cb(l);
      lineListeners.push(cb);
    },
    waitForLine(match, timeoutMs) {
      const test = typeof match === 'function' ? match : (l: string) => match.test(l);
      return new Promise<string>((resolve, reject) => {
        let done = false;
        const finish = (err: Error | null, line?: string) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          const i = lineListeners.indexOf(listener);
          if (i >= 0) lineListeners.splice(i, 1);
          if (err) reject(err);
          else resolve(line!);
        };
        const listener = (line: string) => {
          if (test(line)) finish(null, line);
        };
        const tail = () => out.slice(-4000);
        const timer = setTimeout(
          () => finish(new Error(`${name}: no matching line within ${timeoutMs} ms; output tail:\n${tail()}`)),
          timeoutMs,
        );
        for (const l of lines) {
          if (test(l)) {
            finish(null, l);
            return;
          }
        }
        lineListeners.push(listener);
        void exited.then((info) => {
          // Give the stream a turn to deliver the last chunk before failing.
          setTimeout(
            () =>
              finish(
                new Error(
                  `${name}: exited (code ${info.code}, signal ${info.signal}) before a matching line; output tail:\n${tail()}`,
                ),
              ),
            50,
          );
        });
      });
    },
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (exitInfo === undefined) {
        try {
          child.kill(signal);
        } catch {
          // already gone
        }
      }
    },
    async stop(timeoutMs = 15_000, signal: NodeJS.Signals = 'SIGTERM') {
      if (exitInfo) return exitInfo;
      managed.kill(signal);
      const timer = setTimeout(() => managed.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  return managed;
}

/** Kills every child still running (SIGKILL) and waits for them; for afterAll hooks. */
export async function killAllChildren(): Promise<void> {
  const all = [...liveChildren];
  for (const c of all) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  await Promise.all(
    all.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) resolve();
          else c.once('exit', () => resolve());
          setTimeout(resolve, 5000).unref();
        }),
    ),
  );
}

/** Parses the JSON lines a child printed (non-JSON lines are skipped). */
export function jsonLines<T = Record<string, unknown>>(text: string[]): T[] {
  const out: T[] = [];
  for (const line of text) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      out.push(JSON.parse(t) as T);
    } catch {
      // partial or foreign line
    }
  }
  return out;
}
