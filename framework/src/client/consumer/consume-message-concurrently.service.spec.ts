import { afterEach, describe, expect, it, vi } from 'vitest';
import type { MessageQueue } from '@rocketry/broker/protocol';
import { Instrumentation } from '../instrumentation';
import type { MessageExt } from '../message';
import type { MessageListener } from './consume-context';
import { ConsumeMessageConcurrentlyService, type ConcurrentlyServiceOptions } from './consume-message-concurrently.service';
import { ProcessQueue } from './process-queue';
import { deferred, fakeMessage, flush } from './test-support';

const mq: MessageQueue = { topic: 'T', brokerName: 'b', queueId: 0 };
const clock = { now: () => Date.now() };

function setup(over: Partial<ConcurrentlyServiceOptions> & { listener: MessageListener }) {
  const commits: number[] = [];
  const sendBacks: Array<{ offset: number; delayLevel: number }> = [];
  const instrumentation = new Instrumentation();
  const failures: string[] = [];
  instrumentation.on('consume.failure', (e) => failures.push(`${e.msgId}:${e.action}`));
  const svc = new ConsumeMessageConcurrentlyService({
    group: 'G',
    messageModel: 'CLUSTERING',
    consumeThreadMax: 20,
    maxReconsumeTimes: 16,
    delayLevelWhenNextConsume: 0,
    suspendCurrentQueueTimeMillis: 1000,
    sendBack: async (msg, delayLevel) => {
      sendBacks.push({ offset: msg.queueOffset, delayLevel });
      return true;
    },
    commitOffset: (_mq, _pq, offset) => commits.push(offset),
    instrumentation,
    clock,
    ...over,
  });
  const pq = new ProcessQueue<MessageExt>(clock);
  const put = (offsets: number[]) => {
    const msgs = pq.putMessages(offsets.map((o) => fakeMessage(o)), offsets[offsets.length - 1]! + 1);
    svc.submit(pq, mq, msgs);
    return msgs;
  };
  return { svc, pq, put, commits, sendBacks, failures };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('ConsumeMessageConcurrentlyService', () => {
  it('runs at most consumeThreadMax listeners at once and never commits past the slow message', async () => {
    const gates = new Map<number, () => void>();
    let running = 0;
    let maxRunning = 0;
    const { svc, put, commits } = setup({
      consumeThreadMax: 20,
      listener: (msg) =>
        new Promise<void>((resolve) => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          gates.set(msg.queueOffset, () => {
            running--;
            resolve();
          });
        }),
    });
    put(Array.from({ length: 50 }, (_, i) => i));
    await flush();
    expect(svc.inFlight).toBe(20);
    expect(svc.queued).toBe(30);
    // Everything but offset 3 (the slow one) finishes, in waves.
    for (let wave = 0; wave < 5; wave++) {
      for (const [offset, open] of [...gates]) {
        if (offset === 3) continue;
        gates.delete(offset);
        open();
      }
      await flush(20);
    }
    expect(maxRunning).toBe(20);
    expect(svc.inFlight).toBe(1);
    expect(Math.max(...commits)).toBe(3);
    gates.get(3)!();
    await flush(20);
    expect(commits[commits.length - 1]).toBe(50);
  });

  it('failure forms: throw and RECONSUME_LATER use ctx.delayLevelWhenNextConsume (-1 DLQ, 0 broker, >0 level)', async () => {
    const { put, sendBacks, commits, failures } = setup({
      listener: (msg, ctx) => {
        if (msg.queueOffset === 0) throw new Error('boom');
        if (msg.queueOffset === 1) return 'RECONSUME_LATER';
        if (msg.queueOffset === 2) {
          ctx.delayLevelWhenNextConsume = -1;
          throw new Error('poison');
        }
        ctx.delayLevelWhenNextConsume = 3;
        return 'RECONSUME_LATER';
      },
    });
    put([0, 1, 2, 3]);
    await flush(30);
    expect(sendBacks.sort((a, b) => a.offset - b.offset)).toEqual([
      { offset: 0, delayLevel: 0 },
      { offset: 1, delayLevel: 0 },
      { offset: 2, delayLevel: -1 },
      { offset: 3, delayLevel: 3 },
    ]);
    // Sent back = finished: the offset moves past them.
    expect(commits[commits.length - 1]).toBe(4);
    expect(failures.sort()).toEqual(['id-0:retry', 'id-1:retry', 'id-2:dlq', 'id-3:retry']);
  });

  it('a failed send-back keeps the message pending and consumes it again locally with reconsumeTimes + 1', async () => {
    vi.useFakeTimers();
    const seen: number[] = [];
    let sendBackOk = false;
    const { put, commits, failures } = setup({
      localRetryDelayMs: 5000,
      sendBack: async () => sendBackOk,
      listener: (msg) => {
        seen.push(msg.reconsumeTimes);
        if (msg.reconsumeTimes < 2) throw new Error('not yet');
      },
    });
    put([0]);
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([0]);
    expect(commits).toEqual([]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(seen).toEqual([0, 1]);
    sendBackOk = true;
    await vi.advanceTimersByTimeAsync(5000);
    expect(seen).toEqual([0, 1, 2]);
    expect(commits).toEqual([1]);
    expect(failures).toEqual(['id-0:local-retry', 'id-0:local-retry']);
  });

  it('BROADCASTING drops failed messages (no send-back) and reports them', async () => {
    const { put, sendBacks, commits, failures } = setup({
      messageModel: 'BROADCASTING',
      listener: () => {
        throw new Error('x');
      },
    });
    put([0, 1]);
    await flush(20);
    expect(sendBacks).toEqual([]);
    expect(commits[commits.length - 1]).toBe(2);
    expect(failures).toEqual(['id-0:drop', 'id-1:drop']);
  });

  it('messages of a dropped queue are not started and do not move offsets', async () => {
    const gate = deferred();
    const started: number[] = [];
    const { put, pq, commits } = setup({
      consumeThreadMax: 1,
      listener: async (msg) => {
        started.push(msg.queueOffset);
        await gate.promise;
      },
    });
    put([0, 1, 2]);
    await flush();
    pq.dropped = true;
    gate.resolve();
    await flush(20);
    expect(started).toEqual([0]);
    expect(commits).toEqual([]);
  });

  it('shutdown waits for running listeners up to the bound, and starts nothing new', async () => {
    const gates: Array<() => void> = [];
    const started: number[] = [];
    const { svc, put, commits } = setup({
      consumeThreadMax: 2,
      listener: (msg) =>
        new Promise<void>((resolve) => {
          started.push(msg.queueOffset);
          gates.push(resolve);
        }),
    });
    put([0, 1, 2, 3]);
    await flush();
    const done = svc.shutdown(2000);
    gates[0]!();
    gates[1]!();
    expect(await done).toBe(true);
    expect(started).toEqual([0, 1]);
    expect(commits[commits.length - 1]).toBe(2);

    const second = setup({ listener: () => new Promise<void>(() => undefined) });
    second.put([0]);
    await flush();
    const t0 = Date.now();
    expect(await second.svc.shutdown(50)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
