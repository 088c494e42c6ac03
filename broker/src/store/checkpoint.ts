/**
 * `<root>/checkpoint`: positions known to be durable, written after the fdatasyncs that made them so.
 * Two slots written alternately so a torn write never loses both; the valid slot with the higher
 * sequence wins.
 *
 *   slot (CHECKPOINT_SLOT_BYTES each, at 0 and CHECKPOINT_SLOT_BYTES)
 *   +-------------+-------------+--------------+---------------------------+-------+
 *   | magic int32 | crc32 int32 | length int32 | JSON (length bytes, utf8) | zeros |
 *   +-------------+-------------+--------------+---------------------------+-------+
 *   0             4             8              12
 *   crc32 covers the JSON bytes.
 */
import * as zlib from 'node:zlib';
import type { StoreFs } from './fs/store-fs';
import type { IndexCheckpoint } from './index/index-service';

export const CHECKPOINT_MAGIC = 0x524b4350; // "RKCP"
export const CHECKPOINT_SLOT_BYTES = 1024;
const CHECKPOINT_HEADER_BYTES = 12;
if (4 + 4 + 4 !== CHECKPOINT_HEADER_BYTES) throw new Error('checkpoint header: 4+4+4 must be 12');

export interface CheckpointData {
  seq: number;
  /** CommitLog bytes below this are fdatasync'ed. */
  commitLogOffset: number;
  /** ConsumeQueue entries for every record below this are fdatasync'ed. */
  logicsOffset: number;
  index?: IndexCheckpoint;
  timestampMs: number;
}

export class Checkpoint {
  private fd: number | null = null;
  private seq = 0;

  constructor(
    readonly filePath: string,
    private readonly fs: StoreFs,
  ) {}

  /** Reads the newest valid slot (undefined when there is none). */
  load(): CheckpointData | undefined {
    if (!this.fs.exists(this.filePath)) return undefined;
    const fd = this.ensureOpen();
    const buf = Buffer.alloc(CHECKPOINT_SLOT_BYTES * 2);
    this.fs.read(fd, buf, 0, buf.length, 0);
    let best: CheckpointData | undefined;
    for (let slot = 0; slot < 2; slot++) {
      const d = decodeSlot(buf.subarray(slot * CHECKPOINT_SLOT_BYTES, (slot + 1) * CHECKPOINT_SLOT_BYTES));
      if (d && (!best || d.seq > best.seq)) best = d;
    }
    if (best) this.seq = best.seq;
    return best;
  }

  private ensureOpen(): number {
    if (this.fd === null) this.fd = this.fs.open(this.filePath);
    return this.fd;
  }

  private encode(data: Omit<CheckpointData, 'seq'>): { buf: Buffer; pos: number } {
    this.seq++;
    const json = Buffer.from(JSON.stringify({ ...data, seq: this.seq }), 'utf8');
    if (json.length > CHECKPOINT_SLOT_BYTES - CHECKPOINT_HEADER_BYTES) throw new Error('checkpoint record too large');
    const buf = Buffer.alloc(CHECKPOINT_SLOT_BYTES);
    buf.writeUInt32BE(CHECKPOINT_MAGIC, 0);
    buf.writeUInt32BE(zlib.crc32(json) >>> 0, 4);
    buf.writeInt32BE(json.length, 8);
    json.copy(buf, CHECKPOINT_HEADER_BYTES);
    return { buf, pos: (this.seq % 2) * CHECKPOINT_SLOT_BYTES };
  }

  /** Writes the next slot and fdatasyncs it (async). */
  async save(data: Omit<CheckpointData, 'seq'>): Promise<void> {
    const fd = this.ensureOpen();
    const { buf, pos } = this.encode(data);
    this.fs.write(fd, [buf], pos);
    await this.fs.datasync(fd);
  }

  saveSync(data: Omit<CheckpointData, 'seq'>): void {
    const fd = this.ensureOpen();
    const { buf, pos } = this.encode(data);
    this.fs.write(fd, [buf], pos);
    this.fs.datasyncSync(fd);
  }

  close(): void {
    if (this.fd !== null) this.fs.close(this.fd);
    this.fd = null;
  }
}

function decodeSlot(slot: Buffer): CheckpointData | undefined {
  if (slot.length < CHECKPOINT_HEADER_BYTES || slot.readUInt32BE(0) !== CHECKPOINT_MAGIC) return undefined;
  const len = slot.readInt32BE(8);
  if (len <= 0 || len > slot.length - CHECKPOINT_HEADER_BYTES) return undefined;
  const json = slot.subarray(CHECKPOINT_HEADER_BYTES, CHECKPOINT_HEADER_BYTES + len);
  if ((zlib.crc32(json) >>> 0) !== slot.readUInt32BE(4)) return undefined;
  try {
    const d = JSON.parse(json.toString('utf8')) as CheckpointData;
    if (typeof d.seq !== 'number' || typeof d.commitLogOffset !== 'number' || typeof d.logicsOffset !== 'number') return undefined;
    return d;
  } catch {
    return undefined;
  }
}
