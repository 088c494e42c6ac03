/**
 * Consumer offset stores (Java OffsetStore): an in-memory table of committed offsets per queue, and
 * where it is persisted — the broker (CLUSTERING, RemoteBrokerOffsetStore) or a local file
 * (BROADCASTING, LocalFileOffsetStore).
 *
 * Offsets in the table only move forward unless a caller asks otherwise (offset reset, OFFSET_MOVED).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { persistJsonFile } from '@rocketry/broker/common/config-file';
import { messageQueueKey, type MessageQueue } from '@rocketry/broker/protocol';

/** Result of reading an offset from where it is persisted. */
export type StoredOffset = { found: true; offset: number } | { found: false };

export interface OffsetStore {
  /** Reads persisted offsets (local file); no-op for the broker store. */
  load(): Promise<void>;
  /** Sets the in-memory offset; with `increaseOnly` a smaller value is ignored. */
  updateOffset(mq: MessageQueue, offset: number, increaseOnly: boolean): void;
  /** In-memory offset, or undefined. */
  readMemory(mq: MessageQueue): number | undefined;
  /** Reads the persisted offset (the broker's or the file's) and caches it in memory. Throws on I/O errors. */
  readStore(mq: MessageQueue): Promise<StoredOffset>;
  /** Persists the offsets of `mqs` (those known in memory). Best effort: errors are reported, not thrown. */
  persistAll(mqs: readonly MessageQueue[]): Promise<void>;
  /** Persists one queue's offset and waits until it is stored (before an orderly unlock). */
  persist(mq: MessageQueue): Promise<void>;
  /** Forgets a queue (after the rebalance dropped it and its offset was persisted). */
  removeOffset(mq: MessageQueue): void;
}

interface OffsetEntry {
  mq: MessageQueue;
  offset: number;
}

/** In-memory table shared by both stores. */
abstract class MemoryOffsetTable {
  protected readonly table = new Map<string, OffsetEntry>();

  updateOffset(mq: MessageQueue, offset: number, increaseOnly: boolean): void {
    if (offset < 0) return;
    const key = messageQueueKey(mq);
    const cur = this.table.get(key);
    if (!cur) {
      this.table.set(key, { mq: { ...mq }, offset });
    } else if (!increaseOnly || offset > cur.offset) {
      cur.offset = offset;
    }
  }

  readMemory(mq: MessageQueue): number | undefined {
    return this.table.get(messageQueueKey(mq))?.offset;
  }

  removeOffset(mq: MessageQueue): void {
    this.table.delete(messageQueueKey(mq));
  }
}

/** Broker calls the remote store needs (wired to MQClientAPI by the push consumer). */
export interface RemoteOffsetApi {
  /** QUERY_CONSUMER_OFFSET; undefined for QUERY_NOT_FOUND (22). Throws on other failures. */
  queryOffset(mq: MessageQueue): Promise<number | undefined>;
  /** UPDATE_CONSUMER_OFFSET; `oneway` for the periodic commit, awaited before an unlock. */
  updateOffset(mq: MessageQueue, offset: number, oneway: boolean): Promise<void>;
}

/** CLUSTERING: offsets live at the broker (`RemoteBrokerOffsetStore`). */
export class RemoteBrokerOffsetStore extends MemoryOffsetTable implements OffsetStore {
  /** Last value sent per queue; unchanged offsets are re-sent only every `resendEveryPersists` rounds. */
  private readonly lastPersisted = new Map<string, number>();
  private persistRound = 0;

  constructor(
    private readonly api: RemoteOffsetApi,
    private readonly onError: (err: unknown, mq: MessageQueue) => void = () => undefined,
    private readonly resendEveryPersists = 12,
  ) {
    super();
  }

  async load(): Promise<void> {
    // Nothing local: offsets are read from the broker per queue.
  }

  async readStore(mq: MessageQueue): Promise<StoredOffset> {
    const offset = await this.api.queryOffset(mq);
    if (offset === undefined || offset < 0) return { found: false };
    this.updateOffset(mq, offset, false);
    this.lastPersisted.set(messageQueueKey(mq), offset);
    return { found: true, offset };
  }

  async persistAll(mqs: readonly MessageQueue[]): Promise<void> {
    const resendAll = this.persistRound++ % this.resendEveryPersists === 0;
    const jobs: Array<Promise<void>> = [];
    for (const mq of mqs) {
      const key = messageQueueKey(mq);
      const entry = this.table.get(key);
      if (!entry) continue;
      if (!resendAll && this.lastPersisted.get(key) === entry.offset) continue;
      const offset = entry.offset;
      jobs.push(
        // Through a promise so a synchronous throw (no broker address) is reported like the rest.
        Promise.resolve()
          .then(() => this.api.updateOffset(mq, offset, true))
          .then(
          () => {
            this.lastPersisted.set(key, offset);
          },
          (err: unknown) => this.onError(err, mq),
        ),
      );
    }
    await Promise.all(jobs);
  }

  async persist(mq: MessageQueue): Promise<void> {
    const key = messageQueueKey(mq);
    const entry = this.table.get(key);
    if (!entry) return;
    try {
      await this.api.updateOffset(mq, entry.offset, false);
      this.lastPersisted.set(key, entry.offset);
    } catch (err) {
      this.onError(err, mq);
    }
  }

  override removeOffset(mq: MessageQueue): void {
    super.removeOffset(mq);
    this.lastPersisted.delete(messageQueueKey(mq));
  }
}

interface OffsetFileBody {
  offsetTable: Record<string, { topic: string; brokerName: string; queueId: number; offset: number }>;
}

/**
 * BROADCASTING: offsets in `<dir>/offsets.json`, written atomically (temp file + rename) so a crash
 * leaves either the old or the new table, never a torn one.
 */
export class LocalFileOffsetStore extends MemoryOffsetTable implements OffsetStore {
  readonly filePath: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    dir: string,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    super();
    this.filePath = path.join(dir, 'offsets.json');
  }

  async load(): Promise<void> {
    const body = await this.readFile();
    for (const e of Object.values(body?.offsetTable ?? {})) {
      if (typeof e.offset === 'number' && e.offset >= 0) this.updateOffset({ topic: e.topic, brokerName: e.brokerName, queueId: e.queueId }, e.offset, false);
    }
  }

  async readStore(mq: MessageQueue): Promise<StoredOffset> {
    const body = await this.readFile();
    const e = body?.offsetTable[messageQueueKey(mq)];
    if (!e || typeof e.offset !== 'number' || e.offset < 0) return { found: false };
    this.updateOffset(mq, e.offset, false);
    return { found: true, offset: e.offset };
  }

  /** Writes the whole table (every queue known, not only `mqs`: other queues' progress must survive). */
  async persistAll(_mqs: readonly MessageQueue[]): Promise<void> {
    await this.writeTable();
  }

  async persist(_mq: MessageQueue): Promise<void> {
    await this.writeTable();
  }

  private writeTable(): Promise<void> {
    // Serialise writes behind earlier ones, so an older table never lands last.
    const next = this.writing.then(() => this.writeNow()).catch((err: unknown) => this.onError(err));
    this.writing = next;
    return next;
  }

  private writeNow(): void {
    const body: OffsetFileBody = { offsetTable: {} };
    for (const [key, e] of this.table) body.offsetTable[key] = { topic: e.mq.topic, brokerName: e.mq.brokerName, queueId: e.mq.queueId, offset: e.offset };
    // The broker's atomic writer (tmp + fsync + rename, previous table kept as offsets.json.bak, like Java's
    // MixAll.string2File). Sync I/O: a tiny file, written once per persist interval.
    persistJsonFile(this.filePath, body);
  }

  private async readFile(): Promise<OffsetFileBody | undefined> {
    let text: string;
    try {
      text = await fs.promises.readFile(this.filePath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const parsed = JSON.parse(text) as Partial<OffsetFileBody>;
    return { offsetTable: parsed.offsetTable ?? {} };
  }
}
