/**
 * DefaultMessageStore: CommitLog + ConsumeQueues + IndexFiles, the dispatcher that derives the
 * latter from the former, flush (async periodic / sync group commit), crash recovery, retention and
 * the disk guard. Layout under `storePathRootDir`:
 *
 *   commitlog/<20-digit offset>              fixed-size segments
 *   consumequeue/<topic>/<queueId>/<offset>  20-byte units
 *   index/<yyyyMMddHHmmssSSS>                hash index files
 *   checkpoint                               durable positions (two CRC'd slots)
 *   abort                                    exists while running; left behind by a crash
 *   config/*.json                            broker config files (config-file.ts)
 *
 * Hot path: putMessages assigns physical offset, queue offset and store time synchronously, encodes
 * into the CommitLog's turn buffer and appends CQ/index entries in memory. One setImmediate per
 * event-loop turn writes all of it (one writev) and then resolves the puts (ASYNC_FLUSH) or hands
 * them to group commit (SYNC_FLUSH: resolved after the fdatasync that covers them).
 */
import nodeFs from 'node:fs';
import path from 'node:path';
import { systemClock, type Clock } from '../common/clock';
import { silentLogger, type Logger } from '../common/logger';
import { parseDelayLevels } from '../config';
import { MessageConst, MessageSysFlag, TopicNames } from '../protocol/message-const';
import { createOffsetMessageId } from '../protocol/message-id';
import {
  HostAddressError,
  MAX_PROPERTIES_BYTES,
  MessageRecordError,
  RecordOffset,
  RecordStatus,
  checkRecordAt,
  decodeMessageRecord,
  encodeProperties,
  propertiesProblem,
  prepareMessageRecord,
  readInt64,
  readRecordProperties,
  storeTimestampPosition,
  writePreparedRecord,
  type MessageRecord,
  type PreparedRecord,
} from '../protocol/message-record';
import { tagsCode as tagsHashCode } from '../protocol/tag-hash';
import { Checkpoint, type CheckpointData } from './checkpoint';
import { CommitLog } from './commit-log/commit-log';
import { CQ_PAD_SIZE, CQ_UNIT_BYTES, ConsumeQueue, decodeUnit } from './consume-queue/consume-queue';
import { realStoreFs, type StoreFs } from './fs/store-fs';
import { IndexService, indexKeysOf } from './index/index-service';
import type {
  AppendedMessage,
  DispatchEvent,
  GetMessageResult,
  GetMessageStatus,
  MessageFilter,
  MessageStore,
  MessageStoreConfig,
  PutMessageRequest,
  PutMessageResult,
  PutMessageStatus,
  QueryMessageResult,
} from './types';

/** Max topic bytes the store accepts (V2 records beyond 127). */
export const MAX_TOPIC_BYTES = 255;

export interface DefaultMessageStoreOptions {
  clock?: Clock;
  logger?: Logger;
  /** File operations (real fs by default; memory-fs in crash specs). */
  fs?: StoreFs;
  /** Used fraction (0..1) of the filesystem holding the store; default statfs via `fs`. */
  diskUsedRatio?: (storePath: string) => number;
  /** Disk guard period. Default 10 s. */
  diskCheckIntervalMs?: number;
  /** Retention check period. Default 10 s. */
  cleanIntervalMs?: number;
  /** Max CommitLog files deleted per retention pass. Default 10. */
  deleteFilesBatchMax?: number;
  /** Pull transfer caps (RocketMQ maxTransfer*OnMessageInMemory). Defaults 256 KiB / 32. */
  maxTransferBytesPerPull?: number;
  maxTransferCountPerPull?: number;
  /** Period of CQ/index flush + checkpoint. Default flushIntervalCommitLogMs. */
  flushIntervalLogicsMs?: number;
}

export interface ConsistencyReport {
  ok: boolean;
  records: number;
  cqEntries: number;
  problems: string[];
}

interface TurnWaiter {
  result: PutMessageResult;
  resolve: (r: PutMessageResult) => void;
  endOffset: number;
}

interface SyncWaiter extends TurnWaiter {
  deadline: number;
  done: boolean;
}

const ABORT_FILE = 'abort';
const CHECKPOINT_FILE = 'checkpoint';
/** Bytes read to find STORETIMESTAMP in a record header (IPv6 born host: 68 + 8). */
const RECORD_HEAD_BYTES = 80;
/** Bound on padding written for one recovery hole. */
const MAX_RECOVERY_PAD_UNITS = 1_000_000;
/** A queue's pending CQ entries are written in the turn they reach this many (4 KiB), else at the periodic flush. */
const CQ_EAGER_WRITE_UNITS = Math.floor(4096 / CQ_UNIT_BYTES);
const MAX_PROBLEMS_REPORTED = 50;

export class StoreInUseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreInUseError';
  }
}

/** A pull reply body from `getMessage` records: one view when the store returned adjacent views of one buffer (no copy), else a concat. */
export function joinRecords(records: readonly Buffer[], totalBytes: number): Buffer {
  const first = records[0];
  if (!first) return Buffer.alloc(0);
  let end = first.byteOffset + first.length;
  for (let i = 1; i < records.length; i++) {
    const r = records[i]!;
    if (r.buffer !== first.buffer || r.byteOffset !== end) return Buffer.concat(records, totalBytes);
    end += r.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, totalBytes);
}

/** Start time of a process (Linux /proc/<pid>/stat field 22), undefined elsewhere. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = nodeFs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; starttime is field 22 overall.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

function isDispatchable(sysFlag: number): boolean {
  const t = sysFlag & MessageSysFlag.TRANSACTION_MASK;
  return t === MessageSysFlag.TRANSACTION_NOT_TYPE || t === MessageSysFlag.TRANSACTION_COMMIT_TYPE;
}

function fail(status: PutMessageStatus, reason: string): PutMessageResult {
  return { status, appended: [], reason };
}

export class DefaultMessageStore implements MessageStore {
  readonly root: string;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly fs: StoreFs;
  private readonly diskUsedRatioFn: (p: string) => number;
  private readonly delayLevelsMs: number[];
  private readonly commitLog: CommitLog;
  private readonly index: IndexService;
  private readonly checkpoint: Checkpoint;
  private readonly queues = new Map<string, Map<number, ConsumeQueue>>();
  private readonly listeners = new Set<(e: DispatchEvent) => void>();
  private readonly opts: Required<Omit<DefaultMessageStoreOptions, 'clock' | 'logger' | 'fs' | 'diskUsedRatio'>>;

  private running = false;
  /** Set once files are closed (shutdown/abandon): late async work must not touch them. */
  private closed = false;
  private writableError: string | undefined;
  private diskFullReason: string | undefined;
  private lastDiskUsedRatio = 0;

  // per-turn state
  private turnScheduled = false;
  private turnWaiters: TurnWaiter[] = [];
  private turnEvents: DispatchEvent[] = [];
  private readonly dirtyQueues = new Set<ConsumeQueue>();

  // group commit
  private syncWaiters: SyncWaiter[] = [];
  private syncing = false;
  private syncPromise: Promise<void> | null = null;

  private flushing: Promise<void> | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  /** Counters for tests/metrics. */
  readonly stats = { groupCommitSyncs: 0, turnWrites: 0, redispatchedRecords: 0 };

  constructor(
    readonly config: MessageStoreConfig,
    options: DefaultMessageStoreOptions = {},
  ) {
    this.root = config.storePathRootDir;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.fs = options.fs ?? realStoreFs;
    const fs = this.fs;
    this.diskUsedRatioFn = options.diskUsedRatio ?? ((p) => fs.diskUsedRatio(p));
    this.delayLevelsMs = parseDelayLevels(config.messageDelayLevel);
    this.opts = {
      diskCheckIntervalMs: options.diskCheckIntervalMs ?? 10_000,
      cleanIntervalMs: options.cleanIntervalMs ?? 10_000,
      deleteFilesBatchMax: options.deleteFilesBatchMax ?? 10,
      maxTransferBytesPerPull: options.maxTransferBytesPerPull ?? 256 * 1024,
      maxTransferCountPerPull: options.maxTransferCountPerPull ?? 32,
      flushIntervalLogicsMs: options.flushIntervalLogicsMs ?? config.flushIntervalCommitLogMs,
    };
    this.commitLog = new CommitLog(path.join(this.root, 'commitlog'), config.mappedFileSizeCommitLog, this.fs, this.logger);
    this.index = new IndexService(path.join(this.root, 'index'), config.maxHashSlotNum, config.maxIndexNum, this.fs, this.logger, () =>
      this.clock.now(),
    );
    this.checkpoint = new Checkpoint(path.join(this.root, CHECKPOINT_FILE), this.fs);
  }

  // ===========================================================================================
  // Lifecycle

  async start(): Promise<void> {
    if (this.running) return;
    this.closed = false;
    this.fs.mkdirp(this.root);
    this.checkNotInUse();
    this.recover();
    const start = processStartTime(process.pid);
    this.fs.writeFile(path.join(this.root, ABORT_FILE), Buffer.from(start === undefined ? `${process.pid}` : `${process.pid} ${start}`));
    this.running = true;
    this.checkDiskSpace();
    this.timers.push(setInterval(() => void this.flushLogics(), Math.max(1, this.opts.flushIntervalLogicsMs)));
    if (this.config.flushDiskType === 'ASYNC_FLUSH' && this.opts.flushIntervalLogicsMs !== this.config.flushIntervalCommitLogMs) {
      this.timers.push(setInterval(() => void this.flushCommitLogAsync(), Math.max(1, this.config.flushIntervalCommitLogMs)));
    }
    if (this.config.flushDiskType === 'SYNC_FLUSH') {
      const checkMs = Math.max(1, Math.min(100, Math.floor(this.config.syncFlushTimeoutMs / 4)));
      this.timers.push(setInterval(() => this.expireSyncWaiters(), checkMs));
    }
    this.timers.push(setInterval(() => this.checkDiskSpace(), Math.max(1, this.opts.diskCheckIntervalMs)));
    this.timers.push(setInterval(() => this.runRetention(false), Math.max(1, this.opts.cleanIntervalMs)));
    for (const t of this.timers) t.unref();
    this.logger.info(
      { root: this.root, minPhyOffset: this.getMinPhyOffset(), maxPhyOffset: this.getMaxPhyOffset(), queues: this.listQueues().length },
      'message store started',
    );
  }

  async shutdown(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    this.flushTurn();
    if (this.flushing) await this.flushing.catch(() => undefined);
    if (this.syncPromise) await this.syncPromise;
    // Everything durable, then resolve the sync waiters and write the final checkpoint.
    try {
      this.commitLog.datasyncSync();
      this.resolveSyncWaiters(this.commitLog.getFlushedOffset());
      for (const q of this.allQueues()) q.datasyncSync();
      const indexCp = this.index.datasyncSync();
      const end = this.commitLog.getMaxOffset();
      this.checkpoint.saveSync({ commitLogOffset: end, logicsOffset: end, index: indexCp, timestampMs: this.clock.now() });
    } finally {
      for (const w of this.syncWaiters) if (!w.done) w.resolve({ ...w.result, status: 'FLUSH_DISK_TIMEOUT', reason: 'store shut down' });
      this.syncWaiters = [];
      for (const q of this.allQueues()) q.close();
      this.queues.clear();
      this.index.close();
      this.commitLog.close();
      this.checkpoint.close();
      this.closed = true;
    }
    this.fs.unlink(path.join(this.root, ABORT_FILE));
    this.logger.info({ root: this.root }, 'message store shut down');
  }

  /**
   * Crash simulation for tests: stops services and closes files without flushing, checkpointing or
   * removing the abort marker — what a SIGKILL leaves behind (page-cache writes survive).
   * Pending puts are written first (as they would already be in the page cache).
   */
  abandon(): void {
    if (!this.running) return;
    this.running = false;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    try {
      this.commitLog.writePending();
      for (const q of this.dirtyQueues) q.writePending();
    } catch {
      // crash semantics: whatever made it, made it
    }
    this.dirtyQueues.clear();
    this.turnWaiters = [];
    this.syncWaiters = [];
    this.turnEvents = [];
    for (const q of this.allQueues()) q.close();
    this.queues.clear();
    this.index.close(false);
    this.commitLog.close();
    this.checkpoint.close();
  }

  isRunning(): boolean {
    return this.running;
  }

  /**
   * The abort marker holds the owner's pid: refuse to open a store another live process is using
   * (two writers would corrupt it). A dead pid means that process crashed: recover.
   */
  private checkNotInUse(): void {
    const abortPath = path.join(this.root, ABORT_FILE);
    if (!this.fs.exists(abortPath)) return;
    const fd = this.fs.open(abortPath);
    const buf = Buffer.alloc(64);
    const n = this.fs.read(fd, buf, 0, buf.length, 0);
    this.fs.close(fd);
    const [pidText, startText] = buf.toString('utf8', 0, n).trim().split(/\s+/);
    const pid = Number(pidText);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return;
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code === 'EPERM';
    }
    // A reused pid is not the owner: compare the process start time when the platform has one.
    if (alive && startText !== undefined) {
      const start = processStartTime(pid);
      if (start !== undefined && start !== startText) alive = false;
    }
    if (alive) throw new StoreInUseError(`message store ${this.root} is in use by running process ${pid}`);
  }

  // ===========================================================================================
  // Recovery

  private recover(): void {
    const abnormal = this.fs.exists(path.join(this.root, ABORT_FILE));
    const cp = this.checkpoint.load();
    this.commitLog.load();
    this.loadQueues();
    this.index.load(cp?.index, abnormal);

    const clMin = this.commitLog.getMinOffset();
    const starts = this.commitLog.segmentStarts();
    let validEnd = 0;
    if (starts.length > 0) {
      const last = starts[starts.length - 1]!;
      let from: number;
      if (!cp) from = starts[0]!;
      else if (abnormal) from = this.commitLog.segmentStartOf(Math.min(cp.commitLogOffset, last));
      else from = Math.min(cp.commitLogOffset, last + this.config.mappedFileSizeCommitLog);
      from = Math.max(from, clMin);
      validEnd = this.commitLog.scan(from, abnormal, () => undefined);
    }
    const before = starts.length > 0 ? starts[starts.length - 1]! + this.config.mappedFileSizeCommitLog : 0;
    this.commitLog.truncateTo(validEnd);
    if (abnormal) this.logger.warn({ validEnd, lastFileEnd: before }, 'abnormal shutdown detected; commitlog recovered');

    // ConsumeQueues must not point beyond the valid end.
    for (const q of this.allQueues()) this.truncateQueueBeyond(q, validEnd);
    // ...nor below the oldest CommitLog file still present (retention).
    for (const q of this.allQueues()) q.correctMinOffset(clMin);

    if (this.index.coveredOffset > validEnd) {
      // Index entries point past the valid CommitLog end (should not happen with ordered syncs): rebuild it.
      this.logger.warn({ indexCovered: this.index.coveredOffset, validEnd }, 'index is ahead of the commitlog; rebuilding it');
      this.index.close(false);
      this.index.load(undefined, true);
    }

    // Re-dispatch records the CQs/index may lack.
    let logicsFrom = cp ? cp.logicsOffset : clMin;
    if (this.allQueues().length === 0) logicsFrom = clMin;
    const indexFrom = this.index.coveredOffset;
    let from = Math.max(clMin, Math.min(logicsFrom, indexFrom));
    if (from > validEnd) from = validEnd;
    if (from < validEnd) this.redispatch(from, validEnd);

    // Make the recovered state durable before accepting writes.
    for (const q of this.allQueues()) q.datasyncSync();
    const indexCp = this.index.datasyncSync();
    this.checkpoint.saveSync({ commitLogOffset: validEnd, logicsOffset: validEnd, index: indexCp, timestampMs: this.clock.now() });
  }

  private loadQueues(): void {
    const cqRoot = path.join(this.root, 'consumequeue');
    for (const topic of this.fs.readdir(cqRoot)) {
      const topicDir = path.join(cqRoot, topic);
      if (!this.fs.isDirectory(topicDir)) continue;
      for (const qid of this.fs.readdir(topicDir)) {
        if (!/^\d+$/.test(qid)) continue;
        const q = new ConsumeQueue(cqRoot, topic, Number(qid), this.config.mappedFileSizeConsumeQueueEntries, this.fs);
        q.load();
        this.putQueue(q);
      }
    }
  }

  private truncateQueueBeyond(q: ConsumeQueue, validEnd: number): void {
    if (q.maxPhysicalEnd <= validEnd && q.maxPhysicalEnd >= 0) return;
    if (q.isEmpty()) return;
    // Entries are in CommitLog order within a queue: binary search the first one ending past validEnd.
    let lo = q.minOffset;
    let hi = q.maxOffset;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const e = q.getEntry(mid);
      if (!e || (e.size !== CQ_PAD_SIZE && e.physicalOffset + e.size > validEnd)) hi = mid;
      else lo = mid + 1;
    }
    if (lo < q.maxOffset) {
      this.logger.warn({ topic: q.topic, queueId: q.queueId, from: lo, to: q.maxOffset }, 'dropping consume queue entries beyond the commitlog end');
      q.truncateFrom(lo);
    }
  }

  private redispatch(from: number, to: number): void {
    let count = 0;
    this.commitLog.scan(
      from,
      false,
      (buf, pos, phy, size) => {
        if (phy >= to) return;
        const { record } = decodeMessageRecord(buf, pos);
        this.redispatchRecord(record, phy, size);
        count++;
      },
      true,
    );
    for (const q of this.dirtyQueues) q.writePending();
    this.dirtyQueues.clear();
    this.index.flush();
    this.stats.redispatchedRecords += count;
    if (count > 0) this.logger.info({ from, to, records: count }, 'rebuilt consume queue / index entries from the commitlog');
  }

  private redispatchRecord(record: MessageRecord, phy: number, size: number): void {
    if (isDispatchable(record.sysFlag)) {
      const q = this.getOrCreateQueue(record.topic, record.queueId);
      const qo = record.queueOffset;
      const tags = this.tagsCodeOf(record.topic, record.properties, record.storeTimestamp);
      if (qo < q.maxOffset) {
        if (qo >= q.minOffset) {
          const e = q.getEntry(qo);
          if (!e || e.physicalOffset !== phy || e.size !== size || e.tagsCode !== tags) {
            this.logger.warn({ topic: record.topic, queueId: record.queueId, queueOffset: qo }, 'consume queue entry disagrees with commitlog; rebuilding from there');
            q.truncateFrom(qo);
            q.append(phy, size, tags);
            this.dirtyQueues.add(q);
          }
        }
      } else {
        if (qo > q.maxOffset) {
          if (qo - q.maxOffset > MAX_RECOVERY_PAD_UNITS && !q.isEmpty()) {
            this.logger.error({ topic: record.topic, queueId: record.queueId, queueOffset: qo, maxOffset: q.maxOffset }, 'consume queue hole too large; skipping record');
            return;
          }
          if (!q.isEmpty()) this.logger.warn({ topic: record.topic, queueId: record.queueId, from: q.maxOffset, to: qo }, 'consume queue hole padded');
          q.padTo(qo);
        }
        q.append(phy, size, tags);
        this.dirtyQueues.add(q);
      }
    }
    this.index.buildIndex(record.topic, record.properties, record.sysFlag, phy, size, record.storeTimestamp);
  }

  // ===========================================================================================
  // Put

  putMessage(msg: PutMessageRequest): Promise<PutMessageResult> {
    return this.putMessages([msg]);
  }

  putMessages(batch: PutMessageRequest[]): Promise<PutMessageResult> {
    const refused = this.checkWritable();
    if (refused) return Promise.resolve(refused);
    if (batch.length === 0) return Promise.resolve(fail('MESSAGE_ILLEGAL', 'empty batch'));
    const first = batch[0]!;
    const preps: PreparedRecord[] = [];
    for (const msg of batch) {
      if (msg.topic !== first.topic || msg.queueId !== first.queueId) return Promise.resolve(fail('MESSAGE_ILLEGAL', 'batch messages must share topic and queue'));
      const prep = this.prepare(msg);
      if ('status' in prep) return Promise.resolve(prep);
      preps.push(prep);
    }
    let result: PutMessageResult;
    try {
      result = this.appendPrepared(batch, preps);
    } catch (err) {
      this.writableError = `commitlog append failed: ${(err as Error).message}`;
      this.logger.error({ err }, 'commitlog append failed; store is no longer writable');
      return Promise.resolve(fail('UNKNOWN_ERROR', this.writableError));
    }
    return new Promise((resolve) => {
      this.turnWaiters.push({ result, resolve, endOffset: this.commitLog.getMaxOffset() });
      this.scheduleTurn();
    });
  }

  private checkWritable(): PutMessageResult | undefined {
    if (!this.running) return fail('SERVICE_NOT_AVAILABLE', 'message store is not running');
    if (this.diskFullReason) return fail('SERVICE_NOT_AVAILABLE', this.diskFullReason);
    if (this.writableError) return fail('SERVICE_NOT_AVAILABLE', this.writableError);
    return undefined;
  }

  private prepare(msg: PutMessageRequest): PreparedRecord | PutMessageResult {
    if (msg.body.length > this.config.maxMessageSize) {
      return fail('MESSAGE_ILLEGAL', `message body ${msg.body.length} bytes exceeds maxMessageSize ${this.config.maxMessageSize}`);
    }
    const topicBytes = Buffer.byteLength(msg.topic, 'utf8');
    if (topicBytes === 0 || topicBytes > MAX_TOPIC_BYTES) return fail('MESSAGE_ILLEGAL', `topic length ${topicBytes} bytes is outside 1..${MAX_TOPIC_BYTES}`);
    if (!Number.isInteger(msg.queueId) || msg.queueId < 0) return fail('MESSAGE_ILLEGAL', `bad queueId ${msg.queueId}`);
    const propsError = propertiesProblem(msg.properties);
    if (propsError) return fail('MESSAGE_ILLEGAL', propsError);
    const propsText = encodeProperties(msg.properties);
    if (propsText.length > MAX_PROPERTIES_BYTES || Buffer.byteLength(propsText, 'utf8') > MAX_PROPERTIES_BYTES) {
      return fail('PROPERTIES_SIZE_EXCEEDED', `properties exceed ${MAX_PROPERTIES_BYTES} bytes`);
    }
    let prep: PreparedRecord;
    try {
      prep = prepareMessageRecord({
        queueId: msg.queueId,
        flag: msg.flag,
        queueOffset: 0,
        physicalOffset: 0,
        sysFlag: msg.sysFlag,
        bornTimestamp: msg.bornTimestamp,
        bornHost: msg.bornHost,
        storeTimestamp: 0,
        storeHost: this.config.storeHost,
        reconsumeTimes: msg.reconsumeTimes,
        preparedTransactionOffset: msg.preparedTransactionOffset,
        body: msg.body,
        topic: msg.topic,
        properties: propsText,
      });
    } catch (err) {
      if (err instanceof MessageRecordError) {
        return fail(err.kind === 'too-large' ? 'PROPERTIES_SIZE_EXCEEDED' : 'MESSAGE_ILLEGAL', err.message);
      }
      if (err instanceof HostAddressError) return fail('MESSAGE_ILLEGAL', err.message);
      throw err;
    }
    if (prep.totalSize + 8 > this.config.mappedFileSizeCommitLog) {
      return fail('MESSAGE_ILLEGAL', `record of ${prep.totalSize} bytes does not fit a commitlog file`);
    }
    return prep;
  }

  private appendPrepared(batch: PutMessageRequest[], preps: PreparedRecord[]): PutMessageResult {
    const now = this.clock.now();
    const appended: AppendedMessage[] = [];
    for (let i = 0; i < preps.length; i++) {
      const prep = preps[i]!;
      const msg = batch[i]!;
      const dispatch = isDispatchable(msg.sysFlag);
      const q = dispatch ? this.getOrCreateQueue(msg.topic, msg.queueId) : undefined;
      const queueOffset = q ? q.maxOffset : 0;
      const storeTimestamp = msg.storeTimestamp ?? now;
      const slot = this.commitLog.allocate(prep.totalSize);
      const input = prep.input;
      input.queueOffset = queueOffset;
      input.physicalOffset = slot.physicalOffset;
      input.storeTimestamp = storeTimestamp;
      writePreparedRecord(prep, slot.buf, slot.pos);
      // Dispatch: CQ entry + index keys, in memory now, written with the turn.
      const tags = this.tagsCodeOf(msg.topic, msg.properties, storeTimestamp);
      if (q) {
        q.append(slot.physicalOffset, prep.totalSize, tags);
        this.dirtyQueues.add(q);
        this.turnEvents.push({
          topic: msg.topic,
          queueId: msg.queueId,
          queueOffset,
          physicalOffset: slot.physicalOffset,
          size: prep.totalSize,
          tagsCode: tags,
          storeTimestamp,
          properties: msg.properties,
        });
      }
      this.index.buildIndex(msg.topic, msg.properties, msg.sysFlag, slot.physicalOffset, prep.totalSize, storeTimestamp);
      appended.push({
        physicalOffset: slot.physicalOffset,
        wroteBytes: prep.totalSize,
        queueOffset,
        msgId: createOffsetMessageId(this.config.storeHost, slot.physicalOffset),
        storeTimestamp,
      });
    }
    return { status: 'PUT_OK', appended };
  }

  /** CQ tagsCode: TAGS hash, or for SCHEDULE_TOPIC_XXXX the due time of its DELAY level. */
  tagsCodeOf(topic: string, properties: Record<string, string>, storeTimestamp: number): number {
    if (topic === TopicNames.SCHEDULE_TOPIC) {
      const level = Number.parseInt(properties[MessageConst.DELAY] ?? '', 10);
      if (level > 0) {
        const clamped = Math.min(level, this.delayLevelsMs.length);
        return storeTimestamp + (this.delayLevelsMs[clamped - 1] ?? 1000);
      }
    }
    return tagsHashCode(properties[MessageConst.TAGS]);
  }

  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    setImmediate(() => this.flushTurn());
  }

  /** End of turn: one write for the CommitLog, one per touched CQ file, then acks and dispatch events. */
  private flushTurn(): void {
    this.turnScheduled = false;
    const waiters = this.turnWaiters;
    this.turnWaiters = [];
    try {
      this.commitLog.writePending();
      this.writeQueuesDue();
      this.stats.turnWrites++;
    } catch (err) {
      this.writableError = `commitlog write failed: ${(err as Error).message}`;
      this.logger.error({ err }, 'commitlog write failed; store is no longer writable');
      for (const w of waiters) w.resolve(fail('UNKNOWN_ERROR', this.writableError));
      this.turnEvents = [];
      return;
    }
    if (this.config.flushDiskType === 'SYNC_FLUSH') {
      const deadline = this.clock.now() + this.config.syncFlushTimeoutMs;
      for (const w of waiters) this.syncWaiters.push({ ...w, deadline, done: false });
      this.kickGroupCommit();
    } else {
      for (const w of waiters) w.resolve(w.result);
    }
    const events = this.turnEvents;
    this.turnEvents = [];
    for (const e of events) this.emit(e);
  }

  /**
   * ConsumeQueue entries are derived data: recovery rebuilds what a crash lost from the CommitLog
   * (the checkpoint's logicsOffset only moves after a periodic flush), and every CQ read writes the
   * pending entries it needs first. So a queue's entries reach the page cache once a block of them
   * is ready, or at the periodic flush, instead of costing a write per queue per turn.
   */
  private writeQueuesDue(): void {
    for (const q of this.dirtyQueues) {
      if (q.pendingUnitCount >= CQ_EAGER_WRITE_UNITS) q.writePending();
      if (q.pendingUnitCount === 0) this.dirtyQueues.delete(q);
    }
  }

  private emit(e: DispatchEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.logger.error({ err }, 'dispatch listener threw');
      }
    }
  }

  // ===========================================================================================
  // Flush

  /** SYNC_FLUSH group commit: one fdatasync covers every put written before it started. */
  private kickGroupCommit(): void {
    if (this.syncing || this.syncWaiters.length === 0) return;
    this.syncing = true;
    this.stats.groupCommitSyncs++;
    this.syncPromise = this.commitLog.datasync().then(
      (flushed) => {
        this.syncing = false;
        this.resolveSyncWaiters(flushed);
        this.kickGroupCommit();
      },
      (err: unknown) => {
        this.syncing = false;
        this.logger.error({ err }, 'commitlog fdatasync failed');
        this.writableError = `commitlog fdatasync failed: ${(err as Error).message}`;
        for (const w of this.syncWaiters) if (!w.done) w.resolve({ ...w.result, status: 'FLUSH_DISK_TIMEOUT', reason: this.writableError });
        this.syncWaiters = [];
      },
    );
  }

  private resolveSyncWaiters(flushed: number): void {
    let i = 0;
    while (i < this.syncWaiters.length && this.syncWaiters[i]!.endOffset <= flushed) {
      const w = this.syncWaiters[i]!;
      if (!w.done) {
        w.done = true;
        w.resolve(w.result);
      }
      i++;
    }
    if (i > 0) this.syncWaiters.splice(0, i);
  }

  private expireSyncWaiters(): void {
    const now = this.clock.now();
    let i = 0;
    while (i < this.syncWaiters.length && this.syncWaiters[i]!.deadline <= now) {
      const w = this.syncWaiters[i]!;
      if (!w.done) {
        w.done = true;
        w.resolve({ ...w.result, status: 'FLUSH_DISK_TIMEOUT', reason: `not flushed within syncFlushTimeout ${this.config.syncFlushTimeoutMs} ms` });
      }
      i++;
    }
    if (i > 0) this.syncWaiters.splice(0, i);
  }

  private async flushCommitLogAsync(): Promise<void> {
    if (!this.running || this.writableError) return;
    try {
      await this.commitLog.datasync();
    } catch (err) {
      this.logger.error({ err }, 'commitlog periodic fdatasync failed');
    }
  }

  /**
   * Periodic flush: CommitLog (ASYNC_FLUSH), every CQ written since the last run and the index, then
   * the checkpoint recording what is now durable. Runs off the event loop except the page-cache writes.
   */
  flushLogics(): Promise<void> {
    if (!this.running) return this.flushing ?? Promise.resolve();
    if (this.flushing) {
      // A slow fsync must not let buffered index entries pile up: keep handing them to the page cache.
      this.index.flush();
      return this.flushing;
    }
    const run = (async () => {
      this.flushTurn();
      const logicsOffset = this.commitLog.getWrittenOffset();
      this.index.flush();
      const queues = this.allQueues();
      // The CommitLog is synced in both modes (shares a running group commit): the checkpoint must never
      // claim CQ/index entries durable for records that are not.
      const [clFlushed, , indexCp] = await Promise.all([
        this.commitLog.datasync(),
        Promise.all(queues.map((q) => q.datasync())),
        this.index.datasync(),
      ]);
      if (this.closed) return;
      await this.checkpoint.save({ commitLogOffset: clFlushed, logicsOffset, index: indexCp, timestampMs: this.clock.now() });
    })()
      .catch((err: unknown) => this.logger.error({ err }, 'periodic flush failed'))
      .finally(() => {
        this.flushing = null;
      });
    this.flushing = run;
    return run;
  }

  // ===========================================================================================
  // Disk guard and retention

  /** Samples disk usage; beyond diskMaxUsedSpaceRatio puts are refused (and retention runs). */
  checkDiskSpace(): number {
    let ratio: number;
    try {
      ratio = this.diskUsedRatioFn(this.root);
    } catch (err) {
      this.logger.warn({ err }, 'disk usage check failed');
      return this.lastDiskUsedRatio;
    }
    this.lastDiskUsedRatio = ratio;
    const pct = ratio * 100;
    if (pct > this.config.diskMaxUsedSpaceRatio) {
      if (!this.diskFullReason) this.logger.error({ usedPercent: pct.toFixed(1) }, 'disk is full; refusing writes');
      this.diskFullReason = `disk is full: used ${pct.toFixed(1)}% > diskMaxUsedSpaceRatio ${this.config.diskMaxUsedSpaceRatio}%`;
      if (this.running) this.runRetention(false);
    } else if (this.diskFullReason) {
      this.logger.info({ usedPercent: pct.toFixed(1) }, 'disk usage back under the limit; accepting writes');
      this.diskFullReason = undefined;
    }
    return ratio;
  }

  /** Why writes are refused, if they are. */
  getWriteRefusalReason(): string | undefined {
    return this.diskFullReason ?? this.writableError;
  }

  /**
   * Deletes CommitLog files older than fileReservedTime (never the newest), when it is `deleteWhen`
   * o'clock, the disk is over the ratio, or `force`. Then drops CQ/index files that only reference
   * deleted data. Returns the number of CommitLog files deleted.
   */
  runRetention(force: boolean): number {
    if (!this.running) return 0;
    const now = this.clock.now();
    const isTime = new Date(now).getHours() === this.config.deleteWhen;
    const isFull = this.lastDiskUsedRatio * 100 > this.config.diskMaxUsedSpaceRatio;
    if (!force && !isTime && !isFull) return 0;
    const reservedMs = this.config.fileReservedTimeHours * 3_600_000;
    this.flushTurn();
    const deleted = this.commitLog.deleteOldSegments((_start, mtimeMs) => mtimeMs + reservedMs <= now, this.opts.deleteFilesBatchMax);
    if (deleted > 0) {
      const minPhy = this.commitLog.getMinOffset();
      for (const q of this.allQueues()) q.correctMinOffset(minPhy);
      this.index.deleteBefore(minPhy);
      this.logger.info({ deleted, minPhyOffset: minPhy }, 'retention deleted expired commitlog files');
    }
    return deleted;
  }

  // ===========================================================================================
  // Read

  private allQueues(): ConsumeQueue[] {
    const out: ConsumeQueue[] = [];
    for (const m of this.queues.values()) for (const q of m.values()) out.push(q);
    return out;
  }

  private findQueue(topic: string, queueId: number): ConsumeQueue | undefined {
    return this.queues.get(topic)?.get(queueId);
  }

  private putQueue(q: ConsumeQueue): void {
    let m = this.queues.get(q.topic);
    if (!m) {
      m = new Map();
      this.queues.set(q.topic, m);
    }
    m.set(q.queueId, q);
  }

  private getOrCreateQueue(topic: string, queueId: number): ConsumeQueue {
    const found = this.findQueue(topic, queueId);
    if (found) return found;
    const q = new ConsumeQueue(path.join(this.root, 'consumequeue'), topic, queueId, this.config.mappedFileSizeConsumeQueueEntries, this.fs);
    this.putQueue(q);
    return q;
  }

  getMessage(topic: string, queueId: number, offset: number, maxMsgNums: number, filter?: MessageFilter): GetMessageResult {
    const q = this.findQueue(topic, queueId);
    if (!q) return { status: 'NO_MATCHED_LOGIC_QUEUE', nextBeginOffset: 0, minOffset: 0, maxOffset: 0, records: [], totalBytes: 0 };
    const minOffset = q.minOffset;
    const maxOffset = q.maxOffset;
    const base = { minOffset, maxOffset, records: [] as Buffer[], totalBytes: 0 };
    if (maxOffset === 0) return { ...base, status: 'NO_MESSAGE_IN_QUEUE', nextBeginOffset: 0 };
    if (offset < minOffset) return { ...base, status: 'OFFSET_TOO_SMALL', nextBeginOffset: minOffset };
    if (offset === maxOffset) return { ...base, status: 'OFFSET_OVERFLOW_ONE', nextBeginOffset: offset };
    if (offset > maxOffset) return { ...base, status: 'OFFSET_OVERFLOW_BADLY', nextBeginOffset: minOffset === 0 ? 0 : maxOffset };

    const maxFilterUnits = Math.floor(Math.max(16000, maxMsgNums * CQ_UNIT_BYTES) / CQ_UNIT_BYTES);
    const units = q.readUnits(offset, maxFilterUnits);
    if (!units) return { ...base, status: 'OFFSET_FOUND_NULL', nextBeginOffset: q.rollNextFile(offset) };

    const maxCount = Math.min(Math.max(1, maxMsgNums), this.opts.maxTransferCountPerPull);
    const maxBytes = this.opts.maxTransferBytesPerPull;
    const minPhy = this.commitLog.getMinOffset();
    let status: GetMessageStatus = 'NO_MATCHED_MESSAGE';
    // Pass 1, ConsumeQueue only: which records to send.
    const picks: Array<{ phy: number; size: number }> = [];
    let pickedBytes = 0;
    let nextPhyFileStart = -1;
    const n = units.length / CQ_UNIT_BYTES;
    let i = 0;
    for (; i < n; i++) {
      const e = decodeUnit(units, i * CQ_UNIT_BYTES);
      if (e.size === CQ_PAD_SIZE) continue;
      if (nextPhyFileStart >= 0 && e.physicalOffset < nextPhyFileStart) continue;
      if (picks.length > 0 && (picks.length >= maxCount || pickedBytes + e.size > maxBytes)) break;
      if (filter && !filter.isMatchedByConsumeQueue(e.tagsCode)) continue;
      if (e.physicalOffset < minPhy) {
        if (picks.length === 0) status = 'MESSAGE_WAS_REMOVING';
        nextPhyFileStart = this.commitLog.rollNextFile(e.physicalOffset);
        continue;
      }
      picks.push({ phy: e.physicalOffset, size: e.size });
      pickedBytes += e.size;
      nextPhyFileStart = -1;
    }
    // Pass 2: read the records straight into one reply body (adjacent records in one read), so the
    // pull reply is this buffer as it is; records are views of it.
    const body = Buffer.allocUnsafe(pickedBytes);
    const records: Buffer[] = [];
    let totalBytes = 0;
    for (let k = 0; k < picks.length; ) {
      let runEnd = k + 1;
      let runBytes = picks[k]!.size;
      while (runEnd < picks.length && picks[runEnd]!.phy === picks[k]!.phy + runBytes) runBytes += picks[runEnd++]!.size;
      if (!this.commitLog.readInto(picks[k]!.phy, runBytes, body, totalBytes)) {
        if (records.length === 0) status = 'MESSAGE_WAS_REMOVING';
        k = runEnd;
        continue;
      }
      for (; k < runEnd; k++) {
        const size = picks[k]!.size;
        const rec = body.subarray(totalBytes, totalBytes + size);
        if (filter?.isMatchedByCommitLog) {
          let props: Record<string, string> | undefined;
          try {
            props = readRecordProperties(rec, 0);
          } catch {
            props = undefined;
          }
          if (!props || !filter.isMatchedByCommitLog(props)) {
            // Drop it: the rest of this run moves down over it.
            body.copy(body, totalBytes, totalBytes + size, totalBytes + runBytes);
            runBytes -= size;
            continue;
          }
        }
        records.push(rec);
        totalBytes += size;
        runBytes -= size;
        status = 'FOUND';
      }
    }
    return { status, nextBeginOffset: offset + i, minOffset, maxOffset, records, totalBytes };
  }

  getMaxOffsetInQueue(topic: string, queueId: number): number {
    return this.findQueue(topic, queueId)?.maxOffset ?? 0;
  }

  getMinOffsetInQueue(topic: string, queueId: number): number {
    return this.findQueue(topic, queueId)?.minOffset ?? 0;
  }

  /** Store time of the record at a CommitLog offset (-1 when unreadable). */
  private storeTimestampAt(phy: number, size: number): number {
    const head = this.commitLog.read(phy, Math.min(size, RECORD_HEAD_BYTES));
    if (!head || head.length < RecordOffset.BORNHOST) return -1;
    const pos = storeTimestampPosition(head.readInt32BE(RecordOffset.SYSFLAG));
    if (pos + 8 > head.length) return -1;
    return readInt64(head, pos);
  }

  getMessageStoreTimestamp(topic: string, queueId: number, queueOffset: number): number {
    const e = this.findQueue(topic, queueId)?.getEntry(queueOffset);
    if (!e || e.size === CQ_PAD_SIZE) return -1;
    return this.storeTimestampAt(e.physicalOffset, e.size);
  }

  getEarliestMessageTime(topic: string, queueId: number): number {
    const q = this.findQueue(topic, queueId);
    if (!q || q.isEmpty()) return -1;
    return this.getMessageStoreTimestamp(topic, queueId, q.minOffset);
  }

  /**
   * RocketMQ 4.9.7 `ConsumeQueue.getOffsetInQueueByTime`: binary search by store time; an exact
   * match wins, else the nearer neighbour (later one on a tie is not preferred: ties go left);
   * past the end → the last entry; before the start → the first entry. Empty queue → 0.
   */
  getOffsetInQueueByTime(topic: string, queueId: number, timestampMs: number): number {
    const q = this.findQueue(topic, queueId);
    if (!q || q.isEmpty()) return 0;
    const minPhy = this.commitLog.getMinOffset();
    let low = q.minOffset;
    let high = q.maxOffset - 1;
    let leftOffset = -1;
    let rightOffset = -1;
    let leftValue = -1;
    let rightValue = -1;
    // Bounded: the range halves every step.
    while (high >= low) {
      const mid = Math.floor((low + high) / 2);
      const e = q.getEntry(mid);
      if (!e || e.size === CQ_PAD_SIZE || e.physicalOffset < minPhy) {
        low = mid + 1;
        leftOffset = mid;
        continue;
      }
      const t = this.storeTimestampAt(e.physicalOffset, e.size);
      if (t < 0) return 0;
      if (t === timestampMs) return mid;
      if (t > timestampMs) {
        high = mid - 1;
        rightOffset = mid;
        rightValue = t;
      } else {
        low = mid + 1;
        leftOffset = mid;
        leftValue = t;
      }
    }
    let offset: number;
    if (leftValue === -1) offset = rightOffset;
    else if (rightValue === -1) offset = leftOffset;
    else offset = timestampMs - leftValue > rightValue - timestampMs ? rightOffset : leftOffset;
    return offset < 0 ? q.minOffset : offset;
  }

  readRecordBytes(physicalOffset: number): Buffer | null {
    const head = this.commitLog.read(physicalOffset, 8);
    if (!head) return null;
    const size = head.readInt32BE(0);
    if (size <= 8) return null;
    const buf = this.commitLog.read(physicalOffset, size);
    if (!buf) return null;
    const check = checkRecordAt(buf, 0);
    return check.status === RecordStatus.VALID ? buf : null;
  }

  lookMessageByOffset(physicalOffset: number): MessageRecord | null {
    const buf = this.readRecordBytes(physicalOffset);
    if (!buf) return null;
    try {
      return decodeMessageRecord(buf, 0).record;
    } catch {
      return null;
    }
  }

  queryMessage(topic: string, key: string, maxNum: number, beginMs: number, endMs: number): QueryMessageResult {
    const want = Math.max(1, maxNum);
    // Extra candidates absorb hash collisions and second-granular time matches, filtered below.
    const candidates = this.index.lookup(topic, key, want * 4 + 16, beginMs, endMs);
    const seen = new Set<number>();
    const records: Buffer[] = [];
    for (const phy of candidates) {
      if (records.length >= want) break;
      if (seen.has(phy)) continue;
      seen.add(phy);
      const buf = this.readRecordBytes(phy);
      if (!buf) continue;
      let rec: MessageRecord;
      try {
        rec = decodeMessageRecord(buf, 0).record;
      } catch {
        continue;
      }
      if (rec.topic !== topic || rec.storeTimestamp < beginMs || rec.storeTimestamp > endMs) continue;
      if (!indexKeysOf(rec.properties).includes(key)) continue;
      records.push(buf);
    }
    const last = this.index.lastUpdate();
    return { records, indexLastUpdateTimestamp: last.timestamp, indexLastUpdatePhyoffset: last.phyOffset };
  }

  listQueues(): Array<{ topic: string; queueId: number }> {
    const out: Array<{ topic: string; queueId: number }> = [];
    for (const [topic, m] of this.queues) for (const queueId of m.keys()) out.push({ topic, queueId });
    return out;
  }

  getMaxPhyOffset(): number {
    return this.commitLog.getMaxOffset();
  }

  getMinPhyOffset(): number {
    return this.commitLog.getMinOffset();
  }

  /** CommitLog bytes known to be fdatasync'ed. */
  getFlushedPhyOffset(): number {
    return this.commitLog.getFlushedOffset();
  }

  onDispatch(listener: (event: DispatchEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Number of CommitLog / ConsumeQueue / index files (tests, admin). */
  fileCounts(): { commitLog: number; consumeQueue: number; index: number } {
    let cq = 0;
    for (const q of this.allQueues()) cq += q.fileCount();
    return { commitLog: this.commitLog.segmentStarts().length, consumeQueue: cq, index: this.index.fileCount() };
  }

  /** Last checkpoint on disk (tests). */
  readCheckpoint(): CheckpointData | undefined {
    return this.checkpoint.load();
  }

  /**
   * Full cross-check of derived data against the CommitLog (tests, crash e2e):
   * every CQ entry in [min, max) points at a valid NOT/COMMIT record of its topic/queue with that
   * queue offset; every such record has its CQ entry; every record's keys are found by the index.
   */
  verifyConsistency(): ConsistencyReport {
    this.flushTurn();
    this.index.flush();
    const problems: string[] = [];
    const note = (p: string): void => {
      if (problems.length < MAX_PROBLEMS_REPORTED) problems.push(p);
    };
    let records = 0;
    const minPhy = this.commitLog.getMinOffset();
    const end = this.commitLog.getMaxOffset();
    const scanEnd = this.commitLog.segmentStarts().length === 0 ? minPhy : this.commitLog.scan(minPhy, true, (buf, pos, phy, size) => {
      records++;
      const { record } = decodeMessageRecord(buf, pos);
      if (isDispatchable(record.sysFlag)) {
        const q = this.findQueue(record.topic, record.queueId);
        if (!q) note(`record at ${phy} (${record.topic}/${record.queueId}) has no consume queue`);
        else if (record.queueOffset >= q.minOffset) {
          const e = q.getEntry(record.queueOffset);
          if (!e || e.physicalOffset !== phy || e.size !== size) {
            note(`record at ${phy} (${record.topic}/${record.queueId}#${record.queueOffset}) has no matching CQ entry`);
          }
        }
      }
      if ((record.sysFlag & MessageSysFlag.TRANSACTION_MASK) !== MessageSysFlag.TRANSACTION_ROLLBACK_TYPE) {
        for (const key of indexKeysOf(record.properties)) {
          const found = this.index.lookup(record.topic, key, Number.MAX_SAFE_INTEGER, 0, Number.MAX_SAFE_INTEGER);
          if (!found.includes(phy)) note(`record at ${phy}: key ${record.topic}#${key} not in the index`);
        }
      }
    });
    if (scanEnd !== end) note(`commitlog scan ended at ${scanEnd}, expected ${end}`);
    let cqEntries = 0;
    for (const q of this.allQueues()) {
      for (let off = q.minOffset; off < q.maxOffset; ) {
        const units = q.readUnits(off, 4096);
        if (!units) {
          note(`${q.topic}/${q.queueId}: cannot read CQ at ${off}`);
          break;
        }
        for (let i = 0; i < units.length / CQ_UNIT_BYTES; i++, off++) {
          const e = decodeUnit(units, i * CQ_UNIT_BYTES);
          if (e.size === CQ_PAD_SIZE) continue;
          cqEntries++;
          const buf = this.readRecordBytes(e.physicalOffset);
          if (!buf || buf.length !== e.size) {
            note(`${q.topic}/${q.queueId}#${off}: no valid record at ${e.physicalOffset}`);
            continue;
          }
          const { record } = decodeMessageRecord(buf, 0);
          if (record.topic !== q.topic || record.queueId !== q.queueId || record.queueOffset !== off || !isDispatchable(record.sysFlag)) {
            note(`${q.topic}/${q.queueId}#${off}: points at ${record.topic}/${record.queueId}#${record.queueOffset}`);
          }
          if (this.tagsCodeOf(record.topic, record.properties, record.storeTimestamp) !== e.tagsCode) {
            note(`${q.topic}/${q.queueId}#${off}: tagsCode mismatch`);
          }
        }
      }
    }
    return { ok: problems.length === 0, records, cqEntries, problems };
  }
}
