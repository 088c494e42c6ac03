import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKPOINT_SLOT_BYTES, Checkpoint } from './checkpoint';
import { MemoryStoreFs } from './fs/memory-fs';

describe('Checkpoint', () => {
  it('keeps the newest valid slot when the latest write is torn', async () => {
    const memfs = new MemoryStoreFs();
    const file = path.join('/mem/cp', 'checkpoint');
    const cp = new Checkpoint(file, memfs);
    expect(cp.load()).toBeUndefined();
    await cp.save({ commitLogOffset: 10, logicsOffset: 10, timestampMs: 1 });
    cp.saveSync({ commitLogOffset: 20, logicsOffset: 15, index: { file: 'f', count: 3, coveredOffset: 20 }, timestampMs: 2 });
    expect(new Checkpoint(file, memfs).load()).toMatchObject({ seq: 2, commitLogOffset: 20, logicsOffset: 15, index: { count: 3 } });
    // third save lands in slot 1 (seq 3) and is torn: only its first bytes reach the disk
    memfs.crash('drop-unsynced');
    const cp2 = new Checkpoint(file, memfs);
    cp2.load();
    const fd = memfs.open(file);
    memfs.write(fd, [Buffer.from([0x52, 0x4b, 0x43, 0x50, 0, 0, 0, 1])], (3 % 2) * CHECKPOINT_SLOT_BYTES);
    memfs.datasyncSync(fd);
    expect(new Checkpoint(file, memfs).load()).toMatchObject({ seq: 2, commitLogOffset: 20 });
  });
});
