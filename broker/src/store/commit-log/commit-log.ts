/**
 * CommitLog: fixed-size, preallocated segment files `<dir>/<20-digit start offset>`, strictly
 * sequential appends (§3.2 / §4.1 of remoting-protocol.md).
 *
 * Appends are encoded into an in-memory chunk and handed to the OS with one write/writev per
 * event-loop turn (`writePending`). Readers call `read`, which first writes anything still pending,
 * so appended data is visible at once. `datasync` makes everything written so far durable (async,
 * threadpool). A record never spans files: when record + 8 bytes does not fit, a BLANK record
 * (TOTALSIZE = rest of the file, MAGIC = BLANK) closes the file and the next one starts.
 */
import path from 'node:path';
import {
  BLANK_RECORD_MIN_BYTES,
  RecordOffset,
  RecordStatus,
  checkRecordAt,
  readInt64,
  writeBlankRecord,
} from '../../protocol/message-record';
import type { Logger } from '../../common/logger';
import { isOffsetFileName, offsetToFileName, type StoreFs } from '../fs/store-fs';

interface Segment {
  start: number;
  path: string;
  fd: number;
}

/** Default chunk size for the per-turn append buffer. */
const APPEND_CHUNK_BYTES = 1024 * 1024;
/** Read size of the recovery scan. */
const SCAN_CHUNK_BYTES = 4 * 1024 * 1024;

export class CommitLogLayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommitLogLayoutError';
  }
}

export interface CommitLogScanVisitor {
  /** Called for every valid record in order; `buf` holds the record at `bufPos`. */
  (buf: Buffer, bufPos: number, physicalOffset: number, size: number): void;
}

export class CommitLog {
  private segments: Segment[] = [];
  /** Global offset of the next byte to append. */
  private writeOffset = 0;
  /** Everything below this has been handed to the OS (page cache). */
  private writtenOffset = 0;
  /** Everything below this is fdatasync'ed. */
  private flushedOffset = 0;
  private readonly pending: Buffer[] = [];
  private chunk: Buffer = Buffer.alloc(0);
  private chunkUsed = 0;
  private chunkWritten = 0;
  private readonly dirty = new Set<Segment>();
  private syncInFlight: Promise<number> | null = null;

  constructor(
    readonly dir: string,
    readonly segmentBytes: number,
    private readonly fs: StoreFs,
    private readonly logger: Logger,
  ) {}

  /** Opens the existing segment files (no scan). */
  load(): void {
    this.fs.mkdirp(this.dir);
    const names = this.fs.readdir(this.dir).filter(isOffsetFileName).sort();
    let expected = -1;
    for (const name of names) {
      const start = Number(name);
      if (start % this.segmentBytes !== 0) {
        throw new CommitLogLayoutError(`commitlog file ${name} is not a multiple of mappedFileSizeCommitLog ${this.segmentBytes}`);
      }
      if (expected >= 0 && start !== expected) {
        throw new CommitLogLayoutError(`commitlog files are not contiguous: expected ${offsetToFileName(expected)}, found ${name}`);
      }
      const p = path.join(this.dir, name);
      const fd = this.fs.open(p);
      const size = this.fs.fileSize(fd);
      if (size > this.segmentBytes) {
        this.fs.close(fd);
        throw new CommitLogLayoutError(`commitlog file ${name} is ${size} bytes, larger than mappedFileSizeCommitLog ${this.segmentBytes}`);
      }
      // A crash between create and preallocate leaves a short file; extend it (reads as zeroes).
      if (size < this.segmentBytes) this.fs.truncate(fd, this.segmentBytes);
      this.segments.push({ start, path: p, fd });
      expected = start + this.segmentBytes;
    }
    const last = this.segments[this.segments.length - 1];
    const end = last ? last.start : 0;
    this.writeOffset = this.writtenOffset = this.flushedOffset = end;
    this.chunkUsed = this.chunkWritten = 0;
  }

  /** First byte still stored (start of the oldest file). */
  getMinOffset(): number {
    const first = this.segments[0];
    return first ? first.start : this.writeOffset;
  }

  /** Next append position (exclusive end of data). */
  getMaxOffset(): number {
    return this.writeOffset;
  }

  getFlushedOffset(): number {
    return this.flushedOffset;
  }

  getWrittenOffset(): number {
    return this.writtenOffset;
  }

  segmentStarts(): number[] {
    return this.segments.map((s) => s.start);
  }

  /** Start of the file holding `offset`. */
  segmentStartOf(offset: number): number {
    return offset - (offset % this.segmentBytes);
  }

  /** Start of the file after the one holding `offset` (`rollNextFile`). */
  rollNextFile(offset: number): number {
    return this.segmentStartOf(offset) + this.segmentBytes;
  }

  /**
   * Reserves `size` bytes for one record and returns where to encode it. Writes a BLANK record
   * and rolls to a new file when record + 8 bytes does not fit in the current one.
   */
  allocate(size: number): { physicalOffset: number; buf: Buffer; pos: number } {
    if (size + BLANK_RECORD_MIN_BYTES > this.segmentBytes) {
      throw new RangeError(`record of ${size} bytes can never fit a ${this.segmentBytes}-byte commitlog file`);
    }
    let inSeg = this.writeOffset % this.segmentBytes;
    const current = this.segments[this.segments.length - 1];
    const haveSegment = current !== undefined && current.start === this.writeOffset - inSeg;
    if (haveSegment && inSeg + size + BLANK_RECORD_MIN_BYTES > this.segmentBytes) {
      const blank = this.segmentBytes - inSeg;
      const target = this.reserveChunk(BLANK_RECORD_MIN_BYTES);
      writeBlankRecord(target.buf, target.pos, blank);
      this.writeOffset += BLANK_RECORD_MIN_BYTES;
      this.writePending();
      // The rest of the file stays as preallocated zeroes; TOTALSIZE skips it.
      this.writeOffset = this.writtenOffset = current.start + this.segmentBytes;
      inSeg = 0;
    }
    if (!haveSegment || inSeg === 0) {
      if (!this.segments.some((s) => s.start === this.writeOffset - inSeg)) {
        this.writePending();
        this.createSegment(this.writeOffset - inSeg);
      }
    }
    const physicalOffset = this.writeOffset;
    const target = this.reserveChunk(size);
    this.writeOffset += size;
    return { physicalOffset, buf: target.buf, pos: target.pos };
  }

  private reserveChunk(size: number): { buf: Buffer; pos: number } {
    if (this.chunk.length - this.chunkUsed < size) {
      if (this.chunkUsed > this.chunkWritten) this.pending.push(this.chunk.subarray(this.chunkWritten, this.chunkUsed));
      this.chunk = Buffer.allocUnsafe(Math.max(APPEND_CHUNK_BYTES, size));
      this.chunkUsed = this.chunkWritten = 0;
    }
    const pos = this.chunkUsed;
    this.chunkUsed += size;
    return { buf: this.chunk, pos };
  }

  hasPending(): boolean {
    return this.writtenOffset < this.writeOffset;
  }

  /** Hands every pending append to the OS with one write/writev (page cache). */
  writePending(): void {
    if (this.writtenOffset === this.writeOffset) return;
    if (this.chunkUsed > this.chunkWritten) {
      this.pending.push(this.chunk.subarray(this.chunkWritten, this.chunkUsed));
      this.chunkWritten = this.chunkUsed;
    }
    const seg = this.segmentFor(this.writtenOffset);
    if (!seg) throw new Error(`BUG: no commitlog segment for pending offset ${this.writtenOffset}`);
    this.fs.write(seg.fd, this.pending, this.writtenOffset - seg.start);
    this.pending.length = 0;
    // The OS has the bytes (write is synchronous): the next turn encodes from the start of the same
    // chunk, whose pages stay resident and warm instead of faulting in a fresh chunk every 1 MiB.
    this.chunkUsed = this.chunkWritten = 0;
    this.writtenOffset = this.writeOffset;
    this.dirty.add(seg);
  }

  /**
   * fdatasync of every file written since the last sync; resolves with the offset now durable.
   * Concurrent callers share an in-flight sync only if it already covers what they need; otherwise
   * they chain a new one after it (group commit: the next batch waits for the next fsync).
   */
  async datasync(): Promise<number> {
    this.writePending();
    while (this.syncInFlight) {
      const covered = await this.syncInFlight;
      if (covered >= this.writtenOffset) return covered;
    }
    if (this.flushedOffset >= this.writtenOffset) return this.flushedOffset;
    const target = this.writtenOffset;
    const segs = [...this.dirty];
    this.dirty.clear();
    const run = (async () => {
      try {
        await Promise.all(segs.map((s) => this.fs.datasync(s.fd)));
        if (target > this.flushedOffset) this.flushedOffset = target;
        return target;
      } catch (err) {
        for (const s of segs) this.dirty.add(s);
        throw err;
      } finally {
        this.syncInFlight = null;
      }
    })();
    this.syncInFlight = run;
    return run;
  }

  /** Is a sync currently running (the group-commit service starts the next one after it)? */
  isSyncing(): boolean {
    return this.syncInFlight !== null;
  }

  datasyncSync(): void {
    this.writePending();
    for (const s of this.dirty) this.fs.datasyncSync(s.fd);
    this.dirty.clear();
    this.flushedOffset = this.writtenOffset;
  }

  private segmentFor(offset: number): Segment | undefined {
    const first = this.segments[0];
    if (!first || offset < first.start) return undefined;
    const seg = this.segments[Math.floor((offset - first.start) / this.segmentBytes)];
    return seg && offset < seg.start + this.segmentBytes ? seg : undefined;
  }

  private createSegment(start: number): Segment {
    const p = path.join(this.dir, offsetToFileName(start));
    const fd = this.fs.open(p);
    this.fs.truncate(fd, this.segmentBytes);
    // Once per file: make the new name durable (acknowledged data lives in it after the next fsync).
    this.fs.syncDir(this.dir);
    const seg = { start, path: p, fd };
    this.segments.push(seg);
    return seg;
  }

  /**
   * Reads `size` bytes at `offset` (one record). null when outside the stored range or spanning files.
   */
  read(offset: number, size: number): Buffer | null {
    if (size <= 0) return null;
    const buf = Buffer.allocUnsafe(size);
    return this.readInto(offset, size, buf, 0) ? buf : null;
  }

  /**
   * Reads `size` bytes at `offset` into `target` at `targetPos` (pull replies read straight into the
   * reply body). false when outside the stored range, spanning files, or short.
   */
  readInto(offset: number, size: number, target: Buffer, targetPos: number): boolean {
    if (size <= 0 || offset < this.getMinOffset() || offset + size > this.writeOffset) return false;
    if (offset + size > this.writtenOffset) this.writePending();
    const seg = this.segmentFor(offset);
    if (!seg || offset + size > seg.start + this.segmentBytes) return false;
    return this.fs.read(seg.fd, target, targetPos, size, offset - seg.start) === size;
  }

  /**
   * Recovery scan from `fromOffset` (a record boundary) across the following files, checking every
   * record's magic, size and (optionally) body CRC. Returns the end of the last valid record; the
   * caller then truncates there.
   */
  scan(fromOffset: number, verifyCrc: boolean, visit: CommitLogScanVisitor, expectPhysicalOffsets = true): number {
    let offset = fromOffset;
    let segIdx = this.segments.findIndex((s) => offset >= s.start && offset < s.start + this.segmentBytes);
    if (segIdx < 0) return this.segments.length === 0 ? fromOffset : Math.max(fromOffset, this.getMinOffset());
    let buf = Buffer.allocUnsafe(SCAN_CHUNK_BYTES);
    // Bounded by the number of files times records per file.
    while (segIdx < this.segments.length) {
      const seg = this.segments[segIdx]!;
      const segEnd = seg.start + this.segmentBytes;
      let bufStart = offset; // global offset of buf[0]
      let bufLen = 0;
      let rolled = false;
      while (offset < segEnd) {
        let pos = offset - bufStart;
        if (pos + BLANK_RECORD_MIN_BYTES > bufLen || pos + buf.readInt32BE(pos) > bufLen) {
          // Refill so the whole record (its TOTALSIZE permitting) is in the buffer.
          bufStart = offset;
          pos = 0;
          const want = Math.min(buf.length, segEnd - offset);
          bufLen = this.fs.read(seg.fd, buf, 0, want, offset - seg.start);
          if (bufLen >= 4) {
            const total = buf.readInt32BE(0);
            if (total > buf.length && total <= segEnd - offset) {
              buf = Buffer.allocUnsafe(total);
              bufLen = this.fs.read(seg.fd, buf, 0, total, offset - seg.start);
            }
          }
        }
        const check = checkRecordAt(buf, pos, { verifyCrc }, bufLen);
        if (check.status === RecordStatus.VALID) {
          if (expectPhysicalOffsets) {
            const phy = readInt64(buf, pos + RecordOffset.PHYSICALOFFSET);
            if (phy !== offset) {
              this.logger.warn({ offset, phy }, 'commitlog record carries a wrong physical offset; treating as end of data');
              return offset;
            }
          }
          visit(buf, pos, offset, check.size);
          offset += check.size;
          continue;
        }
        if (check.status === RecordStatus.BLANK) {
          if (offset + check.size !== segEnd) {
            this.logger.warn({ offset, size: check.size }, 'commitlog BLANK record does not end its file; treating as end of data');
            return offset;
          }
          offset = segEnd;
          rolled = true;
          break;
        }
        if (check.status === RecordStatus.INVALID) {
          this.logger.warn({ offset, reason: check.reason }, 'commitlog torn or corrupt record; valid data ends here');
        }
        return offset;
      }
      if (!rolled && offset < segEnd) return offset;
      segIdx++;
      if (segIdx >= this.segments.length) return offset;
    }
    return offset;
  }

  /**
   * Drops everything from `offset` on: later files are deleted, the tail of the file holding it is
   * zeroed (shrink + re-extend keeps the preallocated size and makes the torn bytes read as zero).
   */
  truncateTo(offset: number): void {
    this.pending.length = 0;
    this.chunkUsed = this.chunkWritten = 0;
    const keep: Segment[] = [];
    for (const seg of this.segments) {
      if (seg.start <= offset) {
        keep.push(seg);
      } else {
        this.fs.close(seg.fd);
        this.fs.unlink(seg.path);
        this.logger.warn({ file: seg.path }, 'deleted commitlog file beyond the valid end');
      }
    }
    this.segments = keep;
    const last = keep[keep.length - 1];
    if (last && offset < last.start + this.segmentBytes) {
      this.fs.truncate(last.fd, offset - last.start);
      this.fs.truncate(last.fd, this.segmentBytes);
      this.fs.datasyncSync(last.fd);
    }
    this.writeOffset = this.writtenOffset = this.flushedOffset = offset;
  }

  /**
   * Deletes whole files from the oldest on while `shouldDelete(start, mtimeMs)` says so; never the
   * newest file. Returns the number deleted.
   */
  deleteOldSegments(shouldDelete: (start: number, mtimeMs: number) => boolean, maxFiles: number): number {
    let deleted = 0;
    while (this.segments.length > 1 && deleted < maxFiles) {
      const seg = this.segments[0]!;
      if (!shouldDelete(seg.start, this.fs.mtimeMs(seg.path))) break;
      this.fs.close(seg.fd);
      this.fs.unlink(seg.path);
      this.dirty.delete(seg);
      this.segments.shift();
      deleted++;
    }
    return deleted;
  }

  close(): void {
    for (const seg of this.segments) this.fs.close(seg.fd);
    this.segments = [];
  }
}
