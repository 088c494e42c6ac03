import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../common/clock';
import { createRequest } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import { LockBatchProcessor } from '../processors/lock-batch.processor';
import { FakeChannel } from './fake-channel.test-support';
import { RebalanceLockManager, type MessageQueue } from './rebalance-lock-manager';

const mq = (queueId: number): MessageQueue => ({ topic: 'T', brokerName: 'broker-a', queueId });

describe('RebalanceLockManager', () => {
  it('grants free queues, denies queues held by another live client, and lets the holder renew', () => {
    const clock = new ManualClock(0);
    const lm = new RebalanceLockManager({ clock, lockMaxLiveTimeMs: 60_000 });
    expect(lm.tryLockBatch('CG', [mq(0), mq(1)], 'c1')).toEqual([mq(0), mq(1)]);
    expect(lm.tryLockBatch('CG', [mq(0), mq(1), mq(2)], 'c2')).toEqual([mq(2)]);
    expect(lm.lockHolder('CG', mq(0))).toBe('c1');

    // c1 renews at 50 s; c2 still denied at 100 s (50 s after the renewal).
    clock.advance(50_000);
    expect(lm.tryLockBatch('CG', [mq(0)], 'c1')).toEqual([mq(0)]);
    clock.advance(50_000);
    expect(lm.tryLockBatch('CG', [mq(0)], 'c2')).toEqual([]);
    expect(lm.isLockedBy('CG', mq(0), 'c1')).toBe(true);

    // Another group is independent.
    expect(lm.tryLockBatch('OTHER', [mq(0)], 'c2')).toEqual([mq(0)]);
  });

  it('grants an expired lock to another client (lease = lockMaxLiveTime after the last renewal)', () => {
    const clock = new ManualClock(0);
    const lm = new RebalanceLockManager({ clock, lockMaxLiveTimeMs: 60_000 });
    lm.tryLockBatch('CG', [mq(0)], 'c1');
    clock.advance(60_000);
    expect(lm.tryLockBatch('CG', [mq(0)], 'c2')).toEqual([]); // exactly 60 s: still held
    clock.advance(1);
    expect(lm.isLockedBy('CG', mq(0), 'c1')).toBe(false);
    expect(lm.tryLockBatch('CG', [mq(0)], 'c2')).toEqual([mq(0)]);
    expect(lm.tryLockBatch('CG', [mq(0)], 'c1')).toEqual([]);
  });

  it('unlocks only for the holder', () => {
    const lm = new RebalanceLockManager({ clock: new ManualClock(0) });
    lm.tryLockBatch('CG', [mq(0), mq(1)], 'c1');
    expect(lm.unlockBatch('CG', [mq(0), mq(1)], 'c2')).toBe(0);
    expect(lm.tryLockBatch('CG', [mq(0)], 'c2')).toEqual([]);
    expect(lm.unlockBatch('CG', [mq(0)], 'c1')).toBe(1);
    expect(lm.tryLockBatch('CG', [mq(0), mq(1)], 'c2')).toEqual([mq(0)]);
  });

  it('prunes expired entries and bounds the per-group table', () => {
    const clock = new ManualClock(0);
    const lm = new RebalanceLockManager({ clock, lockMaxLiveTimeMs: 1000, maxLocksPerGroup: 2 });
    expect(lm.tryLockBatch('CG', [mq(0), mq(1), mq(2)], 'c1')).toEqual([mq(0), mq(1)]);
    clock.advance(1001);
    expect(lm.tryLockBatch('CG', [mq(2)], 'c1')).toEqual([mq(2)]); // made room by pruning expired ones
    clock.advance(1001);
    expect(lm.pruneExpired()).toBe(1);
  });
});

describe('LockBatchProcessor', () => {
  const body = (clientId: string, queueIds: number[]) =>
    Buffer.from(JSON.stringify({ consumerGroup: 'CG', clientId, onlyThisBroker: false, mqSet: queueIds.map(mq) }));

  it('replies with lockOKMQSet and honours unlock', async () => {
    const lm = new RebalanceLockManager({ clock: new ManualClock(0) });
    const p = new LockBatchProcessor({ rebalanceLockManager: lm });
    const ch = new FakeChannel();

    const r1 = await p.processRequest(createRequest(RequestCode.LOCK_BATCH_MQ, undefined, body('c1', [0, 1])), ch);
    expect(r1?.code).toBe(ResponseCode.SUCCESS);
    expect(JSON.parse(r1!.body!.toString())).toEqual({
      lockOKMQSet: [
        { brokerName: 'broker-a', queueId: 0, topic: 'T' },
        { brokerName: 'broker-a', queueId: 1, topic: 'T' },
      ],
    });
    const r2 = await p.processRequest(createRequest(RequestCode.LOCK_BATCH_MQ, undefined, body('c2', [1, 2])), ch);
    expect(JSON.parse(r2!.body!.toString()).lockOKMQSet).toEqual([{ brokerName: 'broker-a', queueId: 2, topic: 'T' }]);

    const r3 = await p.processRequest(createRequest(RequestCode.UNLOCK_BATCH_MQ, undefined, body('c1', [1])), ch);
    expect(r3?.code).toBe(ResponseCode.SUCCESS);
    const r4 = await p.processRequest(createRequest(RequestCode.LOCK_BATCH_MQ, undefined, body('c2', [1])), ch);
    expect(JSON.parse(r4!.body!.toString()).lockOKMQSet).toHaveLength(1);
  });

  it('answers SYSTEM_ERROR for a malformed body', async () => {
    const p = new LockBatchProcessor({ rebalanceLockManager: new RebalanceLockManager() });
    const r = await p.processRequest(createRequest(RequestCode.LOCK_BATCH_MQ, undefined, Buffer.from('{oops')), new FakeChannel());
    expect(r?.code).toBe(ResponseCode.SYSTEM_ERROR);
    const r2 = await p.processRequest(createRequest(RequestCode.LOCK_BATCH_MQ, undefined, Buffer.from('{"mqSet":[]}')), new FakeChannel());
    expect(r2?.code).toBe(ResponseCode.SYSTEM_ERROR);
  });
});
