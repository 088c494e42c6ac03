/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function (name + file:line)
 * and per area (our broker's source folders, node internals, GC, idle), top N.
 *
 *   node --import tsx test/bench/cpu-profile-summary.ts <file.cpuprofile> [--top 25]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from '../helpers/env';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTimeRow {
  name: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Excluding `(idle)`. */
  busyMs: number;
  functions: SelfTimeRow[];
  areas: SelfTimeRow[];
}

function shortUrl(url: string): string {
  if (!url) return '';
  const p = url.startsWith('file://') ? fileURLToPath(url) : url;
  return p.startsWith(REPO_ROOT) ? path.relative(REPO_ROOT, p) : p.replace(/^.*node_modules\//, 'node_modules/');
}

/** Coarse bucket for a frame: our source folder, a package, node internals, or a V8 pseudo-frame. */
function areaOf(frame: CpuProfileNode['callFrame']): string {
  const u = shortUrl(frame.url);
  if (!u) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  if (u.startsWith('node:')) return `node:${u.slice(5).split('/')[0]}`;
  const m = /^(broker|framework)\/src\/([^/]+)(?:\/([^/]+))?/.exec(u);
  if (m) return m[3] && !m[3].includes('.') ? `${m[1]}/${m[2]}/${m[3]}` : `${m[1]}/${m[2]}`;
  if (u.startsWith('node_modules/')) return u.split('/').slice(0, 2).join('/');
  return u;
}

function top(map: Map<string, number>, total: number, n: number): SelfTimeRow[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: us / 1000, percent: total > 0 ? (us / total) * 100 : 0 }));
}

export function summarizeProfile(file: string, topN = 25): ProfileSummary {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
  }
  const parentOf = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  // Native frames (no url, e.g. `writeBuffer`) are ambiguous alone: name the nearest JS caller.
  const callerOf = (id: number): string => {
    for (let p = parentOf.get(id), hops = 0; p !== undefined && hops < 50; p = parentOf.get(p), hops++) {
      const f = byId.get(p)?.callFrame;
      if (f?.url) return `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}`;
    }
    return '?';
  };
  const fn = new Map<string, number>();
  const area = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const f = node.callFrame;
    if (f.functionName === '(idle)') {
      idle += us;
      continue;
    }
    // Line numbers are left out: tsx runs transpiled code, so they would not match the sources.
    const name = f.functionName || '(anonymous)';
    const key = f.url ? `${name} ${shortUrl(f.url)}` : name.startsWith('(') ? name : `${name} (native) <- ${callerOf(id)}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const a = areaOf(f);
    area.set(a, (area.get(a) ?? 0) + us);
  }
  const busy = total - idle;
  return { file, totalMs: total / 1000, busyMs: busy / 1000, functions: top(fn, busy, topN), areas: top(area, busy, topN) };
}

export function formatProfileSummary(s: ProfileSummary): string {
  const rows = (title: string, list: SelfTimeRow[]) => [
    title,
    ...list.map((r) => `  ${r.ms.toFixed(0).padStart(7)} ms  ${r.percent.toFixed(1).padStart(5)}%  ${r.name}`),
  ];
  return [
    `profile ${path.relative(REPO_ROOT, s.file)}: ${s.totalMs.toFixed(0)} ms sampled, ${s.busyMs.toFixed(0)} ms not idle (percentages of not-idle)`,
    ...rows('self time by function:', s.functions),
    ...rows('self time by area:', s.areas),
  ].join('\n');
}

const isEntry = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isEntry) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: cpu-profile-summary.ts <file.cpuprofile> [--top N]');
    process.exit(2);
  }
  const i = process.argv.indexOf('--top');
  const n = i > 0 ? Number(process.argv[i + 1]) : 25;
  console.log(formatProfileSummary(summarizeProfile(file, Number.isInteger(n) && n > 0 ? n : 25)));
}
