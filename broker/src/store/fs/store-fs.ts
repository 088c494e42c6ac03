/**
 * The file operations the store uses, behind one small interface so a spec can swap in the
 * in-memory twin (memory-fs.ts) and simulate a crash that drops bytes not yet fdatasync'ed.
 *
 * Everything is synchronous except `datasync`: sync writes land in the page cache in µs, while an
 * fdatasync takes 0.2-0.4 ms and must run off the event loop (libuv threadpool).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fsyncDir } from '../../common/config-file';

export interface StoreFs {
  mkdirp(dir: string): void;
  /** Entry names of a directory; [] when it does not exist. */
  readdir(dir: string): string[];
  exists(p: string): boolean;
  isDirectory(p: string): boolean;
  /** Opens read-write, creating the file when missing. */
  open(p: string): number;
  close(fd: number): void;
  fileSize(fd: number): number;
  /** Last modification time of a path (ms). */
  mtimeMs(p: string): number;
  /** Reads up to `length` bytes at `position`; returns bytes read (short at EOF). */
  read(fd: number, buf: Buffer, bufOffset: number, length: number, position: number): number;
  /** Writes all buffers back to back starting at `position` (one writev when possible); the caller may reuse them on return. */
  write(fd: number, bufs: readonly Buffer[], position: number): void;
  /** Sets the file length (extending reads as zeroes). */
  truncate(fd: number, length: number): void;
  /** fdatasync on the threadpool. */
  datasync(fd: number): Promise<void>;
  datasyncSync(fd: number): void;
  unlink(p: string): void;
  /** Removes a file or directory tree; no error when missing. */
  rmrf(p: string): void;
  /** fsync a directory so file creations/removals in it survive a power cut. */
  syncDir(dir: string): void;
  /** Creates/overwrites a small file durably enough for markers (abort). */
  writeFile(p: string, data: Buffer): void;
  /** Fraction (0..1) of the filesystem holding `p` that is used. */
  diskUsedRatio(p: string): number;
}

/** Node fs implementation. */
export class RealStoreFs implements StoreFs {
  mkdirp(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
  }

  readdir(dir: string): string[] {
    try {
      return fs.readdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  exists(p: string): boolean {
    return fs.existsSync(p);
  }

  isDirectory(p: string): boolean {
    try {
      return fs.statSync(p).isDirectory();
    } catch {
      return false;
    }
  }

  open(p: string): number {
    return fs.openSync(p, fs.existsSync(p) ? 'r+' : 'w+');
  }

  close(fd: number): void {
    fs.closeSync(fd);
  }

  fileSize(fd: number): number {
    return fs.fstatSync(fd).size;
  }

  mtimeMs(p: string): number {
    return fs.statSync(p).mtimeMs;
  }

  read(fd: number, buf: Buffer, bufOffset: number, length: number, position: number): number {
    let done = 0;
    // Bounded: each pass reads > 0 bytes or stops.
    while (done < length) {
      const n = fs.readSync(fd, buf, bufOffset + done, length - done, position + done);
      if (n <= 0) break;
      done += n;
    }
    return done;
  }

  write(fd: number, bufs: readonly Buffer[], position: number): void {
    if (bufs.length === 1) {
      const b = bufs[0]!;
      let done = 0;
      while (done < b.length) done += fs.writeSync(fd, b, done, b.length - done, position + done);
      return;
    }
    let total = 0;
    for (const b of bufs) total += b.length;
    const written = fs.writevSync(fd, bufs as Buffer[], position);
    if (written < total) {
      // Short writev (rare: signals, huge batches): finish with a plain write of the rest.
      const rest = Buffer.concat(bufs as Buffer[]).subarray(written);
      let done = 0;
      while (done < rest.length) done += fs.writeSync(fd, rest, done, rest.length - done, position + written + done);
    }
  }

  truncate(fd: number, length: number): void {
    fs.ftruncateSync(fd, length);
  }

  datasync(fd: number): Promise<void> {
    return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  }

  datasyncSync(fd: number): void {
    fs.fdatasyncSync(fd);
  }

  unlink(p: string): void {
    try {
      fs.unlinkSync(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  rmrf(p: string): void {
    fs.rmSync(p, { recursive: true, force: true });
  }

  syncDir(dir: string): void {
    fsyncDir(dir);
  }

  writeFile(p: string, data: Buffer): void {
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, data);
  }

  diskUsedRatio(p: string): number {
    let probe = p;
    // statfs needs an existing path; walk up until one exists (bounded by the path depth).
    while (!fs.existsSync(probe)) {
      const parent = path.dirname(probe);
      if (parent === probe) break;
      probe = parent;
    }
    const st = fs.statfsSync(probe);
    if (st.blocks <= 0) return 0;
    // bavail (not bfree): blocks reserved for root are no use to the broker.
    return (st.blocks - st.bavail) / st.blocks;
  }
}

export const realStoreFs: StoreFs = new RealStoreFs();

/** 20-digit zero-padded decimal file name of an offset (`UtilAll.offset2FileName`). */
export function offsetToFileName(offset: number): string {
  return String(offset).padStart(20, '0');
}

export function isOffsetFileName(name: string): boolean {
  return /^\d{20}$/.test(name);
}
