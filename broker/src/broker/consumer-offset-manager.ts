/**
 * Committed consumer offsets (`ConsumerOffsetManager.java`), keyed `topic@group` → {queueId: offset},
 * persisted to `<root>/config/consumerOffset.json` every `persistIntervalMs` (5 s, like the Java
 * broker's `flushConsumerOffsetInterval`) when something changed, and on shutdown.
 * A negative offset means "nothing stored": ali-ons commits -1 for queues it never consumed.
 */
import type { Logger } from '../common/logger';
import { silentLogger } from '../common/logger';
import { configFilePath, loadJsonFile, persistJsonFile } from '../common/config-file';

export const TOPIC_GROUP_SEPARATOR = '@';
export const DEFAULT_OFFSET_PERSIST_INTERVAL_MS = 5_000;

interface ConsumerOffsetFile {
  offsetTable: Record<string, Record<string, number>>;
}

export class ConsumerOffsetManager {
  /** `topic@group` → queueId → offset. */
  private readonly offsetTable = new Map<string, Map<number, number>>();
  private readonly filePath: string;
  private readonly logger: Logger;
  private readonly persistIntervalMs: number;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(storePathRootDir: string, opts: { logger?: Logger; persistIntervalMs?: number } = {}) {
    this.filePath = configFilePath(storePathRootDir, 'consumerOffset.json');
    this.logger = opts.logger ?? silentLogger;
    this.persistIntervalMs = opts.persistIntervalMs ?? DEFAULT_OFFSET_PERSIST_INTERVAL_MS;
  }

  load(): void {
    const stored = loadJsonFile<ConsumerOffsetFile>(this.filePath);
    if (!stored?.offsetTable) return;
    for (const [key, queues] of Object.entries(stored.offsetTable)) {
      const map = new Map<number, number>();
      for (const [qid, offset] of Object.entries(queues)) {
        const queueId = Number(qid);
        if (Number.isInteger(queueId) && typeof offset === 'number' && Number.isFinite(offset)) map.set(queueId, offset);
      }
      this.offsetTable.set(key, map);
    }
  }

  /** Starts the periodic persist (timer is unref'd so it never keeps the process alive). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.persistIfDirty(), this.persistIntervalMs);
    this.timer.unref();
  }

  /** Stops the timer and writes the table once more. */
  shutdown(): void {
    this.stop();
    this.persist();
  }

  /** Stops the timer without writing. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  persistIfDirty(): void {
    if (!this.dirty) return;
    try {
      this.persist();
    } catch (err) {
      this.logger.error({ err }, 'persisting consumer offsets failed');
    }
  }

  persist(): void {
    const offsetTable: Record<string, Record<string, number>> = {};
    for (const [key, queues] of this.offsetTable) {
      const q: Record<string, number> = {};
      for (const [qid, offset] of queues) q[String(qid)] = offset;
      offsetTable[key] = q;
    }
    this.dirty = false;
    persistJsonFile(this.filePath, { offsetTable } satisfies ConsumerOffsetFile);
  }

  commitOffset(clientHost: string, group: string, topic: string, queueId: number, offset: number): void {
    const key = topic + TOPIC_GROUP_SEPARATOR + group;
    let queues = this.offsetTable.get(key);
    if (!queues) {
      queues = new Map();
      this.offsetTable.set(key, queues);
    }
    const prev = queues.get(queueId);
    if (prev !== undefined && offset < prev && offset >= 0) {
      // Java logs this too: a consumer moving backwards is legal (reset), but worth a trace.
      this.logger.debug({ clientHost, group, topic, queueId, prev, offset }, 'consumer offset moved backwards');
    }
    queues.set(queueId, offset);
    this.dirty = true;
  }

  /** The committed offset, or -1 when nothing (or a negative value) is stored. */
  queryOffset(group: string, topic: string, queueId: number): number {
    const offset = this.offsetTable.get(topic + TOPIC_GROUP_SEPARATOR + group)?.get(queueId);
    return offset === undefined || offset < 0 ? -1 : offset;
  }

  /** queueId → offset of one group on one topic (empty map when none). */
  queryOffsets(group: string, topic: string): Map<number, number> {
    return new Map(this.offsetTable.get(topic + TOPIC_GROUP_SEPARATOR + group) ?? []);
  }

  /** Topics a group has committed offsets for. */
  whichTopicByConsumer(group: string): Set<string> {
    const out = new Set<string>();
    for (const key of this.offsetTable.keys()) {
      const at = key.lastIndexOf(TOPIC_GROUP_SEPARATOR);
      if (at > 0 && key.slice(at + 1) === group) out.add(key.slice(0, at));
    }
    return out;
  }

  /** Groups that have committed offsets for a topic. */
  whichGroupByTopic(topic: string): Set<string> {
    const out = new Set<string>();
    for (const key of this.offsetTable.keys()) {
      const at = key.lastIndexOf(TOPIC_GROUP_SEPARATOR);
      if (at > 0 && key.slice(0, at) === topic) out.add(key.slice(at + 1));
    }
    return out;
  }

  /** Drops every group's offsets for a topic (topic deletion). */
  cleanOffsetByTopic(topic: string): void {
    for (const key of [...this.offsetTable.keys()]) {
      const at = key.lastIndexOf(TOPIC_GROUP_SEPARATOR);
      if (at > 0 && key.slice(0, at) === topic) {
        this.offsetTable.delete(key);
        this.dirty = true;
      }
    }
  }
}
