import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { messageQueueKey, type MessageQueue } from '@rocketry/broker/protocol';
import { LocalFileOffsetStore, RemoteBrokerOffsetStore, type RemoteOffsetApi } from './offset-store';

const q0: MessageQueue = { topic: 'T', brokerName: 'b', queueId: 0 };
const q1: MessageQueue = { topic: 'T', brokerName: 'b', queueId: 1 };

function fakeApi(stored: Record<string, number> = {}) {
  const updates: Array<{ key: string; offset: number; oneway: boolean }> = [];
  let failUpdates = false;
  const api: RemoteOffsetApi = {
    queryOffset: async (mq) => stored[messageQueueKey(mq)],
    updateOffset: async (mq, offset, oneway) => {
      if (failUpdates) throw new Error('broker down');
      updates.push({ key: messageQueueKey(mq), offset, oneway });
      stored[messageQueueKey(mq)] = offset;
    },
  };
  return { api, updates, stored, setFail: (v: boolean) => (failUpdates = v) };
}

describe('RemoteBrokerOffsetStore', () => {
  it('reads the broker offset (not found → found:false) and keeps offsets increase-only', async () => {
    const { api } = fakeApi({ [messageQueueKey(q0)]: 7 });
    const store = new RemoteBrokerOffsetStore(api);
    expect(await store.readStore(q0)).toEqual({ found: true, offset: 7 });
    expect(await store.readStore(q1)).toEqual({ found: false });
    store.updateOffset(q0, 5, true);
    expect(store.readMemory(q0)).toBe(7);
    store.updateOffset(q0, 9, true);
    expect(store.readMemory(q0)).toBe(9);
    store.updateOffset(q0, 3, false);
    expect(store.readMemory(q0)).toBe(3);
  });

  it('persistAll sends changed offsets oneway, re-sends unchanged ones only periodically, and reports errors', async () => {
    const { api, updates, setFail } = fakeApi();
    const errors: unknown[] = [];
    const store = new RemoteBrokerOffsetStore(api, (err) => errors.push(err), 3);
    store.updateOffset(q0, 10, true);
    store.updateOffset(q1, 20, true);
    await store.persistAll([q0, q1]);
    expect(updates).toEqual([
      { key: messageQueueKey(q0), offset: 10, oneway: true },
      { key: messageQueueKey(q1), offset: 20, oneway: true },
    ]);
    store.updateOffset(q0, 11, true);
    await store.persistAll([q0, q1]);
    expect(updates.slice(2)).toEqual([{ key: messageQueueKey(q0), offset: 11, oneway: true }]);
    await store.persistAll([q0, q1]); // round 3: nothing changed
    expect(updates.length).toBe(3);
    await store.persistAll([q0]); // round 4 = resend round; only the queues asked for
    expect(updates.slice(3)).toEqual([{ key: messageQueueKey(q0), offset: 11, oneway: true }]);
    setFail(true);
    store.updateOffset(q0, 12, true);
    await store.persistAll([q0]);
    expect(errors.length).toBe(1);
  });

  it('persist(mq) waits for the broker reply (before an orderly unlock)', async () => {
    const { api, updates } = fakeApi();
    const store = new RemoteBrokerOffsetStore(api);
    store.updateOffset(q0, 4, true);
    await store.persist(q0);
    expect(updates).toEqual([{ key: messageQueueKey(q0), offset: 4, oneway: false }]);
    store.removeOffset(q0);
    expect(store.readMemory(q0)).toBeUndefined();
    await store.persist(q0);
    expect(updates.length).toBe(1);
  });
});

describe('LocalFileOffsetStore', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  const tmp = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rocketry-offsets-'));
    dirs.push(d);
    return path.join(d, 'nested', 'group');
  };

  it('persists atomically and a new store reads the offsets back', async () => {
    const dir = tmp();
    const a = new LocalFileOffsetStore(dir);
    await a.load();
    expect(await a.readStore(q0)).toEqual({ found: false });
    a.updateOffset(q0, 42, true);
    a.updateOffset(q1, 7, true);
    await Promise.all([a.persistAll([q0]), a.persistAll([q0, q1])]);
    // no temp file left behind; the previous table is kept as .bak (the broker's atomic writer)
    expect(fs.readdirSync(dir).sort()).toEqual(['offsets.json', 'offsets.json.bak']);
    const b = new LocalFileOffsetStore(dir);
    await b.load();
    expect(b.readMemory(q0)).toBe(42);
    expect(await b.readStore(q1)).toEqual({ found: true, offset: 7 });
  });

  it('a corrupt file is an error for load (never silently restart from scratch)', async () => {
    const dir = tmp();
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'offsets.json'), '{"offsetTable": {');
    await expect(new LocalFileOffsetStore(dir).load()).rejects.toThrow();
  });
});
