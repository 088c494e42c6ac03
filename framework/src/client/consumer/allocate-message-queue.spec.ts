import { describe, expect, it } from 'vitest';
import { messageQueueKey, type MessageQueue } from '@rocketry/broker/protocol';
import { allocateMessageQueueAveragely } from './allocate-message-queue';

const mq = (brokerName: string, queueId: number, topic = 'T'): MessageQueue => ({ topic, brokerName, queueId });
const keys = (mqs: MessageQueue[]) => mqs.map((q) => `${q.brokerName}-${q.queueId}`);

describe('allocateMessageQueueAveragely', () => {
  const eight = [0, 1, 2, 3].flatMap((i) => [mq('b', i), mq('a', i)]);

  it('splits 8 queues over 3 consumers as 3/3/2 in sorted order, like Java', () => {
    const cids = ['c3', 'c1', 'c2'];
    expect(keys(allocateMessageQueueAveragely('g', 'c1', eight, cids))).toEqual(['a-0', 'a-1', 'a-2']);
    expect(keys(allocateMessageQueueAveragely('g', 'c2', eight, cids))).toEqual(['a-3', 'b-0', 'b-1']);
    expect(keys(allocateMessageQueueAveragely('g', 'c3', eight, cids))).toEqual(['b-2', 'b-3']);
  });

  it('gives every queue to exactly one consumer for many shapes', () => {
    for (let q = 1; q <= 17; q++) {
      for (let c = 1; c <= 9; c++) {
        const mqs = Array.from({ length: q }, (_, i) => mq(`b${i % 3}`, i));
        const cids = Array.from({ length: c }, (_, i) => `10.0.0.1@${100 + i}`);
        const seen = new Map<string, number>();
        for (const cid of cids) {
          const got = allocateMessageQueueAveragely('g', cid, mqs, cids);
          expect(got.length).toBeLessThanOrEqual(Math.ceil(q / c));
          for (const m of got) seen.set(messageQueueKey(m), (seen.get(messageQueueKey(m)) ?? 0) + 1);
        }
        expect(seen.size).toBe(q);
        expect([...seen.values()].every((n) => n === 1)).toBe(true);
      }
    }
  });

  it('more consumers than queues: the extra consumers get nothing', () => {
    const mqs = [mq('a', 0), mq('a', 1)];
    const cids = ['x', 'y', 'z'];
    expect(keys(allocateMessageQueueAveragely('g', 'x', mqs, cids))).toEqual(['a-0']);
    expect(keys(allocateMessageQueueAveragely('g', 'y', mqs, cids))).toEqual(['a-1']);
    expect(allocateMessageQueueAveragely('g', 'z', mqs, cids)).toEqual([]);
  });

  it('an unknown consumer id gets no queues', () => {
    expect(allocateMessageQueueAveragely('g', 'nobody', eight, ['c1'])).toEqual([]);
  });
});
