import { describe, expect, it } from 'vitest';
import { ManualClock } from '@rocketry/broker/common/clock';
import { ProcessQueue } from './process-queue';
import { fakeMessage } from './test-support';

describe('ProcessQueue', () => {
  it('the committable offset is the lowest pending offset, never past a message still in flight', () => {
    const pq = new ProcessQueue(new ManualClock(0));
    pq.putMessages([10, 11, 12, 13].map((o) => fakeMessage(o)), 14);
    expect(pq.committableOffset()).toBe(10);
    // 11..13 finish first; 10 is still being consumed.
    expect(pq.complete([11, 12, 13])).toBe(10);
    pq.putMessages([14, 15].map((o) => fakeMessage(o)), 16);
    expect(pq.completeOne(15)).toBe(10);
    expect(pq.completeOne(10)).toBe(14);
    expect(pq.completeOne(14)).toBe(16);
    expect(pq.cachedCount).toBe(0);
  });

  it('with nothing pending, the next pull offset is committable (filtered-out messages are skipped)', () => {
    const pq = new ProcessQueue(new ManualClock(0));
    pq.nextOffset = 5;
    expect(pq.committableOffset()).toBe(5);
    pq.putMessages([], 9);
    expect(pq.committableOffset()).toBe(9);
  });

  it('random completion order: the committed offset is always <= every pending offset', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const pq = new ProcessQueue(new ManualClock(0));
    const pending = new Set<number>();
    let next = 0;
    let last = -1;
    for (let round = 0; round < 2000; round++) {
      if (rnd() < 0.4) {
        const n = 1 + Math.floor(rnd() * 5);
        const msgs = Array.from({ length: n }, (_, i) => fakeMessage(next + i));
        pq.putMessages(msgs, next + n);
        for (const m of msgs) pending.add(m.queueOffset);
        next += n;
      } else if (pending.size > 0) {
        const arr = [...pending];
        const pick = arr[Math.floor(rnd() * arr.length)]!;
        pending.delete(pick);
        const committed = pq.completeOne(pick);
        const minPending = pending.size > 0 ? Math.min(...pending) : next;
        if (committed > minPending || committed < last) throw new Error(`committed ${committed}, min pending ${minPending}, last ${last}`);
        if (pending.size === 0) expect(committed).toBe(next);
        last = committed;
      }
    }
    expect(pq.cachedCount).toBe(pending.size);
  });

  it('counts cached messages and bytes for flow control, and ignores re-pulled offsets', () => {
    const pq = new ProcessQueue(new ManualClock(0));
    const big = fakeMessage(0, { body: Buffer.alloc(1000) });
    pq.putMessages([big, fakeMessage(1, { body: Buffer.alloc(24) })], 2);
    expect(pq.cachedCount).toBe(2);
    expect(pq.cachedBytes).toBe(1024);
    // Overlapping re-pull: nothing added twice.
    expect(pq.putMessages([fakeMessage(1), fakeMessage(2, { body: Buffer.alloc(1) })], 3).map((m) => m.queueOffset)).toEqual([2]);
    expect(pq.cachedCount).toBe(3);
    expect(pq.maxSpan()).toBe(2);
    pq.completeOne(0);
    expect(pq.cachedBytes).toBe(25);
    expect(pq.maxSpan()).toBe(1);
  });

  it('firstPending walks in order as messages finish', () => {
    const pq = new ProcessQueue(new ManualClock(0));
    pq.putMessages([3, 4, 5].map((o) => fakeMessage(o)), 6);
    expect(pq.firstPending()?.queueOffset).toBe(3);
    pq.completeOne(3);
    expect(pq.firstPending()?.queueOffset).toBe(4);
    expect(pq.pendingMessages().map((m) => m.queueOffset)).toEqual([4, 5]);
  });

  it('a lock not renewed within lockMaxLiveTimeMs counts as expired', () => {
    const clock = new ManualClock(1_000);
    const pq = new ProcessQueue(clock, 30_000);
    expect(pq.holdsLock()).toBe(false);
    pq.locked = true;
    pq.lastLockTimestamp = clock.now();
    clock.advance(30_000);
    expect(pq.holdsLock()).toBe(true);
    clock.advance(1);
    expect(pq.isLockExpired()).toBe(true);
    expect(pq.holdsLock()).toBe(false);
  });

  it('one stuck first message holds the offset however many later messages finish', () => {
    const pq = new ProcessQueue(new ManualClock(0));
    pq.putMessages([fakeMessage(0)], 1);
    for (let i = 1; i <= 5000; i++) {
      pq.putMessages([fakeMessage(i)], i + 1);
      pq.completeOne(i);
    }
    expect(pq.committableOffset()).toBe(0);
    expect(pq.cachedCount).toBe(1);
    expect(pq.completeOne(0)).toBe(5001);
  });

  it('flow control: pull waits over the count, size or span limit and resumes once messages finish', () => {
    const pq = new ProcessQueue(new ManualClock(0));
    const limits = { maxCachedCount: 3, maxCachedBytes: 100, maxSpan: 10 };
    pq.putMessages([0, 1, 2].map((o) => fakeMessage(o, { body: Buffer.alloc(10) })), 3);
    expect(pq.flowControlReason(limits)).toBeUndefined();
    pq.putMessages([fakeMessage(3, { body: Buffer.alloc(10) })], 4);
    expect(pq.flowControlReason(limits)).toBe('count');
    pq.complete([1, 2]);
    expect(pq.flowControlReason(limits)).toBeUndefined();
    pq.putMessages([fakeMessage(4, { body: Buffer.alloc(200) })], 5);
    expect(pq.flowControlReason(limits)).toBe('size');
    pq.completeOne(4);
    pq.putMessages([fakeMessage(20, { body: Buffer.alloc(1) })], 21);
    // Offset 0 is stuck while 20 arrived: span 20 > 10.
    expect(pq.flowControlReason(limits)).toBe('span');
    expect(pq.flowControlReason({ ...limits, maxSpan: undefined })).toBeUndefined();
    pq.complete([0, 3]);
    expect(pq.flowControlReason(limits)).toBeUndefined();
  });
});
