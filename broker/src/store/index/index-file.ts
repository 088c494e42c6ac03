/**
 * IndexFile: hash index `topic#key` → CommitLog offset (§4.3 of remoting-protocol.md).
 *
 *   header (40 bytes)
 *   +----------------+----------------+----------------+----------------+-------------+-----------+
 *   | beginTs int64  | endTs int64    | beginPhy int64 | endPhy int64   | slots int32 | count i32 |
 *   +----------------+----------------+----------------+----------------+-------------+-----------+
 *   0                8                16               24               32            36          40
 *   then maxHashSlotNum slots (int32: newest entry index in the slot, 0 = empty)
 *   then maxIndexNum entries (20 bytes):
 *   +--------------+------------------+----------------------+------------------+
 *   | keyHash i32  | phyOffset int64  | timeDiff int32 (s)   | prevIndex int32  |
 *   +--------------+------------------+----------------------+------------------+
 *
 * Entry index 0 is never used (count starts at 1). endPhy here is the exclusive end of the
 * CommitLog range this file has covered (keyless records included), so recovery knows where to resume.
 *
 * The active (newest) file keeps its slot table in memory; appended entries and dirty slot pages are
 * written by `flush()` (periodic), not per message: the index is derived data, rebuilt from the
 * CommitLog after the checkpointed position on recovery.
 */
import { readInt64, writeInt64 } from '../../protocol/message-record';
import type { StoreFs } from '../fs/store-fs';

export const INDEX_HEADER_BYTES = 40;
export const INDEX_SLOT_BYTES = 4;
export const INDEX_ENTRY_BYTES = 20;
if (8 + 8 + 8 + 8 + 4 + 4 !== INDEX_HEADER_BYTES) throw new Error('index header: 8+8+8+8+4+4 must be 40');
if (4 + 8 + 4 + 4 !== INDEX_ENTRY_BYTES) throw new Error('index entry: 4+8+4+4 must be 20');

const SLOTS_PER_PAGE = 1024;
/** Dirty slot pages at most this many pages apart are written together. */
const SLOT_PAGE_MERGE_GAP = 16;

export function indexFileBytes(slotNum: number, maxIndexNum: number): number {
  return INDEX_HEADER_BYTES + slotNum * INDEX_SLOT_BYTES + maxIndexNum * INDEX_ENTRY_BYTES;
}

export interface IndexEntry {
  keyHash: number;
  phyOffset: number;
  timeDiffSec: number;
  prevIndex: number;
}

export class IndexFile {
  beginTimestamp = 0;
  endTimestamp = 0;
  beginPhyOffset = 0;
  endPhyOffset = 0;
  hashSlotCount = 0;
  indexCount = 1;
  /** In-memory slot table of the active file, big-endian as on disk (null once sealed). */
  private slots: Buffer | null = null;
  private dirtyPages: Uint8Array | null = null;
  private dirtyPageList: number[] = [];
  /** Entries from `flushedCount` to indexCount live here until flush. */
  private pending: Buffer = Buffer.alloc(0);
  private flushedCount = 1;
  private headerDirty = false;
  private unsynced = false;

  private constructor(
    readonly path: string,
    readonly name: string,
    private readonly fd: number,
    readonly slotNum: number,
    readonly maxIndexNum: number,
    private readonly fs: StoreFs,
  ) {}

  static create(filePath: string, name: string, slotNum: number, maxIndexNum: number, fs: StoreFs): IndexFile {
    const fd = fs.open(filePath);
    fs.truncate(fd, 0);
    fs.truncate(fd, indexFileBytes(slotNum, maxIndexNum));
    const f = new IndexFile(filePath, name, fd, slotNum, maxIndexNum, fs);
    f.slots = Buffer.alloc(slotNum * INDEX_SLOT_BYTES);
    f.dirtyPages = new Uint8Array(Math.ceil(slotNum / SLOTS_PER_PAGE));
    f.headerDirty = true;
    f.flush();
    return f;
  }

  /** Opens an existing file and reads its header. */
  static open(filePath: string, name: string, slotNum: number, maxIndexNum: number, fs: StoreFs): IndexFile {
    const fd = fs.open(filePath);
    const f = new IndexFile(filePath, name, fd, slotNum, maxIndexNum, fs);
    if (fs.fileSize(fd) < indexFileBytes(slotNum, maxIndexNum)) fs.truncate(fd, indexFileBytes(slotNum, maxIndexNum));
    const h = Buffer.alloc(INDEX_HEADER_BYTES);
    fs.read(fd, h, 0, INDEX_HEADER_BYTES, 0);
    f.beginTimestamp = readInt64(h, 0);
    f.endTimestamp = readInt64(h, 8);
    f.beginPhyOffset = readInt64(h, 16);
    f.endPhyOffset = readInt64(h, 24);
    f.hashSlotCount = h.readInt32BE(32);
    f.indexCount = Math.min(Math.max(1, h.readInt32BE(36)), maxIndexNum);
    f.flushedCount = f.indexCount;
    return f;
  }

  isFull(): boolean {
    return this.indexCount >= this.maxIndexNum;
  }

  isActive(): boolean {
    return this.slots !== null;
  }

  /** Makes this the active file: loads the slot table from disk. */
  activate(): void {
    if (this.slots) return;
    const bytes = Buffer.alloc(this.slotNum * INDEX_SLOT_BYTES);
    this.fs.read(this.fd, bytes, 0, bytes.length, INDEX_HEADER_BYTES);
    this.slots = bytes;
    this.dirtyPages = new Uint8Array(Math.ceil(this.slotNum / SLOTS_PER_PAGE));
  }

  /**
   * Recovery: keeps only entries [1, count) and rebuilds the slot table from them (slot pointers
   * written after the checkpoint may point at dropped entries).
   */
  rebuildFromEntries(count: number): void {
    this.indexCount = this.flushedCount = Math.min(Math.max(1, count), this.maxIndexNum);
    const slots = Buffer.alloc(this.slotNum * INDEX_SLOT_BYTES);
    let used = 0;
    const chunkEntries = 16 * 1024;
    const buf = Buffer.allocUnsafe(chunkEntries * INDEX_ENTRY_BYTES);
    for (let i = 1; i < this.indexCount; i += chunkEntries) {
      const n = Math.min(chunkEntries, this.indexCount - i);
      this.fs.read(this.fd, buf, 0, n * INDEX_ENTRY_BYTES, this.entryPosition(i));
      for (let j = 0; j < n; j++) {
        const slot = buf.readInt32BE(j * INDEX_ENTRY_BYTES) % this.slotNum;
        if (slots.readInt32BE(slot * INDEX_SLOT_BYTES) === 0) used++;
        slots.writeInt32BE(i + j, slot * INDEX_SLOT_BYTES);
      }
    }
    this.slots = slots;
    this.hashSlotCount = used;
    const pages = Math.ceil(this.slotNum / SLOTS_PER_PAGE);
    this.dirtyPages = new Uint8Array(pages).fill(1);
    this.dirtyPageList = Array.from({ length: pages }, (_, i) => i);
    this.headerDirty = true;
  }

  private entryPosition(index: number): number {
    return INDEX_HEADER_BYTES + this.slotNum * INDEX_SLOT_BYTES + index * INDEX_ENTRY_BYTES;
  }

  /** Adds an entry; false when the file is full. `keyHash` is already non-negative. */
  put(keyHash: number, phyOffset: number, storeTimestamp: number): boolean {
    const slots = this.slots;
    if (!slots) throw new Error('BUG: put on a sealed index file');
    if (this.isFull()) return false;
    if (this.indexCount === 1 && this.beginTimestamp === 0) {
      this.beginTimestamp = storeTimestamp;
      this.beginPhyOffset = phyOffset;
    }
    let timeDiff = Math.floor((storeTimestamp - this.beginTimestamp) / 1000);
    if (timeDiff < 0 || this.beginTimestamp <= 0) timeDiff = 0;
    else if (timeDiff > 0x7fffffff) timeDiff = 0x7fffffff;
    const slot = keyHash % this.slotNum;
    const prev = slots.readInt32BE(slot * INDEX_SLOT_BYTES);
    if (prev === 0) this.hashSlotCount++;
    const k = this.indexCount - this.flushedCount;
    const need = (k + 1) * INDEX_ENTRY_BYTES;
    if (this.pending.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.pending.length * 2, 256 * INDEX_ENTRY_BYTES));
      this.pending.copy(grown, 0, 0, k * INDEX_ENTRY_BYTES);
      this.pending = grown;
    }
    const p = k * INDEX_ENTRY_BYTES;
    this.pending.writeInt32BE(keyHash, p);
    writeInt64(this.pending, phyOffset, p + 4);
    this.pending.writeInt32BE(timeDiff, p + 12);
    this.pending.writeInt32BE(prev, p + 16);
    slots.writeInt32BE(this.indexCount, slot * INDEX_SLOT_BYTES);
    const page = Math.floor(slot / SLOTS_PER_PAGE);
    if (this.dirtyPages![page] === 0) {
      this.dirtyPages![page] = 1;
      this.dirtyPageList.push(page);
    }
    this.indexCount++;
    if (storeTimestamp > this.endTimestamp) this.endTimestamp = storeTimestamp;
    this.headerDirty = true;
    return true;
  }

  /** Records that the CommitLog up to `end` has been indexed (keyless records included). */
  markCovered(end: number): void {
    if (end > this.endPhyOffset) {
      this.endPhyOffset = end;
      this.headerDirty = true;
    }
  }

  /** Writes pending entries, dirty slot pages (coalesced runs) and the header. */
  flush(): void {
    const k = this.indexCount - this.flushedCount;
    if (k > 0) {
      this.fs.write(this.fd, [this.pending.subarray(0, k * INDEX_ENTRY_BYTES)], this.entryPosition(this.flushedCount));
      this.flushedCount = this.indexCount;
      this.unsynced = true;
    }
    if (this.slots && this.dirtyPageList.length > 0) {
      const pages = this.dirtyPageList.sort((a, b) => a - b);
      let i = 0;
      while (i < pages.length) {
        let j = i;
        // Merge runs separated by small clean gaps: one larger write beats many 4 KiB ones.
        while (j + 1 < pages.length && pages[j + 1]! - pages[j]! <= SLOT_PAGE_MERGE_GAP) j++;
        const firstSlot = pages[i]! * SLOTS_PER_PAGE;
        const endSlot = Math.min((pages[j]! + 1) * SLOTS_PER_PAGE, this.slotNum);
        // Zero-copy: the slot table is kept in its on-disk byte order.
        const out = this.slots.subarray(firstSlot * INDEX_SLOT_BYTES, endSlot * INDEX_SLOT_BYTES);
        this.fs.write(this.fd, [out], INDEX_HEADER_BYTES + firstSlot * INDEX_SLOT_BYTES);
        i = j + 1;
      }
      this.dirtyPages!.fill(0);
      this.dirtyPageList = [];
      this.unsynced = true;
    }
    if (this.headerDirty) {
      const h = Buffer.alloc(INDEX_HEADER_BYTES);
      writeInt64(h, this.beginTimestamp, 0);
      writeInt64(h, this.endTimestamp, 8);
      writeInt64(h, this.beginPhyOffset, 16);
      writeInt64(h, this.endPhyOffset, 24);
      h.writeInt32BE(this.hashSlotCount, 32);
      h.writeInt32BE(this.indexCount, 36);
      this.fs.write(this.fd, [h], 0);
      this.headerDirty = false;
      this.unsynced = true;
    }
  }

  async datasync(): Promise<void> {
    this.flush();
    if (!this.unsynced) return;
    this.unsynced = false;
    await this.fs.datasync(this.fd);
  }

  datasyncSync(): void {
    this.flush();
    if (this.unsynced) this.fs.datasyncSync(this.fd);
    this.unsynced = false;
  }

  /** Flushes and drops the in-memory slot table (the file is full or no longer newest). */
  seal(): void {
    this.flush();
    this.slots = null;
    this.dirtyPages = null;
    this.pending = Buffer.alloc(0);
  }

  private readSlot(slot: number): number {
    if (this.slots) return this.slots.readInt32BE(slot * INDEX_SLOT_BYTES);
    const b = Buffer.allocUnsafe(INDEX_SLOT_BYTES);
    if (this.fs.read(this.fd, b, 0, INDEX_SLOT_BYTES, INDEX_HEADER_BYTES + slot * INDEX_SLOT_BYTES) !== INDEX_SLOT_BYTES) return 0;
    return b.readInt32BE(0);
  }

  readEntry(index: number): IndexEntry | null {
    if (index <= 0 || index >= this.indexCount) return null;
    let buf: Buffer;
    let p: number;
    if (index >= this.flushedCount) {
      buf = this.pending;
      p = (index - this.flushedCount) * INDEX_ENTRY_BYTES;
    } else {
      buf = Buffer.allocUnsafe(INDEX_ENTRY_BYTES);
      if (this.fs.read(this.fd, buf, 0, INDEX_ENTRY_BYTES, this.entryPosition(index)) !== INDEX_ENTRY_BYTES) return null;
      p = 0;
    }
    return { keyHash: buf.readInt32BE(p), phyOffset: readInt64(buf, p + 4), timeDiffSec: buf.readInt32BE(p + 12), prevIndex: buf.readInt32BE(p + 16) };
  }

  /**
   * Walks the slot chain of `keyHash` newest-first and appends the CommitLog offsets of entries
   * with that hash whose (second-granular) time may fall in [beginMs, endMs]. Bounded by indexCount.
   */
  lookup(keyHash: number, maxNum: number, beginMs: number, endMs: number, out: number[]): void {
    let idx = this.readSlot(keyHash % this.slotNum);
    let steps = 0;
    while (idx > 0 && idx < this.indexCount && out.length < maxNum && steps < this.indexCount) {
      steps++;
      const e = this.readEntry(idx);
      if (!e) break;
      const timeMs = this.beginTimestamp + e.timeDiffSec * 1000;
      // timeDiff is truncated to seconds: the real time is in [timeMs, timeMs + 999].
      if (e.keyHash === keyHash && timeMs <= endMs && timeMs + 999 >= beginMs) out.push(e.phyOffset);
      else if (e.keyHash === keyHash && e.timeDiffSec === 0 && timeMs > endMs) {
        // clamped (older than the file's begin): still a candidate, the caller checks exact time
        out.push(e.phyOffset);
      }
      if (e.prevIndex >= idx) break; // chains only point backwards
      idx = e.prevIndex;
    }
  }

  close(): void {
    this.fs.close(this.fd);
  }

  destroy(): void {
    this.fs.close(this.fd);
    this.fs.unlink(this.path);
  }
}
