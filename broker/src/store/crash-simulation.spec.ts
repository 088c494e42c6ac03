/**
 * Deterministic crash simulation over the in-memory fs: random puts (single and batch, several
 * queues, keys), random crash points that keep a random prefix of unsynced writes (the last one
 * torn), restart, repeat. Invariants: with SYNC_FLUSH every acknowledged message survives; in both
 * modes ConsumeQueue and index agree exactly with the CommitLog after recovery.
 * The seed is in the test name, so a failure is reproducible.
 */
import { describe, expect, it } from 'vitest';
import { MessageConst } from '../protocol/message-const';
import { DefaultMessageStore } from './default-message-store';
import { MemoryStoreFs } from './fs/memory-fs';
import { testMessage, testStoreConfig } from './store-test-helpers';
import type { FlushDiskType, PutMessageResult } from './types';
import { seededRandom } from '../common/seeded-random';

interface Acked {
  topic: string;
  queueId: number;
  queueOffset: number;
  physicalOffset: number;
  body: string;
  key: string;
}

async function simulate(seed: number, flushDiskType: FlushDiskType): Promise<{ acked: number; restarts: number }> {
  const rnd = seededRandom(seed);
  const memfs = new MemoryStoreFs();
  const config = testStoreConfig('/mem/store', {
    flushDiskType,
    mappedFileSizeCommitLog: 4096,
    mappedFileSizeConsumeQueueEntries: 8,
    maxIndexNum: 24,
    maxHashSlotNum: 8,
    flushIntervalCommitLogMs: 3,
  });
  const acked: Acked[] = [];
  let seq = 0;
  const rounds = 4;
  for (let round = 0; round < rounds; round++) {
    const store = new DefaultMessageStore(config, { fs: memfs, diskUsedRatio: () => 0.1 });
    await store.start();
    // Everything acknowledged so far (SYNC_FLUSH) is still there, exactly.
    if (flushDiskType === 'SYNC_FLUSH') {
      for (const a of acked) {
        const rec = store.lookMessageByOffset(a.physicalOffset);
        expect(rec?.body.toString(), `seed ${seed}: acked message at ${a.physicalOffset} lost`).toBe(a.body);
        const got = store.getMessage(a.topic, a.queueId, a.queueOffset, 1);
        expect(got.status).toBe('FOUND');
        expect(store.queryMessage(a.topic, a.key, 4, 0, Number.MAX_SAFE_INTEGER).records.length).toBe(1);
      }
    }
    const report = store.verifyConsistency();
    expect(report.problems, `seed ${seed} round ${round}`).toEqual([]);

    const steps = 10 + Math.floor(rnd() * 40);
    for (let step = 0; step < steps; step++) {
      const topic = rnd() < 0.5 ? 'TA' : 'TB';
      const queueId = Math.floor(rnd() * 3);
      const n = rnd() < 0.2 ? 1 + Math.floor(rnd() * 4) : 1;
      const msgs = Array.from({ length: n }, () => {
        const id = seq++;
        return testMessage(topic, queueId, `b${id}-${'z'.repeat(Math.floor(rnd() * 300))}`, { KEYS: `key${id}`, [MessageConst.TAGS]: `t${id % 3}` });
      });
      const p = (n === 1 ? store.putMessage(msgs[0]!) : store.putMessages(msgs)).then((r: PutMessageResult) => {
        if (r.status !== 'PUT_OK') return;
        r.appended.forEach((a, i) =>
          acked.push({ topic, queueId, queueOffset: a.queueOffset, physicalOffset: a.physicalOffset, body: msgs[i]!.body.toString(), key: msgs[i]!.properties.KEYS! }),
        );
      });
      const r = rnd();
      if (r < 0.3) await p;
      else if (r < 0.6) await new Promise((res) => setImmediate(res));
      else if (r < 0.65) await new Promise((res) => setTimeout(res, 4));
    }
    if (rnd() < 0.2) {
      await store.shutdown(); // clean stop now and then: the normal-restart path
      continue;
    }
    // Crash: a random share of unsynced writes reaches the disk, the last one torn.
    store.abandon();
    memfs.crash({ keepFraction: rnd });
  }
  // Final restart: consistent, and new writes continue after the recovered end.
  const store = new DefaultMessageStore(config, { fs: memfs, diskUsedRatio: () => 0.1 });
  await store.start();
  expect(store.verifyConsistency().problems).toEqual([]);
  const r = await store.putMessage(testMessage('TA', 0, 'final', { KEYS: 'final' }));
  expect(r.status).toBe('PUT_OK');
  expect(store.verifyConsistency().problems).toEqual([]);
  await store.shutdown();
  return { acked: acked.length, restarts: rounds };
}

describe('crash simulation (in-memory fs)', () => {
  for (const seed of Array.from({ length: 30 }, (_, i) => i + 1)) {
    it(`SYNC_FLUSH keeps every acknowledged message, seed ${seed}`, async () => {
      const { acked } = await simulate(seed, 'SYNC_FLUSH');
      expect(acked).toBeGreaterThan(0);
    });
  }
  for (const seed of Array.from({ length: 20 }, (_, i) => i + 1001)) {
    it(`ASYNC_FLUSH recovers to a consistent state, seed ${seed}`, async () => {
      await simulate(seed, 'ASYNC_FLUSH');
    });
  }

  it('drops unsynced CommitLog bytes on a crash (the twin really loses data)', async () => {
    const memfs = new MemoryStoreFs();
    const config = testStoreConfig('/mem/s2', { flushDiskType: 'ASYNC_FLUSH', flushIntervalCommitLogMs: 60_000 });
    const s = new DefaultMessageStore(config, { fs: memfs, diskUsedRatio: () => 0.1 });
    await s.start();
    await s.putMessage(testMessage('T', 0, 'not-synced'));
    s.abandon();
    memfs.crash('drop-unsynced');
    const s2 = new DefaultMessageStore(config, { fs: memfs, diskUsedRatio: () => 0.1 });
    await s2.start();
    expect(s2.getMaxPhyOffset()).toBe(0);
    expect(s2.getMaxOffsetInQueue('T', 0)).toBe(0);
    await s2.shutdown();
  });
});
