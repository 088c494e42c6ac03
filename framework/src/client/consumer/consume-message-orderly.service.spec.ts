import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MessageQueue } from '@rocketry/broker/protocol';
import { Instrumentation } from '../instrumentation';
import type { MessageExt } from '../message';
import type { MessageListener } from './consume-context';
import { ConsumeMessageOrderlyService, type OrderlyServiceOptions } from './consume-message-orderly.service';
import { ProcessQueue } from './process-queue';
import { fakeMessage } from './test-support';

const clock = { now: () => Date.now() };
const mqOf = (queueId: number): MessageQueue => ({ topic: 'T', brokerName: 'b', queueId });

function setup(over: Partial<OrderlyServiceOptions> & { listener: MessageListener }) {
  const commits = new Map<number, number[]>();
  const dlq: number[] = [];
  const failures: string[] = [];
  const instrumentation = new Instrumentation();
  instrumentation.on('consume.failure', (e) => failures.push(`${e.queueId}/${e.msgId}:${e.action}:${e.reconsumeTimes}`));
  const svc = new ConsumeMessageOrderlyService({
    group: 'G',
    messageModel: 'CLUSTERING',
    consumeThreadMax: 20,
    maxReconsumeTimes: Number.POSITIVE_INFINITY,
    suspendCurrentQueueTimeMillis: 1000,
    delayLevelWhenNextConsume: 0,
    sendToDlq: async (msg) => {
      dlq.push(msg.queueOffset);
      return true;
    },
    commitOffset: (mq, _pq, offset) => {
      const list = commits.get(mq.queueId) ?? [];
      list.push(offset);
      commits.set(mq.queueId, list);
    },
    instrumentation,
    clock,
    ...over,
  });
  const queue = (queueId: number, locked = true) => {
    const pq = new ProcessQueue<MessageExt>(clock);
    if (locked) {
      pq.locked = true;
      pq.lastLockTimestamp = clock.now();
    }
    const mq = mqOf(queueId);
    return {
      pq,
      mq,
      put(offsets: number[]) {
        pq.putMessages(offsets.map((o) => fakeMessage(o, { queueId })), offsets[offsets.length - 1]! + 1);
        svc.notify(pq, mq);
      },
    };
  };
  return { svc, queue, commits, dlq, failures };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('ConsumeMessageOrderlyService', () => {
  it('consumes one message at a time per queue, in queue order, while queues run in parallel', async () => {
    const active = new Map<number, number>();
    const order = new Map<number, number[]>();
    let overlap = false;
    const { queue } = setup({
      listener: async (msg) => {
        const n = (active.get(msg.queueId) ?? 0) + 1;
        active.set(msg.queueId, n);
        if (n > 1) overlap = true;
        await new Promise((r) => setTimeout(r, 5 + (msg.queueOffset % 3)));
        (order.get(msg.queueId) ?? order.set(msg.queueId, []).get(msg.queueId)!).push(msg.queueOffset);
        active.set(msg.queueId, n - 1);
      },
    });
    const q0 = queue(0);
    const q1 = queue(1);
    q0.put([0, 1, 2, 3]);
    q1.put([0, 1, 2]);
    q0.put([4, 5]);
    await vi.advanceTimersByTimeAsync(200);
    expect(overlap).toBe(false);
    expect(order.get(0)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(order.get(1)).toEqual([0, 1, 2]);
  });

  it('failure suspends the queue for suspendCurrentQueueTimeMillis, then retries the same message with reconsumeTimes + 1', async () => {
    const calls: Array<{ offset: number; reconsumeTimes: number; at: number }> = [];
    const start = Date.now();
    const { queue, commits, failures } = setup({
      listener: (msg) => {
        calls.push({ offset: msg.queueOffset, reconsumeTimes: msg.reconsumeTimes, at: Date.now() - start });
        if (msg.queueOffset === 1 && msg.reconsumeTimes < 2) throw new Error('fail');
      },
    });
    const q = queue(0);
    q.put([0, 1, 2]);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => c.offset)).toEqual([0, 1]);
    await vi.advanceTimersByTimeAsync(999);
    expect(calls.length).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls[2]).toEqual({ offset: 1, reconsumeTimes: 1, at: 1000 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls.slice(3).map((c) => [c.offset, c.reconsumeTimes])).toEqual([
      [1, 2],
      [2, 0],
    ]);
    expect(commits.get(0)).toEqual([1, 2, 3]);
    expect(failures).toEqual(['0/id-1:suspend:0', '0/id-1:suspend:1']);
  });

  it('a handler may shorten the suspension through the context', async () => {
    const calls: number[] = [];
    const { queue } = setup({
      listener: (msg, ctx) => {
        calls.push(msg.reconsumeTimes);
        ctx.suspendCurrentQueueTimeMillis = 100;
        if (msg.reconsumeTimes === 0) throw new Error('x');
      },
    });
    queue(0).put([0]);
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toEqual([0, 1]);
  });

  it('after maxReconsumeTimes the message goes to the DLQ and the queue moves on', async () => {
    const calls: Array<[number, number]> = [];
    const { queue, dlq, commits, failures } = setup({
      maxReconsumeTimes: 2,
      listener: (msg) => {
        calls.push([msg.queueOffset, msg.reconsumeTimes]);
        if (msg.queueOffset === 0) throw new Error('poison');
      },
    });
    queue(0).put([0, 1]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
      [1, 0],
    ]);
    expect(dlq).toEqual([0]);
    expect(commits.get(0)).toEqual([1, 2]);
    expect(failures[failures.length - 1]).toBe('0/id-0:dlq:2');
  });

  it('a failed DLQ send suspends the queue and tries again', async () => {
    let dlqOk = false;
    const tries: number[] = [];
    const { queue, commits } = setup({
      maxReconsumeTimes: 0,
      sendToDlq: async (msg) => {
        tries.push(msg.queueOffset);
        return dlqOk;
      },
      listener: () => {
        throw new Error('always');
      },
    });
    queue(0).put([0]);
    await vi.advanceTimersByTimeAsync(0);
    expect(tries).toEqual([0]);
    expect(commits.get(0)).toBeUndefined();
    dlqOk = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(tries).toEqual([0, 0]);
    expect(commits.get(0)).toEqual([1]);
  });

  it('does not consume without a held lock, nor once the lock expired; resumes on notify after locking', async () => {
    const seen: number[] = [];
    const { svc, queue } = setup({ listener: (msg) => void seen.push(msg.queueOffset) });
    const q = queue(0, false);
    q.put([0, 1]);
    await vi.advanceTimersByTimeAsync(10);
    expect(seen).toEqual([]);
    q.pq.locked = true;
    q.pq.lastLockTimestamp = Date.now() - 31_000; // expired
    svc.notify(q.pq, q.mq);
    await vi.advanceTimersByTimeAsync(10);
    expect(seen).toEqual([]);
    q.pq.lastLockTimestamp = Date.now();
    svc.notify(q.pq, q.mq);
    await vi.advanceTimersByTimeAsync(10);
    expect(seen).toEqual([0, 1]);
  });

  it('waitIdle resolves once the running listener (and its commit) finished; a dropped queue stops', async () => {
    let release!: () => void;
    const seen: number[] = [];
    const { svc, queue, commits } = setup({
      listener: (msg) => {
        seen.push(msg.queueOffset);
        return new Promise<void>((r) => {
          release = r;
        });
      },
    });
    const q = queue(0);
    q.put([0, 1]);
    await vi.advanceTimersByTimeAsync(0);
    q.pq.dropped = true;
    let idle = false;
    const waiting = svc.waitIdle(q.pq, 10_000).then((v) => {
      idle = v;
    });
    await vi.advanceTimersByTimeAsync(100);
    expect(idle).toBe(false);
    release();
    await waiting;
    expect(idle).toBe(true);
    // The running message's offset was committed before the waiter resolved; nothing more started.
    expect(commits.get(0)).toEqual([1]);
    await vi.advanceTimersByTimeAsync(100);
    expect(seen).toEqual([0]);
  });
});
