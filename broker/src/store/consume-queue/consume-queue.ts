/**
 * ConsumeQueue: the per topic/queue index of CommitLog positions (§4.2 of remoting-protocol.md).
 * Files `<root>/consumequeue/<topic>/<queueId>/<20-digit start byte offset>`, each holding
 * `entriesPerFile` fixed-size units; logical offset n lives in file floor(n / entriesPerFile).
 *
 *   unit (20 bytes, big-endian)
 *   +-------------------------+--------------+-------------------------+
 *   | commitlog offset int64  | size int32   | tagsCode int64          |
 *   +-------------------------+--------------+-------------------------+
 *   0                         8              12                        20
 *
 * An all-zero unit (size 0) marks the end of data (files are preallocated). A padding unit
 * (offset 0, size Integer.MAX_VALUE, tags 0) fills the slots before a queue's first entry when a
 * queue is rebuilt starting mid-file (RocketMQ `fillPreBlank`).
 */
import path from 'node:path';
import { readInt64, writeInt64 } from '../../protocol/message-record';
import { isOffsetFileName, offsetToFileName, type StoreFs } from '../fs/store-fs';

export const CQ_OFFSET_BYTES = 8;
export const CQ_SIZE_BYTES = 4;
export const CQ_TAGS_CODE_BYTES = 8;
export const CQ_UNIT_BYTES = 20;
if (CQ_OFFSET_BYTES + CQ_SIZE_BYTES + CQ_TAGS_CODE_BYTES !== CQ_UNIT_BYTES) throw new Error('consume queue unit: 8+4+8 must be 20');

/** Size field of a padding unit. */
export const CQ_PAD_SIZE = 0x7fffffff;

export interface CqEntry {
  physicalOffset: number;
  size: number;
  tagsCode: number;
}

interface CqFile {
  index: number;
  path: string;
  fd: number;
}

const LOAD_CHUNK_UNITS = 32 * 1024;

export class ConsumeQueue {
  private files: CqFile[] = [];
  /** First logical offset still served. */
  minOffset = 0;
  /** Next logical offset (= entry count including removed ones). */
  maxOffset = 0;
  /** Entries appended but not yet written: they start at `pendingFrom`. */
  private pendingBuf: Buffer = Buffer.alloc(0);
  private pendingUnits = 0;
  private pendingFrom = 0;
  private lastWritten: CqFile | undefined;
  /** Files written since the last datasync. */
  private readonly dirty = new Set<CqFile>();
  /** End (offset + size) of the newest entry's record; -1 when unknown/empty. */
  maxPhysicalEnd = -1;

  readonly dir: string;

  constructor(
    root: string,
    readonly topic: string,
    readonly queueId: number,
    readonly entriesPerFile: number,
    private readonly fs: StoreFs,
  ) {
    this.dir = path.join(root, topic, String(queueId));
  }

  private get fileBytes(): number {
    return this.entriesPerFile * CQ_UNIT_BYTES;
  }

  /** Opens the files and finds min/max by scanning the first and last file. */
  load(): void {
    const names = this.fs.readdir(this.dir).filter(isOffsetFileName).sort();
    for (const name of names) {
      const start = Number(name);
      if (start % this.fileBytes !== 0) continue; // foreign size; ignored
      const p = path.join(this.dir, name);
      const fd = this.fs.open(p);
      if (this.fs.fileSize(fd) < this.fileBytes) this.fs.truncate(fd, this.fileBytes);
      this.files.push({ index: start / this.fileBytes, path: p, fd });
    }
    const first = this.files[0];
    const last = this.files[this.files.length - 1];
    if (!first || !last) return;
    // Files between first and last must be contiguous; a gap means everything after it is unusable.
    for (let i = 1; i < this.files.length; i++) {
      if (this.files[i]!.index !== this.files[i - 1]!.index + 1) {
        for (const f of this.files.splice(i)) {
          this.fs.close(f.fd);
          this.fs.unlink(f.path);
        }
        break;
      }
    }
    const firstBase = first.index * this.entriesPerFile;
    let min = -1;
    this.scanFile(first, 0, (i, e) => {
      if (e.size === CQ_PAD_SIZE) return true;
      min = firstBase + i;
      return false;
    });
    if (min < 0) {
      // First file has no real entry: the queue is empty at the end of its pads (or its start).
      let end = firstBase;
      this.scanFile(first, 0, (i) => {
        end = firstBase + i + 1;
        return true;
      });
      this.minOffset = this.maxOffset = this.pendingFrom = end;
      this.closeFilesAfter(first.index);
      return;
    }
    this.minOffset = min;
    const lastNow = this.files[this.files.length - 1]!;
    const lastBase = lastNow.index * this.entriesPerFile;
    const startUnit = lastNow === first ? min - firstBase : 0;
    let end = lastBase + startUnit;
    let lastEntry: CqEntry | undefined;
    this.scanFile(lastNow, startUnit, (i, e) => {
      end = lastBase + i + 1;
      lastEntry = e;
      return true;
    });
    this.maxOffset = this.pendingFrom = end;
    if (lastEntry && lastEntry.size !== CQ_PAD_SIZE) this.maxPhysicalEnd = lastEntry.physicalOffset + lastEntry.size;
  }

  private closeFilesAfter(index: number): void {
    const keep: CqFile[] = [];
    for (const f of this.files) {
      if (f.index <= index) keep.push(f);
      else {
        this.fs.close(f.fd);
        this.fs.unlink(f.path);
      }
    }
    this.files = keep;
  }

  /** Visits non-zero units of a file from `fromUnit` until a zero unit or `visit` returns false. */
  private scanFile(file: CqFile, fromUnit: number, visit: (unit: number, e: CqEntry) => boolean): void {
    const buf = Buffer.allocUnsafe(LOAD_CHUNK_UNITS * CQ_UNIT_BYTES);
    let unit = fromUnit;
    while (unit < this.entriesPerFile) {
      const want = Math.min(LOAD_CHUNK_UNITS, this.entriesPerFile - unit);
      const n = Math.floor(this.fs.read(file.fd, buf, 0, want * CQ_UNIT_BYTES, unit * CQ_UNIT_BYTES) / CQ_UNIT_BYTES);
      if (n <= 0) return;
      for (let i = 0; i < n; i++) {
        const e = decodeUnit(buf, i * CQ_UNIT_BYTES);
        if (e.size <= 0) return;
        if (!visit(unit + i, e)) return;
      }
      unit += n;
      if (n < want) return;
    }
  }

  isEmpty(): boolean {
    return this.maxOffset <= this.minOffset;
  }

  /** Appends one entry at maxOffset; written later by writePending (the store decides when). */
  append(physicalOffset: number, size: number, tagsCode: number): number {
    const offset = this.maxOffset;
    this.putUnit(physicalOffset, size, tagsCode);
    this.maxPhysicalEnd = physicalOffset + size;
    return offset;
  }

  private putUnit(physicalOffset: number, size: number, tagsCode: number): void {
    if (this.pendingUnits === 0) this.pendingFrom = this.maxOffset;
    const need = (this.pendingUnits + 1) * CQ_UNIT_BYTES;
    if (this.pendingBuf.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.pendingBuf.length * 2, 64 * CQ_UNIT_BYTES));
      this.pendingBuf.copy(grown, 0, 0, this.pendingUnits * CQ_UNIT_BYTES);
      this.pendingBuf = grown;
    }
    encodeUnit(this.pendingBuf, this.pendingUnits * CQ_UNIT_BYTES, physicalOffset, size, tagsCode);
    this.pendingUnits++;
    this.maxOffset++;
  }

  /**
   * Makes an empty queue start at `offset` (rebuild after its earlier records were deleted): the
   * slots before it in its file are filled with padding units so the file has no zero hole.
   */
  startAt(offset: number): void {
    if (!this.isEmpty() || offset <= this.maxOffset) return;
    this.writePending();
    const fileStart = Math.floor(offset / this.entriesPerFile) * this.entriesPerFile;
    this.minOffset = this.maxOffset = this.pendingFrom = Math.max(this.maxOffset, fileStart);
    while (this.maxOffset < offset) this.putUnit(0, CQ_PAD_SIZE, 0);
    this.writePending();
    this.minOffset = offset;
  }

  /** Fills a hole up to `offset` with padding units (recovery found a record beyond maxOffset). */
  padTo(offset: number): void {
    if (this.isEmpty()) {
      this.startAt(offset);
      return;
    }
    // Bounded by the hole size, which recovery caps.
    while (this.maxOffset < offset) this.putUnit(0, CQ_PAD_SIZE, 0);
  }

  /** Entries appended but not yet handed to the OS. */
  get pendingUnitCount(): number {
    return this.pendingUnits;
  }

  /** Writes appended entries (one write per touched file). */
  writePending(): void {
    let done = 0;
    // Bounded by the number of files the pending units span.
    while (done < this.pendingUnits) {
      const logical = this.pendingFrom + done;
      const file = this.fileFor(logical, true)!;
      const unitInFile = logical - file.index * this.entriesPerFile;
      const n = Math.min(this.pendingUnits - done, this.entriesPerFile - unitInFile);
      // Before the first write into a new file, make the previous one durable: then only the
      // newest file can hold a hole after a crash, and load() only needs to scan that one.
      const prev = this.lastWritten;
      if (prev && prev !== file && this.dirty.has(prev)) {
        this.fs.datasyncSync(prev.fd);
        this.dirty.delete(prev);
      }
      this.lastWritten = file;
      this.fs.write(file.fd, [this.pendingBuf.subarray(done * CQ_UNIT_BYTES, (done + n) * CQ_UNIT_BYTES)], unitInFile * CQ_UNIT_BYTES);
      this.dirty.add(file);
      done += n;
    }
    this.pendingUnits = 0;
    this.pendingFrom = this.maxOffset;
  }

  private fileFor(logical: number, create: boolean): CqFile | undefined {
    const index = Math.floor(logical / this.entriesPerFile);
    const first = this.files[0];
    if (first) {
      const f = this.files[index - first.index];
      if (f && f.index === index) return f;
    }
    if (!create) return undefined;
    this.fs.mkdirp(this.dir);
    const p = path.join(this.dir, offsetToFileName(index * this.fileBytes));
    const fd = this.fs.open(p);
    this.fs.truncate(fd, this.fileBytes);
    const f = { index, path: p, fd };
    this.files.push(f);
    this.files.sort((a, b) => a.index - b.index);
    return f;
  }

  /** Durably syncs files written since the last call. */
  async datasync(): Promise<void> {
    this.writePending();
    const files = [...this.dirty];
    this.dirty.clear();
    await Promise.all(files.map((f) => this.fs.datasync(f.fd)));
  }

  datasyncSync(): void {
    this.writePending();
    for (const f of this.dirty) this.fs.datasyncSync(f.fd);
    this.dirty.clear();
  }

  /**
   * Reads up to `maxUnits` raw units from `offset` (stops at maxOffset and at the end of its file).
   * null when the offset is outside [minOffset, maxOffset) or its file is gone.
   */
  readUnits(offset: number, maxUnits: number): Buffer | null {
    if (offset < this.minOffset || offset >= this.maxOffset || maxUnits <= 0) return null;
    if (this.pendingUnits > 0 && offset + maxUnits > this.pendingFrom) this.writePending();
    const file = this.fileFor(offset, false);
    if (!file) return null;
    const unitInFile = offset - file.index * this.entriesPerFile;
    const n = Math.min(maxUnits, this.maxOffset - offset, this.entriesPerFile - unitInFile);
    const buf = Buffer.allocUnsafe(n * CQ_UNIT_BYTES);
    const got = this.fs.read(file.fd, buf, 0, n * CQ_UNIT_BYTES, unitInFile * CQ_UNIT_BYTES);
    if (got < CQ_UNIT_BYTES) return null;
    return got === buf.length ? buf : buf.subarray(0, got - (got % CQ_UNIT_BYTES));
  }

  getEntry(offset: number): CqEntry | null {
    const buf = this.readUnits(offset, 1);
    return buf ? decodeUnit(buf, 0) : null;
  }

  /** Start of the next file after the one holding `offset` (`rollNextFile`). */
  rollNextFile(offset: number): number {
    return (Math.floor(offset / this.entriesPerFile) + 1) * this.entriesPerFile;
  }

  /** Drops entries from `offset` on (recovery: records beyond the valid CommitLog end). */
  truncateFrom(offset: number): void {
    this.writePending();
    if (offset >= this.maxOffset) return;
    const from = Math.max(offset, this.minOffset);
    const keep: CqFile[] = [];
    for (const f of this.files) {
      const base = f.index * this.entriesPerFile;
      if (base >= from) {
        this.fs.close(f.fd);
        this.fs.unlink(f.path);
        this.dirty.delete(f);
        continue;
      }
      keep.push(f);
      if (base < from && from < base + this.entriesPerFile) {
        const unit = from - base;
        const zeros = Buffer.alloc((this.entriesPerFile - unit) * CQ_UNIT_BYTES);
        this.fs.write(f.fd, [zeros], unit * CQ_UNIT_BYTES);
        this.dirty.add(f);
      }
    }
    this.files = keep;
    this.maxOffset = this.pendingFrom = from;
    if (this.minOffset > from) this.minOffset = from;
    const last = from > this.minOffset ? this.getEntry(from - 1) : null;
    this.maxPhysicalEnd = last && last.size !== CQ_PAD_SIZE ? last.physicalOffset + last.size : -1;
  }

  /**
   * Retention: advances minOffset past entries whose record starts below `minPhysicalOffset` and
   * deletes files that hold only such entries (never the newest file). Returns files deleted.
   */
  correctMinOffset(minPhysicalOffset: number): number {
    this.writePending();
    let deleted = 0;
    // Drop whole files whose last entry is below the CommitLog minimum (never the last file).
    while (this.files.length > 1) {
      const f = this.files[0]!;
      const lastOfFile = (f.index + 1) * this.entriesPerFile - 1;
      const e = this.getEntryRaw(f, lastOfFile - f.index * this.entriesPerFile);
      if (!e || e.size === 0 || e.size === CQ_PAD_SIZE || e.physicalOffset + e.size > minPhysicalOffset) break;
      this.fs.close(f.fd);
      this.fs.unlink(f.path);
      this.dirty.delete(f);
      this.files.shift();
      deleted++;
      this.minOffset = Math.max(this.minOffset, (f.index + 1) * this.entriesPerFile);
    }
    // Binary search the first entry at or above the minimum inside the remaining range.
    let lo = this.minOffset;
    let hi = this.maxOffset;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const e = this.getEntry(mid);
      if (e && e.size !== CQ_PAD_SIZE && e.physicalOffset >= minPhysicalOffset) hi = mid;
      else lo = mid + 1;
    }
    this.minOffset = lo;
    return deleted;
  }

  private getEntryRaw(file: CqFile, unit: number): CqEntry | null {
    const buf = Buffer.allocUnsafe(CQ_UNIT_BYTES);
    if (this.fs.read(file.fd, buf, 0, CQ_UNIT_BYTES, unit * CQ_UNIT_BYTES) !== CQ_UNIT_BYTES) return null;
    return decodeUnit(buf, 0);
  }

  fileCount(): number {
    return this.files.length;
  }

  close(): void {
    this.writePending();
    for (const f of this.files) this.fs.close(f.fd);
    this.files = [];
  }

  /** Removes every file of this queue (used when the whole queue is rebuilt). */
  destroy(): void {
    this.close();
    this.fs.rmrf(this.dir);
    this.minOffset = this.maxOffset = this.pendingFrom = 0;
    this.maxPhysicalEnd = -1;
  }
}

export function encodeUnit(buf: Buffer, pos: number, physicalOffset: number, size: number, tagsCode: number): void {
  writeInt64(buf, physicalOffset, pos);
  buf.writeInt32BE(size, pos + CQ_OFFSET_BYTES);
  writeInt64(buf, tagsCode, pos + CQ_OFFSET_BYTES + CQ_SIZE_BYTES);
}

export function decodeUnit(buf: Buffer, pos: number): CqEntry {
  return {
    physicalOffset: readInt64(buf, pos),
    size: buf.readInt32BE(pos + CQ_OFFSET_BYTES),
    tagsCode: readInt64(buf, pos + CQ_OFFSET_BYTES + CQ_SIZE_BYTES),
  };
}
