import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, systemClock, type Clock } from '../../common/clock';
import { parseDelayLevels } from '../../config';
import type { PutMessageRequest } from '../../store/types';
import { SystemTopic } from '../constants';
import { storeMessageWithRouting } from '../message-routing';
import { DELAY_OFFSET_FILE, ScheduleMessageService } from './schedule-message.service';
import { InMemoryMessageStore } from './test-support';

function message(topic: string, delayLevel: number, body: string, extra: Partial<PutMessageRequest> = {}): PutMessageRequest {
  return {
    topic,
    queueId: 2,
    flag: 3,
    body: Buffer.from(body),
    properties: { TAGS: 'TagA', KEYS: body, DELAY: String(delayLevel), UNIQ_KEY: `U-${body}` },
    sysFlag: 0,
    bornTimestamp: 42,
    bornHost: { host: '10.0.0.7', port: 7000 },
    reconsumeTimes: 2,
    preparedTransactionOffset: 0,
    ...extra,
  };
}

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('ScheduleMessageService', () => {
  let dir: string;
  const services: ScheduleMessageService[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rocketry-schedule-'));
  });
  afterEach(async () => {
    for (const s of services.splice(0)) await s.shutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function setup(levels: string, clock: Clock, opts: { maxDeliverPerTick?: number; retryBackoffMs?: number; store?: InMemoryMessageStore } = {}) {
    const delayLevelsMs = parseDelayLevels(levels);
    const store = opts.store ?? new InMemoryMessageStore(delayLevelsMs, clock);
    const service = new ScheduleMessageService({
      store,
      settings: { messageDelayLevel: levels, storePathRootDir: dir },
      clock,
      maxDeliverPerTick: opts.maxDeliverPerTick,
      retryBackoffMs: opts.retryBackoffMs,
    });
    services.push(service);
    const park = (msg: PutMessageRequest) => storeMessageWithRouting({ store, delayLevelsMs }, msg);
    return { store, service, park, delayLevelsMs };
  }

  it('delivers at the due time (real timers, "100ms 200ms"), restoring topic/queue and properties', async () => {
    const { store, service, park } = setup('100ms 200ms', systemClock);
    service.start();
    const parkedAt = Date.now();
    await park(message('T', 2, 'slow'));
    await park(message('T', 1, 'fast'));
    expect(store.messagesIn(SystemTopic.SCHEDULE, 0)).toHaveLength(1);
    expect(store.messagesIn(SystemTopic.SCHEDULE, 1)).toHaveLength(1);

    await waitFor(() => store.messagesIn('T', 2).length === 1);
    const fast = store.messagesIn('T', 2)[0]!;
    expect(fast.body.toString()).toBe('fast');
    expect(fast.storeTimestamp - parkedAt).toBeGreaterThanOrEqual(99);
    await waitFor(() => store.messagesIn('T', 2).length === 2);
    const slow = store.messagesIn('T', 2)[1]!;
    expect(slow.body.toString()).toBe('slow');
    expect(slow.storeTimestamp - parkedAt).toBeGreaterThanOrEqual(199);

    expect(slow.flag).toBe(3);
    expect(slow.reconsumeTimes).toBe(2);
    expect(slow.bornTimestamp).toBe(42);
    expect(slow.bornHost).toEqual({ host: '10.0.0.7', port: 7000 });
    expect(slow.properties.DELAY).toBeUndefined();
    expect(slow.properties).toMatchObject({ TAGS: 'TagA', KEYS: 'slow', UNIQ_KEY: 'U-slow', REAL_TOPIC: 'T', REAL_QID: '2', WAIT: 'false' });
    expect(service.delivered).toBe(2);
  });

  it('a drained level wakes up when a new message is parked (single timer, no polling)', async () => {
    const { store, service, park } = setup('50ms', systemClock);
    service.start();
    await new Promise((r) => setTimeout(r, 30));
    await park(message('T', 1, 'late'));
    await waitFor(() => store.messagesIn('T', 2).length === 1, 2000);
  });

  it('delivers nothing before the due time and each message once, in order (ManualClock)', async () => {
    const clock = new ManualClock(1_000_000);
    const { store, service, park } = setup('1s 5s', clock);
    service.start();
    await park(message('T', 1, 'a'));
    clock.advance(300);
    await park(message('T', 1, 'b'));
    await Promise.resolve();
    clock.advance(699);
    await service.runOnce();
    expect(store.messagesIn('T', 2)).toHaveLength(0);
    clock.advance(1);
    await service.runOnce();
    expect(store.messagesIn('T', 2).map((m) => m.body.toString())).toEqual(['a']);
    clock.advance(300);
    await service.runOnce();
    await service.runOnce();
    expect(store.messagesIn('T', 2).map((m) => m.body.toString())).toEqual(['a', 'b']);
    expect(service.offsetTable()).toEqual({ '1': 2, '2': 0 });
  });

  it('bounds the work per pass', async () => {
    const clock = new ManualClock(0);
    const { store, service, park } = setup('1s', clock, { maxDeliverPerTick: 2 });
    for (let i = 0; i < 5; i++) await park(message('T', 1, `m${i}`));
    service.start();
    clock.advance(1000);
    await service.runOnce();
    expect(store.messagesIn('T', 2)).toHaveLength(2);
    await service.runOnce();
    await service.runOnce();
    expect(store.messagesIn('T', 2).map((m) => m.body.toString())).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  it('retries a failed put after the back-off without moving the cursor', async () => {
    const clock = new ManualClock(0);
    const { store, service, park } = setup('1s', clock, { retryBackoffMs: 500 });
    await park(message('T', 1, 'x'));
    service.start();
    clock.advance(1000);
    store.failNextPuts = 1;
    await service.runOnce();
    expect(store.messagesIn('T', 2)).toHaveLength(0);
    expect(service.offsetTable()['1']).toBe(0);
    clock.advance(499);
    await service.runOnce();
    expect(store.messagesIn('T', 2)).toHaveLength(0);
    clock.advance(1);
    await service.runOnce();
    expect(store.messagesIn('T', 2)).toHaveLength(1);
    expect(service.offsetTable()['1']).toBe(1);
  });

  it('resumes after a clean restart without loss or duplicates (progress in config/delayOffset.json)', async () => {
    const clock = new ManualClock(0);
    const first = setup('1s 2s', clock);
    for (let i = 0; i < 4; i++) {
      await first.park(message('T', 1, `one-${i}`));
      await first.park(message('T', 2, `two-${i}`));
      clock.advance(250);
    }
    first.service.start();
    // t=1250: level-1 messages parked at t=0 and t=250 are due; level 2 (2 s) has nothing due yet.
    clock.set(1250);
    await first.service.runOnce();
    const deliveredBefore = first.store.messagesIn('T', 2).map((m) => m.body.toString());
    expect(deliveredBefore).toEqual(['one-0', 'one-1']);
    await first.service.shutdown();
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'config', DELAY_OFFSET_FILE), 'utf8'));
    expect(saved).toEqual({ offsetTable: { '1': 2, '2': 0 } });

    // Same store, new service (a restarted broker).
    const second = setup('1s 2s', clock, { store: first.store });
    second.service.start();
    clock.set(10_000);
    await second.service.runOnce();
    await second.service.runOnce();
    const all = first.store.messagesIn('T', 2).map((m) => m.body.toString());
    expect(all.sort()).toEqual(['one-0', 'one-1', 'one-2', 'one-3', 'two-0', 'two-1', 'two-2', 'two-3']);
    expect(new Set(all).size).toBe(all.length);
  });

  it('skips parked records without a destination instead of blocking the level', async () => {
    const clock = new ManualClock(0);
    const { store, service } = setup('1s', clock);
    await store.putMessage({ ...message(SystemTopic.SCHEDULE, 1, 'orphan'), queueId: 0 });
    await store.putMessage({ ...message(SystemTopic.SCHEDULE, 1, 'ok'), queueId: 0, properties: { DELAY: '1', REAL_TOPIC: 'T', REAL_QID: '1' } });
    service.start();
    clock.advance(1000);
    await service.runOnce();
    expect(store.messagesIn('T', 1).map((m) => m.body.toString())).toEqual(['ok']);
    expect(service.offsetTable()['1']).toBe(2);
  });
});
