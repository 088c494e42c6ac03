/**
 * Delay-level delivery (`ScheduleMessageService.java`). A message with `DELAY=n` is parked by the send path
 * in `SCHEDULE_TOPIC_XXXX` queue n-1 (properties REAL_TOPIC / REAL_QID hold its destination). Within one
 * queue every message has the same delay, so due times (storeTimestamp + delay of the level) never go down:
 * each level is a cursor over its queue that stops at the first message not yet due.
 *
 * One timer serves all levels: it fires at the earliest due time, delivers at most `maxDeliverPerTick`
 * messages per level, and re-arms. A level whose queue is drained sleeps until the store dispatches a new
 * SCHEDULE_TOPIC_XXXX entry for it. A failed put is retried after `retryBackoffMs` without moving the cursor.
 *
 * Progress (the next queue offset per level) goes to `<storePathRootDir>/config/delayOffset.json`
 * (`{"offsetTable":{"1":12,...}}`, atomic replace) every `persistIntervalMs` and on shutdown, so a clean
 * restart neither loses nor repeats deliveries; after a crash a few messages may be delivered twice
 * (at-least-once), never lost.
 */
import type { Clock } from '../../common/clock';
import { systemClock } from '../../common/clock';
import type { Logger } from '../../common/logger';
import { silentLogger } from '../../common/logger';
import { parseDelayLevels } from '../../config';
import { decodeMessageRecord } from '../../protocol/message-record';
import type { MessageRecord } from '../../protocol/message-record';
import { configFilePath, loadJsonFile, persistJsonFile } from '../../common/config-file';
import type { DispatchEvent, MessageStore, PutMessageRequest, PutMessageStatus } from '../../store/types';
import { MessageProperty, SystemTopic } from '../constants';

export const DELAY_OFFSET_FILE = 'delayOffset.json';
export const DEFAULT_MAX_DELIVER_PER_TICK = 256;
/** Java waits DELAY_FOR_A_PERIOD (10 s) after a failed re-put. */
export const DEFAULT_SCHEDULE_RETRY_BACKOFF_MS = 10_000;
/** Java flushes delayOffset.json every 10 s (`flushDelayOffsetInterval`); we do it more often. */
export const DEFAULT_DELAY_OFFSET_PERSIST_INTERVAL_MS = 1_000;
/** Records read from the store per getMessage call. */
const READ_BATCH = 32;
/** setTimeout cannot wait longer than 2^31-1 ms; re-check at least hourly. */
const MAX_TIMER_DELAY_MS = 3_600_000;

/** Statuses after which the message is in the CommitLog (FLUSH_DISK_TIMEOUT: appended, not yet synced). */
const STORED: ReadonlySet<PutMessageStatus> = new Set(['PUT_OK', 'FLUSH_DISK_TIMEOUT']);
/** Statuses that will never succeed for this message: skip it rather than block the level forever. */
const PERMANENT_FAILURE: ReadonlySet<PutMessageStatus> = new Set(['MESSAGE_ILLEGAL', 'PROPERTIES_SIZE_EXCEEDED']);

export interface ScheduleMessageServiceDeps {
  store: MessageStore;
  settings: { messageDelayLevel: string; storePathRootDir: string };
  clock?: Clock;
  logger?: Logger;
  maxDeliverPerTick?: number;
  retryBackoffMs?: number;
  persistIntervalMs?: number;
}

interface DelayOffsetFile {
  offsetTable: Record<string, number>;
}

/** Builds the message to re-put for a due parked record; undefined when it has no valid destination. */
export function restoreParkedMessage(rec: MessageRecord): PutMessageRequest | undefined {
  const realTopic = rec.properties[MessageProperty.REAL_TOPIC];
  const realQid = Number(rec.properties[MessageProperty.REAL_QUEUE_ID]);
  if (!realTopic || !Number.isInteger(realQid) || realQid < 0) return undefined;
  const properties = { ...rec.properties };
  delete properties[MessageProperty.DELAY_TIME_LEVEL];
  properties[MessageProperty.WAIT_STORE_MSG_OK] = 'false';
  return {
    topic: realTopic,
    queueId: realQid,
    flag: rec.flag,
    body: rec.body,
    properties,
    sysFlag: rec.sysFlag,
    bornTimestamp: rec.bornTimestamp,
    bornHost: rec.bornHost,
    reconsumeTimes: rec.reconsumeTimes,
    preparedTransactionOffset: rec.preparedTransactionOffset,
  };
}

export class ScheduleMessageService {
  readonly delayLevelsMs: readonly number[];
  private readonly offsets: number[];
  /** Earliest time a level may have work; Infinity = drained, waiting for a dispatch. */
  private readonly dueAt: number[];
  private readonly store: MessageStore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly filePath: string;
  private readonly maxDeliverPerTick: number;
  private readonly retryBackoffMs: number;
  private readonly persistIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private persistTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private ticking: Promise<void> | undefined;
  private started = false;
  private stopped = false;
  private dirty = false;
  private deliveredTotal = 0;

  constructor(deps: ScheduleMessageServiceDeps) {
    this.store = deps.store;
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? silentLogger;
    this.delayLevelsMs = parseDelayLevels(deps.settings.messageDelayLevel);
    this.offsets = this.delayLevelsMs.map(() => 0);
    this.dueAt = this.delayLevelsMs.map(() => Infinity);
    this.filePath = configFilePath(deps.settings.storePathRootDir, DELAY_OFFSET_FILE);
    this.maxDeliverPerTick = deps.maxDeliverPerTick ?? DEFAULT_MAX_DELIVER_PER_TICK;
    this.retryBackoffMs = deps.retryBackoffMs ?? DEFAULT_SCHEDULE_RETRY_BACKOFF_MS;
    this.persistIntervalMs = deps.persistIntervalMs ?? DEFAULT_DELAY_OFFSET_PERSIST_INTERVAL_MS;
  }

  get maxDelayLevel(): number {
    return this.delayLevelsMs.length;
  }

  /** Due time of a message parked at `level` and stored at `storeTimestamp` (the CQ tagsCode). */
  computeDeliverTimestamp(level: number, storeTimestamp: number): number {
    const delayMs = this.delayLevelsMs[Math.min(Math.max(level, 1), this.maxDelayLevel) - 1] ?? 0;
    return storeTimestamp + delayMs;
  }

  /** Next queue offset per level (`{"1": 12, ...}`), e.g. for GET_ALL_DELAY_OFFSET. */
  offsetTable(): Record<string, number> {
    const table: Record<string, number> = {};
    this.offsets.forEach((offset, i) => (table[String(i + 1)] = offset));
    return table;
  }

  /** Messages delivered since start (tests / metrics). */
  get delivered(): number {
    return this.deliveredTotal;
  }

  /** Loads progress and starts delivering. Call after the store has started. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.load();
    this.unsubscribe = this.store.onDispatch((event) => this.onDispatch(event));
    const now = this.clock.now();
    for (let i = 0; i < this.dueAt.length; i++) this.dueAt[i] = now;
    this.persistTimer = setInterval(() => this.persistIfDirty(), this.persistIntervalMs);
    this.persistTimer.unref();
    this.arm();
  }

  /** Stops the timer, waits for an in-flight delivery pass, and persists progress. Call before store shutdown. */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.persistTimer) clearInterval(this.persistTimer);
    this.unsubscribe?.();
    if (this.ticking) await this.ticking;
    if (this.started) this.persist();
  }

  /** Runs one delivery pass now (the timer calls it; tests may too). Resolves when the pass is done. */
  runOnce(): Promise<void> {
    if (this.ticking) return this.ticking;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    const pass = this.deliverDueLevels().finally(() => {
      this.ticking = undefined;
      if (!this.stopped) this.arm();
    });
    this.ticking = pass;
    return pass;
  }

  persist(): void {
    persistJsonFile(this.filePath, { offsetTable: this.offsetTable() } satisfies DelayOffsetFile);
    this.dirty = false;
  }

  private persistIfDirty(): void {
    if (!this.dirty) return;
    try {
      this.persist();
    } catch (err) {
      this.logger.error({ err }, 'persisting delayOffset.json failed');
    }
  }

  private load(): void {
    const stored = loadJsonFile<DelayOffsetFile>(this.filePath);
    for (let i = 0; i < this.offsets.length; i++) {
      const raw = stored?.offsetTable?.[String(i + 1)];
      let offset = typeof raw === 'number' && Number.isInteger(raw) && raw >= 0 ? raw : 0;
      // Keep the cursor inside what the queue holds (files removed by retention, or a wiped store).
      const min = this.store.getMinOffsetInQueue(SystemTopic.SCHEDULE, i);
      const max = this.store.getMaxOffsetInQueue(SystemTopic.SCHEDULE, i);
      if (offset < min) offset = min;
      if (offset > max) {
        this.logger.warn({ level: i + 1, offset, max }, 'delay offset beyond the schedule queue, corrected');
        offset = max;
      }
      this.offsets[i] = offset;
    }
  }

  private onDispatch(event: DispatchEvent): void {
    if (event.topic !== SystemTopic.SCHEDULE) return;
    const i = event.queueId;
    if (i < 0 || i >= this.dueAt.length) return;
    const due = this.computeDeliverTimestamp(i + 1, event.storeTimestamp);
    if (due < this.dueAt[i]!) {
      this.dueAt[i] = due;
      if (!this.ticking && due < this.timerAt) this.arm();
    }
  }

  /** Arms the single timer for the earliest due level. */
  private arm(): void {
    if (this.stopped || !this.started) return;
    let earliest = Infinity;
    for (const due of this.dueAt) if (due < earliest) earliest = due;
    if (earliest === Infinity) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Infinity;
      return;
    }
    if (this.timer && this.timerAt <= earliest) return;
    if (this.timer) clearTimeout(this.timer);
    const delayMs = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, earliest - this.clock.now()));
    this.timerAt = earliest;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      void this.runOnce();
    }, delayMs);
    // The broker's server keeps the process alive; this timer alone must not.
    this.timer.unref();
  }

  private async deliverDueLevels(): Promise<void> {
    for (let i = 0; i < this.dueAt.length && !this.stopped; i++) {
      if (this.dueAt[i]! > this.clock.now()) continue;
      try {
        await this.deliverLevel(i);
      } catch (err) {
        this.logger.error({ err, level: i + 1 }, 'delay delivery failed, retrying later');
        this.dueAt[i] = this.clock.now() + this.retryBackoffMs;
      }
    }
  }

  /** Delivers due messages of one level, at most maxDeliverPerTick; sets dueAt for the next visit. */
  private async deliverLevel(i: number): Promise<void> {
    const level = i + 1;
    const delayMs = this.delayLevelsMs[i]!;
    let budget = this.maxDeliverPerTick;
    // Bounded: each round either delivers/skips records (budget) or moves the cursor forward or returns.
    for (let rounds = 0; rounds < this.maxDeliverPerTick + 16; rounds++) {
      const offset = this.offsets[i]!;
      const result = this.store.getMessage(SystemTopic.SCHEDULE, i, offset, Math.min(READ_BATCH, budget));
      switch (result.status) {
        case 'FOUND':
          break;
        case 'NO_MESSAGE_IN_QUEUE':
        case 'NO_MATCHED_LOGIC_QUEUE':
        case 'OFFSET_OVERFLOW_ONE':
          this.dueAt[i] = Infinity; // drained: the next dispatch wakes this level
          return;
        default:
          // OFFSET_TOO_SMALL / OVERFLOW_BADLY / MESSAGE_WAS_REMOVING / OFFSET_FOUND_NULL / NO_MATCHED_MESSAGE:
          // follow the store's corrected offset; without progress, look again later.
          if (result.nextBeginOffset !== offset && result.nextBeginOffset >= 0) {
            this.logger.warn({ level, offset, next: result.nextBeginOffset, status: result.status }, 'schedule cursor corrected');
            this.setOffset(i, result.nextBeginOffset);
            continue;
          }
          this.dueAt[i] = this.clock.now() + this.retryBackoffMs;
          return;
      }
      for (const buf of result.records) {
        let rec: MessageRecord;
        try {
          rec = decodeMessageRecord(buf, 0, { copyBody: true }).record;
        } catch (err) {
          this.logger.error({ err, level, offset: this.offsets[i] }, 'undecodable parked message skipped');
          this.setOffset(i, this.offsets[i]! + 1);
          continue;
        }
        if (rec.queueOffset < this.offsets[i]!) continue; // already delivered
        const dueAtMs = rec.storeTimestamp + delayMs;
        const now = this.clock.now();
        if (dueAtMs > now) {
          this.setOffset(i, rec.queueOffset);
          this.dueAt[i] = dueAtMs;
          return;
        }
        const outcome = await this.deliverOne(rec, level);
        if (outcome === 'retry') {
          this.setOffset(i, rec.queueOffset);
          this.dueAt[i] = this.clock.now() + this.retryBackoffMs;
          return;
        }
        this.setOffset(i, rec.queueOffset + 1);
        if (--budget <= 0) {
          this.dueAt[i] = this.clock.now(); // more may be due: continue on the next pass
          return;
        }
        if (this.stopped) return;
      }
      if (result.records.length === 0) {
        if (result.nextBeginOffset > offset) {
          this.setOffset(i, result.nextBeginOffset);
          continue;
        }
        this.dueAt[i] = this.clock.now() + this.retryBackoffMs;
        return;
      }
    }
    this.dueAt[i] = this.clock.now();
  }

  private async deliverOne(rec: MessageRecord, level: number): Promise<'done' | 'retry'> {
    const msg = restoreParkedMessage(rec);
    if (!msg) {
      this.logger.error({ level, physicalOffset: rec.physicalOffset, properties: rec.properties }, 'parked message without REAL_TOPIC/REAL_QID discarded');
      return 'done';
    }
    if (msg.topic === SystemTopic.TRANS_HALF) {
      this.logger.error({ level, physicalOffset: rec.physicalOffset }, '[BUG] delayed message targets the transaction half topic, discarded');
      return 'done';
    }
    let status: PutMessageStatus;
    let reason: string | undefined;
    try {
      const result = await this.store.putMessage(msg);
      status = result.status;
      reason = result.reason;
    } catch (err) {
      this.logger.error({ err, level, topic: msg.topic }, 'delayed message re-put threw');
      return 'retry';
    }
    if (STORED.has(status)) {
      this.deliveredTotal++;
      return 'done';
    }
    if (PERMANENT_FAILURE.has(status)) {
      this.logger.error({ level, topic: msg.topic, status, reason, physicalOffset: rec.physicalOffset }, 'delayed message can never be stored, discarded');
      return 'done';
    }
    this.logger.warn({ level, topic: msg.topic, status, reason }, 'delayed message re-put failed, will retry');
    return 'retry';
  }

  private setOffset(i: number, offset: number): void {
    if (this.offsets[i] === offset) return;
    this.offsets[i] = offset;
    this.dirty = true;
  }
}
