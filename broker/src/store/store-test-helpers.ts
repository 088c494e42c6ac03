/** Shared fixtures for the store specs (not used by production code). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { DEFAULT_MESSAGE_DELAY_LEVEL } from '../config';
import { DefaultMessageStore, type DefaultMessageStoreOptions } from './default-message-store';
import type { MessageStoreConfig, PutMessageRequest } from './types';

export function tempStoreDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'rocketry-store-'));
}

export function testStoreConfig(root: string, overrides: Partial<MessageStoreConfig> = {}): MessageStoreConfig {
  return {
    storePathRootDir: root,
    mappedFileSizeCommitLog: 64 * 1024,
    mappedFileSizeConsumeQueueEntries: 64,
    flushDiskType: 'ASYNC_FLUSH',
    flushIntervalCommitLogMs: 50,
    syncFlushTimeoutMs: 5000,
    maxMessageSize: 16 * 1024,
    fileReservedTimeHours: 72,
    deleteWhen: 4,
    diskMaxUsedSpaceRatio: 90,
    messageDelayLevel: DEFAULT_MESSAGE_DELAY_LEVEL,
    maxHashSlotNum: 64,
    maxIndexNum: 256,
    storeHost: { host: '127.0.0.1', port: 10911 },
    ...overrides,
  };
}

export function testMessage(topic: string, queueId: number, body: string | Buffer, properties: Record<string, string> = {}, extra: Partial<PutMessageRequest> = {}): PutMessageRequest {
  return {
    topic,
    queueId,
    flag: 0,
    body: typeof body === 'string' ? Buffer.from(body) : body,
    properties,
    sysFlag: 0,
    bornTimestamp: 1_700_000_000_000,
    bornHost: { host: '10.0.0.5', port: 51000 },
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    ...extra,
  };
}

export interface TempStore {
  /** This test's store directory (a fresh temp dir per test). */
  readonly dir: string;
  /** The store `open` started last; shut down after the test. Set undefined once a test shut it down or abandoned it. */
  store: DefaultMessageStore | undefined;
  /** Starts a DefaultMessageStore on `dir` with testStoreConfig, the `base` settings, then `overrides`. */
  open(overrides?: Partial<MessageStoreConfig>, options?: DefaultMessageStoreOptions): Promise<DefaultMessageStore>;
}

/**
 * Per-test store lifecycle for a `describe` block: a fresh temp dir before each test; after it, the
 * open store shut down and the dir removed.
 */
export function useTempStore(base: Partial<MessageStoreConfig> = {}): TempStore {
  let dir = '';
  const env: TempStore = {
    get dir() {
      return dir;
    },
    store: undefined,
    async open(overrides = {}, options = {}) {
      const store = new DefaultMessageStore(testStoreConfig(dir, { ...base, ...overrides }), options);
      env.store = store;
      await store.start();
      return store;
    },
  };
  beforeEach(() => {
    dir = tempStoreDir();
  });
  afterEach(async () => {
    await env.store?.shutdown();
    env.store = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return env;
}
