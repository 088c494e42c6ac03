/**
 * IndexService: the set of IndexFiles in `<root>/index/` (named yyyyMMddHHmmssSSS, local time of
 * creation). Builds `topic#UNIQ_KEY` and `topic#<each KEYS token>` entries for dispatched records
 * (ROLLBACK records excluded), rolls to a new file when one is full, and answers key lookups
 * newest file first.
 */
import path from 'node:path';
import type { Logger } from '../../common/logger';
import { MessageConst, MessageSysFlag } from '../../protocol/message-const';
import { continueJavaStringHash, javaStringHashCode } from '../../protocol/tag-hash';
import type { StoreFs } from '../fs/store-fs';
import { IndexFile } from './index-file';

/** What the checkpoint remembers about the index: entries of `file` below `count` are durable. */
export interface IndexCheckpoint {
  file: string;
  count: number;
  /** CommitLog offset up to which every record is indexed. */
  coveredOffset: number;
}

/** RocketMQ `indexKeyHashMethod` of `topic#key`: abs(String.hashCode), clamped to 0 for Integer.MIN_VALUE. */
export function indexKeyHash(topic: string, key: string, topicPrefixHash = javaStringHashCode(`${topic}#`)): number {
  const abs = Math.abs(continueJavaStringHash(topicPrefixHash, key));
  return abs > 0x7fffffff ? 0 : abs;
}

/** Calls `visit` with each key a record is indexed under: UNIQ_KEY and every space-separated KEYS token. */
function forEachIndexKey(properties: Record<string, string>, visit: (key: string) => void): void {
  const uniq = properties[MessageConst.UNIQ_KEY];
  if (uniq) visit(uniq);
  const keys = properties[MessageConst.KEYS];
  if (keys) for (const k of keys.split(MessageConst.KEY_SEPARATOR)) if (k.length > 0) visit(k);
}

/** Keys a record is indexed under: UNIQ_KEY and every space-separated KEYS token. */
export function indexKeysOf(properties: Record<string, string>): string[] {
  const out: string[] = [];
  forEachIndexKey(properties, (key) => out.push(key));
  return out;
}

function formatIndexName(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}${p(d.getMilliseconds(), 3)}`;
}

const INDEX_NAME_RE = /^\d{17,}$/;

export class IndexService {
  private files: IndexFile[] = [];
  /** CommitLog offset up to which records have been handed to the index. */
  coveredOffset = 0;
  /** Hash of `topic#` for the last topic indexed (consecutive records mostly share a topic). */
  private lastTopic = '';
  private lastTopicPrefixHash = 0;

  constructor(
    readonly dir: string,
    readonly slotNum: number,
    readonly maxIndexNum: number,
    private readonly fs: StoreFs,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /**
   * Opens the index files and rolls them back to the checkpoint: files newer than the
   * checkpointed one are deleted, the checkpointed file keeps its durable entries (slots rebuilt
   * when `rebuild`). No usable checkpoint → everything is deleted and rebuilt from the CommitLog.
   */
  load(cp: IndexCheckpoint | undefined, rebuild: boolean): void {
    this.fs.mkdirp(this.dir);
    const names = this.fs.readdir(this.dir).filter((n) => INDEX_NAME_RE.test(n)).sort(compareNames);
    if (cp && cp.file === '') {
      // Checkpointed before any index file existed: files now present are all newer; rebuild them.
      for (const n of names) this.fs.unlink(path.join(this.dir, n));
      this.coveredOffset = cp.coveredOffset;
      return;
    }
    if (!cp || !names.includes(cp.file)) {
      if (names.length > 0) this.logger.warn({ files: names.length }, 'index files do not match the checkpoint; rebuilding the index');
      for (const n of names) this.fs.unlink(path.join(this.dir, n));
      this.coveredOffset = 0;
      return;
    }
    for (const n of names) {
      const p = path.join(this.dir, n);
      if (compareNames(n, cp.file) > 0) {
        this.fs.unlink(p);
        continue;
      }
      this.files.push(IndexFile.open(p, n, this.slotNum, this.maxIndexNum, this.fs));
    }
    const last = this.files[this.files.length - 1]!;
    if (rebuild || last.indexCount !== cp.count) {
      last.rebuildFromEntries(cp.count);
    } else {
      last.activate();
    }
    last.endPhyOffset = cp.coveredOffset;
    last.markCovered(cp.coveredOffset);
    this.coveredOffset = cp.coveredOffset;
  }

  /** True when no index file exists (a full rebuild from the CommitLog is needed). */
  isEmpty(): boolean {
    return this.files.length === 0;
  }

  private active(): IndexFile {
    let last = this.files[this.files.length - 1];
    if (last && !last.isFull()) {
      if (!last.isActive()) last.activate();
      return last;
    }
    if (last) last.seal();
    let name = formatIndexName(this.now());
    if (last && compareNames(name, last.name) <= 0) name = String(BigInt(last.name) + 1n);
    const created = IndexFile.create(path.join(this.dir, name), name, this.slotNum, this.maxIndexNum, this.fs);
    created.endPhyOffset = this.coveredOffset;
    created.beginPhyOffset = this.coveredOffset;
    this.files.push(created);
    last = created;
    return last;
  }

  /** Indexes one dispatched record (no-op for records already covered). */
  buildIndex(topic: string, properties: Record<string, string>, sysFlag: number, phyOffset: number, size: number, storeTimestamp: number): void {
    if (phyOffset < this.coveredOffset) return;
    if ((sysFlag & MessageSysFlag.TRANSACTION_MASK) !== MessageSysFlag.TRANSACTION_ROLLBACK_TYPE) {
      forEachIndexKey(properties, (key) => this.putKey(topic, key, phyOffset, storeTimestamp));
    }
    this.coveredOffset = phyOffset + size;
    const last = this.files[this.files.length - 1];
    if (last) last.markCovered(this.coveredOffset);
  }

  private putKey(topic: string, key: string, phyOffset: number, storeTimestamp: number): void {
    if (topic !== this.lastTopic) {
      this.lastTopic = topic;
      this.lastTopicPrefixHash = javaStringHashCode(`${topic}#`);
    }
    const hash = indexKeyHash(topic, key, this.lastTopicPrefixHash);
    let file = this.active();
    if (!file.put(hash, phyOffset, storeTimestamp)) {
      file = this.active();
      file.put(hash, phyOffset, storeTimestamp);
    }
  }

  /** Candidate CommitLog offsets for `topic#key` in [beginMs, endMs], newest first. */
  lookup(topic: string, key: string, maxNum: number, beginMs: number, endMs: number): number[] {
    const hash = indexKeyHash(topic, key);
    const out: number[] = [];
    for (let i = this.files.length - 1; i >= 0 && out.length < maxNum; i--) {
      const f = this.files[i]!;
      if (f.indexCount <= 1) continue;
      if (f.endTimestamp > 0 && f.endTimestamp + 1000 < beginMs) continue;
      f.lookup(hash, maxNum, beginMs, endMs, out);
    }
    return out;
  }

  lastUpdate(): { timestamp: number; phyOffset: number } {
    const last = this.files[this.files.length - 1];
    return { timestamp: last?.endTimestamp ?? 0, phyOffset: last?.endPhyOffset ?? 0 };
  }

  /** Writes buffered entries/slots/header of the active file (page cache). */
  flush(): void {
    this.files[this.files.length - 1]?.flush();
  }

  /** Makes the index durable and returns what the checkpoint may record. */
  async datasync(): Promise<IndexCheckpoint> {
    const last = this.files[this.files.length - 1];
    const covered = this.coveredOffset;
    if (!last) return { file: '', count: 0, coveredOffset: covered };
    const snapshot = { file: last.name, count: last.indexCount, coveredOffset: covered };
    // Sealed files are flushed when sealed; datasync is a no-op for files with nothing unsynced.
    await Promise.all(this.files.map((f) => f.datasync()));
    return snapshot;
  }

  datasyncSync(): IndexCheckpoint {
    const last = this.files[this.files.length - 1];
    if (!last) return { file: '', count: 0, coveredOffset: this.coveredOffset };
    for (const f of this.files) f.datasyncSync();
    return { file: last.name, count: last.indexCount, coveredOffset: this.coveredOffset };
  }

  /** Retention: deletes files (never the newest) that only cover CommitLog data below `minPhyOffset`. */
  deleteBefore(minPhyOffset: number): number {
    let deleted = 0;
    while (this.files.length > 1) {
      const f = this.files[0]!;
      if (f.endPhyOffset > minPhyOffset) break;
      f.destroy();
      this.files.shift();
      deleted++;
    }
    return deleted;
  }

  fileCount(): number {
    return this.files.length;
  }

  /** Closes the files; `flush` false drops buffered entries (crash simulation). */
  close(flush = true): void {
    for (const f of this.files) {
      if (flush) f.flush();
      f.close();
    }
    this.files = [];
  }
}

function compareNames(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
