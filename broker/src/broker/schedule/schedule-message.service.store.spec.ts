/** The schedule service over the real DefaultMessageStore, across a clean restart on the same data. */
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { parseDelayLevels } from '../../config';
import { decodeMessageRecord, type MessageRecord } from '../../protocol/message-record';
import { DefaultMessageStore } from '../../store/default-message-store';
import { tempStoreDir, testMessage, testStoreConfig } from '../../store/store-test-helpers';
import { SystemTopic } from '../constants';
import { storeMessageWithRouting } from '../message-routing';
import { ScheduleMessageService } from './schedule-message.service';

const LEVELS = '100ms 1500ms';

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function messagesIn(store: DefaultMessageStore, topic: string, queueId: number): MessageRecord[] {
  return store.getMessage(topic, queueId, 0, 100).records.map((buf) => decodeMessageRecord(buf).record);
}
const bodiesIn = (store: DefaultMessageStore, topic: string, queueId: number): string[] =>
  messagesIn(store, topic, queueId).map((m) => m.body.toString());

describe('ScheduleMessageService with DefaultMessageStore', () => {
  const dirs: string[] = [];
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  async function open(dir: string) {
    const store = new DefaultMessageStore(testStoreConfig(dir, { messageDelayLevel: LEVELS }));
    await store.start();
    const service = new ScheduleMessageService({ store, settings: { messageDelayLevel: LEVELS, storePathRootDir: dir } });
    service.start();
    const stop = async () => {
      await service.shutdown();
      await store.shutdown();
    };
    stops.push(stop);
    return { store, service, stop };
  }

  it('delivers due messages, and after a clean restart the rest, each exactly once', async () => {
    const dir = tempStoreDir();
    dirs.push(dir);
    const delayLevelsMs = parseDelayLevels(LEVELS);
    const first = await open(dir);
    const parkedAt = Date.now();
    for (let i = 0; i < 3; i++) {
      await storeMessageWithRouting({ store: first.store, delayLevelsMs }, testMessage('T', 1, `msg-fast-${i}`, { TAGS: 'a', DELAY: '1' }));
    }
    for (let i = 0; i < 2; i++) {
      await storeMessageWithRouting({ store: first.store, delayLevelsMs }, testMessage('T', 1, `msg-slow-${i}`, { TAGS: 'b', DELAY: '2' }));
    }
    expect(first.store.getMaxOffsetInQueue(SystemTopic.SCHEDULE, 0)).toBe(3);
    expect(first.store.getMaxOffsetInQueue(SystemTopic.SCHEDULE, 1)).toBe(2);

    await waitFor(() => first.store.getMaxOffsetInQueue('T', 1) === 3);
    expect(Date.now() - parkedAt).toBeGreaterThanOrEqual(99);
    expect(bodiesIn(first.store, 'T', 1)).toEqual(['msg-fast-0', 'msg-fast-1', 'msg-fast-2']);
    const delivered = messagesIn(first.store, 'T', 1)[0];
    expect(delivered?.properties).toMatchObject({ TAGS: 'a', REAL_TOPIC: 'T', REAL_QID: '1' });
    expect(delivered?.properties.DELAY).toBeUndefined();
    await first.stop();
    stops.length = 0;

    const second = await open(dir);
    expect(second.service.offsetTable()).toEqual({ '1': 3, '2': 0 });
    await waitFor(() => second.store.getMaxOffsetInQueue('T', 1) === 5, 5000);
    await new Promise((r) => setTimeout(r, 250)); // nothing more arrives
    expect(bodiesIn(second.store, 'T', 1)).toEqual(['msg-fast-0', 'msg-fast-1', 'msg-fast-2', 'msg-slow-0', 'msg-slow-1']);
  });
});
