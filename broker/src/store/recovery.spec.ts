import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RecordOffset, writeInt64 } from '../protocol/message-record';
import { encodeUnit } from './consume-queue/consume-queue';
import { DefaultMessageStore } from './default-message-store';
import { offsetToFileName } from './fs/store-fs';
import { testMessage, useTempStore } from './store-test-helpers';

describe('recovery', () => {
  // A long flush interval keeps the checkpoint where start() left it, as after a crash.
  const env = useTempStore({ mappedFileSizeCommitLog: 8192, flushIntervalCommitLogMs: 60_000 });
  const { open } = env;

  async function fill(s: DefaultMessageStore, n: number, from = 0): Promise<void> {
    for (let i = from; i < from + n; i++) {
      const r = await s.putMessage(testMessage('RT', i % 3, `body-${i}-${'x'.repeat(200)}`, { TAGS: `t${i % 2}`, KEYS: `key-${i}`, UNIQ_KEY: `U-${i}` }));
      expect(r.status).toBe('PUT_OK');
    }
  }

  function crash(): void {
    env.store!.abandon();
    env.store = undefined;
  }

  function commitLogFileOf(offset: number, segment = 8192): string {
    return path.join(env.dir, 'commitlog', offsetToFileName(offset - (offset % segment)));
  }

  it('truncates a torn tail (partial record, then a full record with a bad CRC) and keeps CQ/index consistent', async () => {
    let s = await open();
    await fill(s, 40);
    const end = s.getMaxPhyOffset();
    const maxQ0 = s.getMaxOffsetInQueue('RT', 0);
    const lastRecord = Buffer.from(s.getMessage('RT', 0, maxQ0 - 1, 1).records[0]!);
    crash();

    // 1) a full-looking record with a corrupted body at the end, 2) its CQ entry already written.
    const forged = Buffer.from(lastRecord);
    writeInt64(forged, end, RecordOffset.PHYSICALOFFSET);
    writeInt64(forged, maxQ0, RecordOffset.QUEUEOFFSET);
    forged.writeUInt8(forged.readUInt8(forged.length - 60) ^ 0xff, forged.length - 60); // inside the body → CRC mismatch
    const fd = fs.openSync(commitLogFileOf(end), 'r+');
    fs.writeSync(fd, forged, 0, forged.length, end % 8192);
    fs.closeSync(fd);
    const cqFile = path.join(env.dir, 'consumequeue', 'RT', '0', offsetToFileName(0));
    const unit = Buffer.alloc(20);
    encodeUnit(unit, 0, end, forged.length, 0);
    const cqFd = fs.openSync(cqFile, 'r+');
    fs.writeSync(cqFd, unit, 0, 20, maxQ0 * 20);
    fs.closeSync(cqFd);

    s = await open();
    expect(s.getMaxPhyOffset()).toBe(end);
    expect(s.getMaxOffsetInQueue('RT', 0)).toBe(maxQ0);
    const report = s.verifyConsistency();
    expect(report).toMatchObject({ ok: true, records: 40, cqEntries: 40 });
    // the torn bytes are zeroed (preallocation kept)
    const after = fs.readFileSync(commitLogFileOf(end));
    expect(after.length).toBe(8192);
    expect(after.subarray(end % 8192, (end % 8192) + forged.length).every((b) => b === 0)).toBe(true);

    // a partial record (first half only) is also cut off
    const r = await s.putMessage(testMessage('RT', 0, 'after-recovery', { KEYS: 'after' }));
    expect(r.appended[0]!.physicalOffset).toBe(end);
    expect(r.appended[0]!.queueOffset).toBe(maxQ0);
    const end2 = s.getMaxPhyOffset();
    crash();
    const half = forged.subarray(0, Math.floor(forged.length / 2));
    writeInt64(half, end2, RecordOffset.PHYSICALOFFSET);
    const fd2 = fs.openSync(commitLogFileOf(end2), 'r+');
    fs.writeSync(fd2, half, 0, half.length, end2 % 8192);
    fs.closeSync(fd2);
    s = await open();
    expect(s.getMaxPhyOffset()).toBe(end2);
    expect(s.verifyConsistency()).toMatchObject({ ok: true, records: 41 });
    expect(s.queryMessage('RT', 'after', 4, 0, Number.MAX_SAFE_INTEGER).records.length).toBe(1);
  });

  it('re-dispatches CQ and index entries that never reached disk before a crash', async () => {
    let s = await open();
    await fill(s, 30);
    const max = [0, 1, 2].map((q) => s.getMaxOffsetInQueue('RT', q));
    crash();
    // Lose the newest CQ entries of queue 1 (as if the process died between the two writes).
    const cqFile = path.join(env.dir, 'consumequeue', 'RT', '1', offsetToFileName(0));
    const fd = fs.openSync(cqFile, 'r+');
    fs.writeSync(fd, Buffer.alloc(20 * 3), 0, 60, (max[1]! - 3) * 20);
    fs.closeSync(fd);
    s = await open();
    expect([0, 1, 2].map((q) => s.getMaxOffsetInQueue('RT', q))).toEqual(max);
    expect(s.stats.redispatchedRecords).toBeGreaterThan(0);
    expect(s.verifyConsistency()).toMatchObject({ ok: true, records: 30, cqEntries: 30 });
    // index entries were only in memory at the crash (index flush is periodic): rebuilt too
    for (const i of [0, 15, 29]) expect(s.queryMessage('RT', `key-${i}`, 4, 0, Number.MAX_SAFE_INTEGER).records.length).toBe(1);
  });

  it('rebuilds consumequeue/ and index/ entirely from the CommitLog', async () => {
    let s = await open({ mappedFileSizeConsumeQueueEntries: 8, maxIndexNum: 32 });
    await fill(s, 50);
    const max = [0, 1, 2].map((q) => s.getMaxOffsetInQueue('RT', q));
    const firstPage = s.getMessage('RT', 2, 0, 32).records.map((b) => b.toString('hex'));
    await s.shutdown();
    env.store = undefined;
    fs.rmSync(path.join(env.dir, 'consumequeue'), { recursive: true });
    fs.rmSync(path.join(env.dir, 'index'), { recursive: true });
    s = await open({ mappedFileSizeConsumeQueueEntries: 8, maxIndexNum: 32 });
    expect([0, 1, 2].map((q) => s.getMaxOffsetInQueue('RT', q))).toEqual(max);
    expect(s.getMessage('RT', 2, 0, 32).records.map((b) => b.toString('hex'))).toEqual(firstPage);
    expect(s.queryMessage('RT', 'U-7', 4, 0, Number.MAX_SAFE_INTEGER).records.length).toBe(1);
    expect(s.verifyConsistency()).toMatchObject({ ok: true, records: 50, cqEntries: 50 });
    expect(s.fileCounts().consumeQueue).toBeGreaterThan(3);
  });

  it('survives a crash right after a segment roll and keeps appending', async () => {
    let s = await open({ mappedFileSizeCommitLog: 4096 });
    await fill(s, 25); // ~ 6 files of 4 KiB
    const end = s.getMaxPhyOffset();
    crash();
    s = await open({ mappedFileSizeCommitLog: 4096 });
    expect(s.getMaxPhyOffset()).toBe(end);
    await fill(s, 10, 25);
    expect(s.verifyConsistency()).toMatchObject({ ok: true, records: 35 });
  });
});
