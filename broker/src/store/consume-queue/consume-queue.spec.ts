import { describe, expect, it } from 'vitest';
import { MemoryStoreFs } from '../fs/memory-fs';
import { CQ_PAD_SIZE, CQ_UNIT_BYTES, ConsumeQueue, decodeUnit, encodeUnit } from './consume-queue';

function open(memfs: MemoryStoreFs, entriesPerFile = 4): ConsumeQueue {
  const q = new ConsumeQueue('/mem/cq', 'T', 0, entriesPerFile, memfs);
  q.load();
  return q;
}

describe('ConsumeQueue', () => {
  it('encodes 20-byte units (offset int64 | size int32 | tagsCode int64, negative tags sign-extended)', () => {
    const b = Buffer.alloc(CQ_UNIT_BYTES);
    encodeUnit(b, 0, 2 ** 40 + 7, 123, -5);
    expect(b.toString('hex')).toBe('0000010000000007' + '0000007b' + 'fffffffffffffffb');
    expect(decodeUnit(b, 0)).toEqual({ physicalOffset: 2 ** 40 + 7, size: 123, tagsCode: -5 });
  });

  it('appends across files, reloads min/max, reads units and truncates', () => {
    const memfs = new MemoryStoreFs();
    const q = open(memfs);
    for (let i = 0; i < 10; i++) q.append(i * 100, 100, i);
    q.writePending();
    expect(memfs.readdir('/mem/cq/T/0').sort()).toEqual(['00000000000000000000', '00000000000000000080', '00000000000000000160']);
    const again = open(memfs);
    expect([again.minOffset, again.maxOffset, again.maxPhysicalEnd]).toEqual([0, 10, 1000]);
    expect(again.readUnits(3, 10)!.length).toBe(CQ_UNIT_BYTES); // stops at the end of file 0
    expect(again.getEntry(9)).toEqual({ physicalOffset: 900, size: 100, tagsCode: 9 });
    again.truncateFrom(6);
    expect(again.maxOffset).toBe(6);
    expect(memfs.readdir('/mem/cq/T/0').length).toBe(2);
    const third = open(memfs);
    expect(third.maxOffset).toBe(6);
    expect(third.getEntry(6)).toBeNull();
  });

  it('starts a rebuilt queue mid-file behind padding units and finds min on reload', () => {
    const memfs = new MemoryStoreFs();
    const q = open(memfs);
    q.startAt(6);
    q.append(5000, 50, 0);
    q.writePending();
    expect([q.minOffset, q.maxOffset]).toEqual([6, 7]);
    const again = open(memfs);
    expect([again.minOffset, again.maxOffset]).toEqual([6, 7]);
    const pad = Buffer.alloc(CQ_UNIT_BYTES);
    memfs.read(memfs.open('/mem/cq/T/0/00000000000000000080'), pad, 0, CQ_UNIT_BYTES, 0);
    expect(decodeUnit(pad, 0).size).toBe(CQ_PAD_SIZE);
  });

  it('advances min past deleted CommitLog data and deletes whole files, never the last', () => {
    const memfs = new MemoryStoreFs();
    const q = open(memfs);
    for (let i = 0; i < 10; i++) q.append(i * 100, 100, 0);
    expect(q.correctMinOffset(450)).toBe(1); // file 0 (entries 0-3, ending at 400) goes
    expect(q.minOffset).toBe(5);
    expect(q.fileCount()).toBe(2);
    expect(q.correctMinOffset(10_000)).toBe(1);
    expect(q.fileCount()).toBe(1);
    expect([q.minOffset, q.maxOffset]).toEqual([10, 10]);
  });

  it('syncs a full file before writing the next one, so a crash leaves no hole behind the newest file', () => {
    const memfs = new MemoryStoreFs();
    const q = open(memfs);
    for (let i = 0; i < 6; i++) q.append(i * 100, 100, 0);
    q.writePending();
    memfs.crash('drop-unsynced');
    const again = open(memfs);
    // file 0 was made durable before file 1 got its first write; file 1's unsynced units are gone
    expect([again.minOffset, again.maxOffset]).toEqual([0, 4]);
  });
});
