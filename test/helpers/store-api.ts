/**
 * Opens a stopped store directory with the store module itself and runs its consistency check
 * (`DefaultMessageStore#verifyConsistency`: ConsumeQueue and IndexFile against the CommitLog).
 * Complements the independent offline oracle (store-oracle.ts).
 */
import { consumeQueueEntriesPerFile, defaultBrokerSettings } from '../../broker/src/config';
import { DefaultMessageStore, type ConsistencyReport } from '../../broker/src/store/default-message-store';
import type { MessageStoreConfig } from '../../broker/src/store/types';

export function storeConfigFor(root: string, settings: Partial<Record<string, number | string>> = {}): MessageStoreConfig {
  const d = defaultBrokerSettings();
  const num = (k: string, dflt: number) => (settings[k] === undefined ? dflt : Number(settings[k]));
  return {
    storePathRootDir: root,
    mappedFileSizeCommitLog: num('mappedFileSizeCommitLog', d.mappedFileSizeCommitLog),
    mappedFileSizeConsumeQueueEntries: consumeQueueEntriesPerFile(num('mappedFileSizeConsumeQueue', d.mappedFileSizeConsumeQueue)),
    flushDiskType: 'ASYNC_FLUSH',
    flushIntervalCommitLogMs: d.flushIntervalCommitLog,
    syncFlushTimeoutMs: d.syncFlushTimeout,
    maxMessageSize: num('maxMessageSize', d.maxMessageSize),
    fileReservedTimeHours: d.fileReservedTime,
    deleteWhen: d.deleteWhen,
    diskMaxUsedSpaceRatio: 95,
    messageDelayLevel: String(settings.messageDelayLevel ?? d.messageDelayLevel),
    maxHashSlotNum: num('maxHashSlotNum', d.maxHashSlotNum),
    maxIndexNum: num('maxIndexNum', d.maxIndexNum),
    storeHost: { host: '127.0.0.1', port: 10911 },
  };
}

/** Opens the store at `root` (settings as given to the broker), verifies, and shuts it down again. */
export async function verifyWithStoreApi(root: string, settings: Partial<Record<string, number | string>> = {}): Promise<ConsistencyReport> {
  // A huge used-space ratio guard would refuse nothing here; we only read.
  const store = new DefaultMessageStore(storeConfigFor(root, settings), { diskUsedRatio: () => 0 });
  await store.start();
  try {
    return store.verifyConsistency();
  } finally {
    await store.shutdown();
  }
}
