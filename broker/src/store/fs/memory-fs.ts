/**
 * In-memory twin of StoreFs for deterministic crash specs. Every file keeps its durable image (as of
 * the last datasync) and the list of operations since; `crash()` rebuilds each file from its durable
 * image plus a prefix of those operations (the last one possibly torn), as a power cut would leave a
 * page cache that was partly written back. Directory operations (create, unlink) are durable at once.
 */
import path from 'node:path';
import type { StoreFs } from './store-fs';

type Op = { kind: 'write'; pos: number; data: Buffer } | { kind: 'truncate'; length: number };

interface MemFile {
  data: Buffer;
  size: number;
  durable: Buffer;
  durableSize: number;
  ops: Op[];
  mtimeMs: number;
}

/** What survives a crash of the unsynced operations of each file. */
export type CrashMode = 'drop-unsynced' | 'keep-all' | { keepFraction: () => number };

export class MemoryStoreFs implements StoreFs {
  private readonly files = new Map<string, MemFile>();
  private readonly dirs = new Set<string>(['/']);
  private readonly fds = new Map<number, string>();
  private nextFd = 100;
  usedRatio = 0.1;
  datasyncCalls = 0;
  now: () => number = () => Date.now();

  mkdirp(dir: string): void {
    let d = path.resolve(dir);
    // Bounded by path depth.
    while (!this.dirs.has(d)) {
      this.dirs.add(d);
      const parent = path.dirname(d);
      if (parent === d) break;
      d = parent;
    }
  }

  readdir(dir: string): string[] {
    const d = path.resolve(dir);
    if (!this.dirs.has(d)) return [];
    const out = new Set<string>();
    for (const p of [...this.files.keys(), ...this.dirs]) if (p !== d && path.dirname(p) === d) out.add(path.basename(p));
    return [...out];
  }

  exists(p: string): boolean {
    const r = path.resolve(p);
    return this.files.has(r) || this.dirs.has(r);
  }

  isDirectory(p: string): boolean {
    return this.dirs.has(path.resolve(p));
  }

  open(p: string): number {
    const r = path.resolve(p);
    if (!this.files.has(r)) {
      this.mkdirp(path.dirname(r));
      this.files.set(r, { data: Buffer.alloc(0), size: 0, durable: Buffer.alloc(0), durableSize: 0, ops: [], mtimeMs: this.now() });
    }
    const fd = this.nextFd++;
    this.fds.set(fd, r);
    return fd;
  }

  private file(fd: number): MemFile {
    const p = this.fds.get(fd);
    const f = p === undefined ? undefined : this.files.get(p);
    if (!f) throw Object.assign(new Error(`EBADF: bad file descriptor ${fd}`), { code: 'EBADF' });
    return f;
  }

  close(fd: number): void {
    this.fds.delete(fd);
  }

  fileSize(fd: number): number {
    return this.file(fd).size;
  }

  mtimeMs(p: string): number {
    const f = this.files.get(path.resolve(p));
    if (!f) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
    return f.mtimeMs;
  }

  setMtime(p: string, ms: number): void {
    const f = this.files.get(path.resolve(p));
    if (f) f.mtimeMs = ms;
  }

  read(fd: number, buf: Buffer, bufOffset: number, length: number, position: number): number {
    const f = this.file(fd);
    if (position >= f.size) return 0;
    const n = Math.min(length, f.size - position);
    f.data.copy(buf, bufOffset, position, position + n);
    return n;
  }

  write(fd: number, bufs: readonly Buffer[], position: number): void {
    const f = this.file(fd);
    let pos = position;
    for (const b of bufs) {
      applyWrite(f, pos, b);
      f.ops.push({ kind: 'write', pos, data: Buffer.from(b) });
      pos += b.length;
    }
    f.mtimeMs = this.now();
  }

  truncate(fd: number, length: number): void {
    const f = this.file(fd);
    applyTruncate(f, length);
    f.ops.push({ kind: 'truncate', length });
  }

  async datasync(fd: number): Promise<void> {
    this.datasyncSync(fd);
    await new Promise<void>((r) => setImmediate(r));
  }

  datasyncSync(fd: number): void {
    this.datasyncCalls++;
    const f = this.file(fd);
    f.durable = Buffer.from(f.data.subarray(0, f.size));
    f.durableSize = f.size;
    f.ops = [];
  }

  unlink(p: string): void {
    this.files.delete(path.resolve(p));
  }

  rmrf(p: string): void {
    const r = path.resolve(p);
    for (const k of [...this.files.keys()]) if (k === r || k.startsWith(r + path.sep)) this.files.delete(k);
    for (const d of [...this.dirs]) if (d === r || d.startsWith(r + path.sep)) this.dirs.delete(d);
  }

  syncDir(_dir: string): void {
    // Directory operations are durable at once here.
  }

  writeFile(p: string, data: Buffer): void {
    const fd = this.open(p);
    const f = this.file(fd);
    applyTruncate(f, 0);
    applyWrite(f, 0, data);
    this.datasyncSync(fd);
    this.close(fd);
  }

  diskUsedRatio(_p: string): number {
    return this.usedRatio;
  }

  /** Bytes currently in a file (tests). */
  fileBytes(p: string): Buffer | undefined {
    const f = this.files.get(path.resolve(p));
    return f ? Buffer.from(f.data.subarray(0, f.size)) : undefined;
  }

  /**
   * Power cut: every file falls back to its durable image plus a prefix of its unsynced operations
   * (`keepFraction` of them, the last kept write torn at a random length). All fds become invalid.
   */
  crash(mode: CrashMode = 'drop-unsynced'): void {
    for (const f of this.files.values()) {
      const ops = f.ops;
      f.data = Buffer.from(f.durable);
      f.size = f.durableSize;
      f.ops = [];
      if (mode === 'drop-unsynced' || ops.length === 0) continue;
      const fraction = mode === 'keep-all' ? 1 : mode.keepFraction();
      const keep = Math.min(ops.length, Math.floor(ops.length * fraction));
      for (let i = 0; i < keep; i++) {
        const op = ops[i]!;
        if (op.kind === 'truncate') applyTruncate(f, op.length);
        else if (i === keep - 1 && mode !== 'keep-all') {
          const torn = Math.floor(op.data.length * (mode as { keepFraction: () => number }).keepFraction());
          applyWrite(f, op.pos, op.data.subarray(0, torn));
        } else applyWrite(f, op.pos, op.data);
      }
      f.durable = Buffer.from(f.data.subarray(0, f.size));
      f.durableSize = f.size;
    }
    this.fds.clear();
  }
}

function ensureCapacity(f: MemFile, size: number): void {
  if (f.data.length >= size) return;
  const grown = Buffer.alloc(Math.max(size, f.data.length * 2));
  f.data.copy(grown, 0, 0, f.size);
  f.data = grown;
}

function applyWrite(f: MemFile, pos: number, b: Buffer): void {
  ensureCapacity(f, pos + b.length);
  if (pos > f.size) f.data.fill(0, f.size, pos);
  b.copy(f.data, pos);
  if (pos + b.length > f.size) f.size = pos + b.length;
}

function applyTruncate(f: MemFile, length: number): void {
  if (length > f.size) {
    ensureCapacity(f, length);
    f.data.fill(0, f.size, length);
  }
  f.size = length;
}
