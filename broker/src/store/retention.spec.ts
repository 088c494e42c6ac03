import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock';
import { DefaultMessageStore } from './default-message-store';
import { testMessage, useTempStore } from './store-test-helpers';

const HOUR_MS = 3_600_000;

describe('retention', () => {
  const env = useTempStore({
    mappedFileSizeCommitLog: 4096,
    mappedFileSizeConsumeQueueEntries: 4,
    maxIndexNum: 16,
    maxHashSlotNum: 8,
    fileReservedTimeHours: 1,
  });
  const { open } = env;

  async function fillAndAge(s: DefaultMessageStore, now: number): Promise<string[]> {
    for (let i = 0; i < 40; i++) {
      expect((await s.putMessage(testMessage('RET', i % 2, `m${i}-${'y'.repeat(300)}`, { KEYS: `k${i}` }))).status).toBe('PUT_OK');
    }
    await s.flushLogics(); // CQ and index files on disk, as hours of running would leave them
    const files = fs.readdirSync(path.join(env.dir, 'commitlog')).sort();
    // All but the newest file were last written 2 h ago.
    const old = new Date(now - 2 * HOUR_MS);
    for (const f of files.slice(0, -1)) fs.utimesSync(path.join(env.dir, 'commitlog', f), old, old);
    return files;
  }

  it('deletes expired CommitLog files at deleteWhen, then CQ/index files, and moves min offsets', async () => {
    const now = Date.now();
    const clock = new ManualClock(now);
    const hour = new Date(now).getHours();
    const s = await open({ deleteWhen: (hour + 12) % 24 }, { clock, diskUsedRatio: () => 0.1 });
    const files = await fillAndAge(s, now);
    expect(files.length).toBeGreaterThan(3);
    const before = s.fileCounts();

    expect(s.runRetention(false)).toBe(0); // wrong hour, disk fine: nothing happens
    expect(s.getMinPhyOffset()).toBe(0);

    // Same store, now at the deleteWhen hour.
    clock.set(now + 12 * HOUR_MS);
    const deleted = s.runRetention(false);
    expect(deleted).toBe(files.length - 1);
    const remaining = fs.readdirSync(path.join(env.dir, 'commitlog'));
    expect(remaining).toEqual([files[files.length - 1]]); // never the newest
    const minPhy = s.getMinPhyOffset();
    expect(minPhy).toBe(Number(files[files.length - 1]));

    for (const q of [0, 1]) {
      const min = s.getMinOffsetInQueue('RET', q);
      expect(min).toBeGreaterThan(0);
      expect(s.getMessage('RET', q, 0, 8)).toMatchObject({ status: 'OFFSET_TOO_SMALL', nextBeginOffset: min });
      const got = s.getMessage('RET', q, min, 8);
      expect(got.status).toBe('FOUND');
      expect(s.getEarliestMessageTime('RET', q)).toBeGreaterThan(0);
    }
    const after = s.fileCounts();
    expect(after.consumeQueue).toBeLessThan(before.consumeQueue);
    expect(after.index).toBeLessThan(before.index);
    expect(s.verifyConsistency().ok).toBe(true);
    // min offsets survive a restart
    const mins = [0, 1].map((q) => s.getMinOffsetInQueue('RET', q));
    await s.shutdown();
    const s2 = await open({}, { clock, diskUsedRatio: () => 0.1 });
    expect([0, 1].map((q) => s2.getMinOffsetInQueue('RET', q))).toEqual(mins);
    expect(s2.getMinPhyOffset()).toBe(minPhy);
  });

  it('keeps files that are not expired yet', async () => {
    const now = Date.now();
    const s = await open({ fileReservedTimeHours: 72 }, { clock: new ManualClock(now), diskUsedRatio: () => 0.1 });
    await fillAndAge(s, now);
    expect(s.runRetention(true)).toBe(0);
  });

  it('deletes at once, outside deleteWhen, when the disk is over the ratio', async () => {
    const now = Date.now();
    let used = 0.1;
    const hour = new Date(now).getHours();
    const s = await open({ deleteWhen: (hour + 12) % 24, diskMaxUsedSpaceRatio: 80 }, { clock: new ManualClock(now), diskUsedRatio: () => used });
    const files = await fillAndAge(s, now);
    used = 0.85;
    s.checkDiskSpace(); // refuses writes and triggers retention
    expect(fs.readdirSync(path.join(env.dir, 'commitlog')).length).toBe(1);
    expect(s.getMinPhyOffset()).toBe(Number(files[files.length - 1]));
    expect((await s.putMessage(testMessage('RET', 0, 'x'))).status).toBe('SERVICE_NOT_AVAILABLE');
  });
});
