/**
 * CPU and resident memory of broker processes, read from /proc/<pid>/stat (utime+stime, clock ticks)
 * and /proc/<pid>/status (VmRSS, RssAnon, RssFile) — Linux only. One sampler per scenario: CPU is
 * the delta between start and stop, RSS the maximum seen (sampled every `intervalMs`) and the value
 * at stop. Several pids are summed (Apache: NameServer + Broker JVMs); per-pid values stay in `byPid`.
 */
import fs from 'node:fs';

/** USER_HZ on Linux x86-64/arm64 (`getconf CLK_TCK`). */
const CLOCK_TICKS_PER_SECOND = 100;
const DEFAULT_INTERVAL_MS = 100;

export interface ProcSnapshot {
  cpuSeconds: number;
  rssMiB: number;
  rssAnonMiB: number;
  rssFileMiB: number;
}

export interface ProcUsage {
  /** CPU time used during the scenario (user + system), seconds. */
  cpuSeconds: number;
  /** cpuSeconds / wall seconds * 100: 100 = one core busy. */
  cpuPercent: number;
  wallSeconds: number;
  rssMaxMiB: number;
  rssEndMiB: number;
  /** At the maximum: anonymous (heap, buffers) vs file-backed (mapped files, code). */
  rssAnonAtMaxMiB: number;
  rssFileAtMaxMiB: number;
  byPid: Record<string, { cpuSeconds: number; rssMaxMiB: number }>;
  /** CPU of this (load generator) process over the same interval, % of one core. */
  generatorCpuPercent: number;
}

/** Reads one process; undefined when it is gone or /proc is unavailable. */
export function readProc(pid: number): ProcSnapshot | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the `(comm)`, which may contain spaces: state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string) => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
      return m ? Number(m[1]) : 0;
    };
    return {
      cpuSeconds: (utime + stime) / CLOCK_TICKS_PER_SECOND,
      rssMiB: kib('VmRSS') / 1024,
      rssAnonMiB: kib('RssAnon') / 1024,
      rssFileMiB: kib('RssFile') / 1024,
    };
  } catch {
    return undefined;
  }
}

export class ProcSampler {
  private readonly startCpu = new Map<number, number>();
  private readonly maxRss = new Map<number, number>();
  private readonly last = new Map<number, ProcSnapshot>();
  private maxTotal = { rss: 0, anon: 0, file: 0 };
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt = performance.now();
  private readonly startUsage = process.cpuUsage();

  constructor(
    private readonly pids: readonly number[],
    intervalMs = DEFAULT_INTERVAL_MS,
  ) {
    for (const pid of pids) {
      const s = readProc(pid);
      this.startCpu.set(pid, s?.cpuSeconds ?? 0);
    }
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    let rss = 0;
    let anon = 0;
    let file = 0;
    for (const pid of this.pids) {
      const s = readProc(pid);
      if (!s) continue;
      this.last.set(pid, s);
      this.maxRss.set(pid, Math.max(this.maxRss.get(pid) ?? 0, s.rssMiB));
      rss += s.rssMiB;
      anon += s.rssAnonMiB;
      file += s.rssFileMiB;
    }
    if (rss > this.maxTotal.rss) this.maxTotal = { rss, anon, file };
  }

  stop(): ProcUsage {
    clearInterval(this.timer);
    this.sample();
    const wallSeconds = (performance.now() - this.startedAt) / 1000;
    let cpuSeconds = 0;
    let rssEnd = 0;
    const byPid: ProcUsage['byPid'] = {};
    for (const pid of this.pids) {
      const s = this.last.get(pid);
      const cpu = s ? Math.max(0, s.cpuSeconds - (this.startCpu.get(pid) ?? 0)) : 0;
      cpuSeconds += cpu;
      rssEnd += s?.rssMiB ?? 0;
      byPid[String(pid)] = { cpuSeconds: cpu, rssMaxMiB: this.maxRss.get(pid) ?? 0 };
    }
    const gen = process.cpuUsage(this.startUsage);
    return {
      generatorCpuPercent: wallSeconds > 0 ? ((gen.user + gen.system) / 1e6 / wallSeconds) * 100 : 0,
      cpuSeconds,
      cpuPercent: wallSeconds > 0 ? (cpuSeconds / wallSeconds) * 100 : 0,
      wallSeconds,
      rssMaxMiB: this.maxTotal.rss,
      rssEndMiB: rssEnd,
      rssAnonAtMaxMiB: this.maxTotal.anon,
      rssFileAtMaxMiB: this.maxTotal.file,
      byPid,
    };
  }
}
