/**
 * Transaction check-back (RocketMQ `TransactionalMessageCheckService` + `TransactionalMessageServiceImpl.check`).
 * Every `transactionCheckInterval` ms, per half queue, from the half cursor:
 *
 *   half named by an op record (or whose transaction was already ended)      → done, cursor +1
 *   TRANSACTION_CHECK_TIMES >= transactionCheckMax, or older than fileReservedTime
 *                                                                             → copy to TRANS_CHECK_MAX_TIME_TOPIC
 *   CHECK_IMMUNITY_TIME_IN_SECONDS set and not yet over                      → re-appended unchanged (5.x)
 *   younger than transactionTimeOut (by born time)                           → stop: later halves are younger
 *   otherwise: re-append with TRANSACTION_CHECK_TIMES + 1 (new offsets) and send CHECK_TRANSACTION_STATE
 *     (oneway) to one live producer channel of its PGROUP, round-robin. No live producer: re-appended
 *     without counting a check, so the next pass asks again.
 *
 * Cursors: the half and op queue offsets of the system group CID_RMQ_SYS_TRANS in the consumer offset
 * table (persisted to consumerOffset.json with the other offsets), so a restart resumes where it stopped.
 * An op record is consumed once every half offset it names is behind the half cursor.
 * Work per pass is bounded (halves visited, op records read); a pass never overlaps another.
 */
import type { Clock } from '../../common/clock';
import { systemClock } from '../../common/clock';
import type { Logger } from '../../common/logger';
import { silentLogger } from '../../common/logger';
import { createOffsetMessageId } from '../../protocol/message-id';
import { MessageConst, TopicNames } from '../../protocol/message-const';
import { encodeMessageRecord, type MessageRecord } from '../../protocol/message-record';
import { createRequest } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import { CheckTransactionStateRequestHeader } from '../../protocol/headers/transaction.headers';
import type { Channel } from '../../remoting/types';
import type { MessageStore, PutMessageRequest } from '../../store/types';
import { decodeSafe, type TransactionalMessageService } from './transactional-message.service';
import {
  TRANSACTION_CHECK_GROUP,
  checkBodyInput,
  checkTimesOf,
  immunityMsOf,
  lineageKey,
  originOffsetOf,
  parseOpBody,
  toRenewedHalf,
} from './transaction-message.util';

/** Halves read from the store per queue and pass (halves already named by an op record cost no read). */
export const DEFAULT_MAX_HALF_READS_PER_PASS = 2_000;
/** Op records read per queue and pass (Java reads them all; this bounds memory: ~100 B each). */
export const DEFAULT_MAX_OP_READ_PER_PASS = 131_072;
/** A pass stops after this long and continues on the next one (Java: MAX_PROCESS_TIME_LIMIT 60 s). */
export const DEFAULT_MAX_PASS_MS = 10_000;
const READ_BATCH = 32;
/** Yield to the event loop after this many records read synchronously. */
const YIELD_EVERY_RECORDS = 1_024;

export interface TransactionCheckSettings {
  transactionCheckInterval: number;
  transactionTimeOut: number;
  transactionCheckMax: number;
  /** Hours; halves born longer ago are discarded like over-checked ones (`needSkip`). */
  fileReservedTime: number;
}

export interface TransactionCheckServiceDeps {
  store: MessageStore;
  transactions: TransactionalMessageService;
  producers: { getAvailableChannel(group: string): Channel | undefined };
  offsets: {
    queryOffset(group: string, topic: string, queueId: number): number;
    commitOffset(clientHost: string, group: string, topic: string, queueId: number, offset: number): void;
  };
  settings: TransactionCheckSettings;
  clock?: Clock;
  logger?: Logger;
  maxHalfReadsPerPass?: number;
  maxOpReadPerPass?: number;
  maxPassMs?: number;
}

/** Op records read in one pass: half offsets they resolve, and which half offsets each op names. */
interface OpView {
  resolved: Set<number>;
  opHalves: Map<number, number[]>;
  /** First op offset not read. */
  readUntil: number;
  complete: boolean;
}

type Step = 'next' | 'stop';

export class TransactionCheckService {
  private readonly store: MessageStore;
  private readonly tx: TransactionalMessageService;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly maxHalfReadsPerPass: number;
  private readonly maxOpReadPerPass: number;
  private readonly maxPassMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly deps: TransactionCheckServiceDeps) {
    this.store = deps.store;
    this.tx = deps.transactions;
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? silentLogger;
    this.maxHalfReadsPerPass = deps.maxHalfReadsPerPass ?? DEFAULT_MAX_HALF_READS_PER_PASS;
    this.maxOpReadPerPass = deps.maxOpReadPerPass ?? DEFAULT_MAX_OP_READ_PER_PASS;
    this.maxPassMs = deps.maxPassMs ?? DEFAULT_MAX_PASS_MS;
  }

  start(): void {
    if (this.timer || this.stopped) return;
    const intervalMs = Math.max(1, this.deps.settings.transactionCheckInterval);
    this.timer = setInterval(() => void this.runOnce(), intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a pass in progress. Call before the consumer offsets are persisted. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.running) await this.running;
  }

  /** One check pass over every half queue (the timer calls it; tests may too). Never rejects. */
  runOnce(): Promise<void> {
    if (this.running) return this.running;
    const pass = this.checkAll()
      .catch((err: unknown) => this.logger.error({ err }, 'transaction check pass failed'))
      .finally(() => {
        this.running = undefined;
      });
    this.running = pass;
    return pass;
  }

  private async checkAll(): Promise<void> {
    const queues = this.store.listQueues().filter((q) => q.topic === TopicNames.TRANS_HALF_TOPIC);
    for (const { queueId } of queues) {
      if (this.stopped) return;
      await this.checkQueue(queueId);
    }
    this.tx.stats.checkPasses++;
  }

  private cursor(topic: string, queueId: number): number {
    const min = this.store.getMinOffsetInQueue(topic, queueId);
    const max = this.store.getMaxOffsetInQueue(topic, queueId);
    const stored = this.deps.offsets.queryOffset(TRANSACTION_CHECK_GROUP, topic, queueId);
    return Math.min(Math.max(stored < 0 ? min : stored, min), max);
  }

  private setCursor(topic: string, queueId: number, offset: number): void {
    if (this.deps.offsets.queryOffset(TRANSACTION_CHECK_GROUP, topic, queueId) === offset) return;
    this.deps.offsets.commitOffset('broker', TRANSACTION_CHECK_GROUP, topic, queueId, offset);
  }

  private async checkQueue(queueId: number): Promise<void> {
    const HALF = TopicNames.TRANS_HALF_TOPIC;
    const OP = TopicNames.TRANS_OP_HALF_TOPIC;
    const halfStart = this.cursor(HALF, queueId);
    const opStart = this.cursor(OP, queueId);
    // Copies re-appended during this pass land beyond this: they wait for the next pass.
    const halfEnd = this.store.getMaxOffsetInQueue(HALF, queueId);
    const ops = await this.readOps(queueId, opStart);

    const deadline = this.clock.now() + this.maxPassMs;
    let i = halfStart;
    let reads = 0;
    while (i < halfEnd && !this.stopped) {
      if (ops.resolved.has(i)) {
        i++;
        continue;
      }
      if (reads++ >= this.maxHalfReadsPerPass || this.clock.now() > deadline) break;
      const r = this.store.getMessage(HALF, queueId, i, 1);
      if (r.status !== 'FOUND' || r.records.length === 0) {
        // Removed by retention (OFFSET_TOO_SMALL) or unreadable: follow the store's next offset.
        if (r.nextBeginOffset > i) {
          i = r.nextBeginOffset;
          continue;
        }
        break;
      }
      const half = decodeSafe(r.records[0]!);
      if (!half) {
        this.logger.error({ queueId, offset: i }, 'undecodable half message skipped');
        i++;
        continue;
      }
      const step = await this.checkHalf(half, ops);
      if (step === 'stop') break;
      i++;
    }
    this.setCursor(HALF, queueId, i);
    this.setCursor(OP, queueId, this.consumedOpOffset(ops, opStart, i));
  }

  /** Reads op records from `opStart` (bounded). Ops naming only halves behind the cursor are simply consumed. */
  private async readOps(queueId: number, opStart: number): Promise<OpView> {
    const OP = TopicNames.TRANS_OP_HALF_TOPIC;
    const view: OpView = { resolved: new Set(), opHalves: new Map(), readUntil: opStart, complete: false };
    const opEnd = this.store.getMaxOffsetInQueue(OP, queueId);
    let offset = opStart;
    let read = 0;
    while (offset < opEnd && read < this.maxOpReadPerPass) {
      const r = this.store.getMessage(OP, queueId, offset, Math.min(READ_BATCH, this.maxOpReadPerPass - read));
      if (r.status !== 'FOUND' || r.records.length === 0) {
        if (r.nextBeginOffset > offset) {
          offset = r.nextBeginOffset;
          continue;
        }
        break;
      }
      for (const buf of r.records) {
        const op = decodeSafe(buf);
        read++;
        if (!op) {
          view.opHalves.set(offset, []);
          offset++;
          continue;
        }
        const halves = parseOpBody(op.body);
        view.opHalves.set(op.queueOffset, halves);
        for (const h of halves) view.resolved.add(h);
        offset = op.queueOffset + 1;
      }
      if (read % YIELD_EVERY_RECORDS < READ_BATCH) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    view.readUntil = offset;
    view.complete = offset >= opEnd;
    return view;
  }

  /** `calculateOpOffset`: the op cursor moves over the leading ops whose halves are all behind the half cursor. */
  private consumedOpOffset(ops: OpView, opStart: number, halfCursor: number): number {
    let next = opStart;
    while (next < ops.readUntil) {
      const halves = ops.opHalves.get(next);
      if (halves && halves.some((h) => h >= halfCursor)) break;
      next++;
    }
    return next;
  }

  private async checkHalf(half: MessageRecord, ops: OpView): Promise<Step> {
    const settings = this.deps.settings;
    const key = lineageKey(half.queueId, originOffsetOf(half));
    if (this.tx.registry.pendingEnd(key)) return 'stop';
    if (this.tx.registry.endedOutcome(key)) return 'next';
    const origin = originOffsetOf(half);
    if (origin !== half.queueOffset && ops.resolved.has(origin)) return 'next';

    const now = this.clock.now();
    const ageMs = now - half.bornTimestamp;
    const checkTimes = checkTimesOf(half);
    const reservedMs = settings.fileReservedTime * 3_600_000;
    if (checkTimes >= settings.transactionCheckMax || ageMs > reservedMs) {
      return this.discard(half, checkTimes, ageMs);
    }
    const immunityMs = immunityMsOf(half);
    if (immunityMs !== undefined && ageMs < immunityMs) {
      // Not to be checked yet, but it must not hold the cursor: park it at the end (5.x putImmunityMsgBackToHalfQueue).
      return (await this.renew(half, half.properties)) ? 'next' : 'stop';
    }
    if (immunityMs === undefined && ageMs >= 0 && ageMs < settings.transactionTimeOut) return 'stop';
    // With more op records than one pass reads, an unread one could still name this half. Checking anyway
    // is harmless (the ended-transaction registry answers a repeated END without delivering twice) and
    // cannot stall the cursor behind a huge op backlog, as stopping here would.
    if (!ops.complete) this.logger.debug({ halfOffset: half.queueOffset }, 'checking before every op record was read');

    const group = half.properties[MessageConst.PGROUP];
    const channel = group ? this.deps.producers.getAvailableChannel(group) : undefined;
    if (group && !channel) {
      if (!(await this.renew(half, half.properties))) return 'stop';
      this.tx.stats.checksDeferred++;
      this.logger.warn({ group, halfOffset: half.queueOffset }, 'transaction check deferred: no live producer in the group');
      return 'next';
    }
    const properties = { ...half.properties, [MessageConst.TRANSACTION_CHECK_TIMES]: String(checkTimes + 1) };
    const renewed = await this.renew(half, properties);
    if (!renewed) return 'stop';
    if (channel) this.sendCheck(channel, half, renewed);
    return 'next';
  }

  /** `putBackHalfMsgQueue`: re-appends the half (with the lineage marker); undefined when the store refused. */
  private async renew(
    half: MessageRecord,
    properties: Record<string, string>,
  ): Promise<{ properties: Record<string, string>; queueOffset: number; physicalOffset: number; storeTimestamp: number; msgId: string } | undefined> {
    const props = { ...properties, [MessageConst.TRAN_PREPARED_QUEUE_OFFSET]: String(originOffsetOf(half)) };
    const msg: PutMessageRequest = toRenewedHalf(half, props);
    const result = await this.store.putMessage(msg).catch((err: unknown) => {
      this.logger.error({ err }, 'half message re-append threw');
      return undefined;
    });
    const appended = result?.appended[0];
    if (!result || (result.status !== 'PUT_OK' && result.status !== 'FLUSH_DISK_TIMEOUT') || !appended) {
      this.logger.warn({ status: result?.status, reason: result?.reason, halfOffset: half.queueOffset }, 'half message re-append failed, retry next pass');
      return undefined;
    }
    return {
      properties: props,
      queueOffset: appended.queueOffset,
      physicalOffset: appended.physicalOffset,
      storeTimestamp: appended.storeTimestamp,
      msgId: appended.msgId,
    };
  }

  /** `sendCheckMessage` + `Broker2Client.checkProducerTransactionState`. */
  private sendCheck(
    channel: Channel,
    half: MessageRecord,
    renewed: { properties: Record<string, string>; queueOffset: number; physicalOffset: number; storeTimestamp: number; msgId: string },
  ): void {
    const input = checkBodyInput(half, renewed);
    const uniqKey = half.properties[MessageConst.UNIQ_KEY];
    const header = CheckTransactionStateRequestHeader.encode({
      topic: input?.topic ?? half.properties[MessageConst.REAL_TOPIC],
      tranStateTableOffset: renewed.queueOffset,
      commitLogOffset: renewed.physicalOffset,
      msgId: uniqKey,
      transactionId: uniqKey ?? half.properties[MessageConst.TRANSACTION_ID],
      offsetMsgId: renewed.msgId || createOffsetMessageId(half.storeHost, renewed.physicalOffset),
    });
    let body: Buffer | undefined;
    try {
      body = input ? encodeMessageRecord(input) : undefined;
    } catch (err) {
      this.logger.error({ err, halfOffset: half.queueOffset }, 'check-back body could not be encoded');
    }
    const request = createRequest(RequestCode.CHECK_TRANSACTION_STATE, undefined, body, true);
    request.extFields = header;
    try {
      channel.invokeOneway(request);
      this.tx.stats.checksSent++;
      this.logger.info(
        { group: half.properties[MessageConst.PGROUP], channel: channel.remoteAddress, msgId: uniqKey, tranStateTableOffset: renewed.queueOffset },
        'transaction check sent',
      );
    } catch (err) {
      this.logger.warn({ err, channel: channel.remoteAddress }, 'transaction check could not be sent, retry next pass');
    }
  }

  /** `resolveDiscardMsg`: the half (properties as they are) into TRANS_CHECK_MAX_TIME_TOPIC queue 0. */
  private async discard(half: MessageRecord, checkTimes: number, ageMs: number): Promise<Step> {
    const msg: PutMessageRequest = { ...toRenewedHalf(half, { ...half.properties }), topic: TopicNames.TRANS_CHECK_MAX_TIME_TOPIC, queueId: 0 };
    const result = await this.store.putMessage(msg).catch(() => undefined);
    if (!result || (result.status !== 'PUT_OK' && result.status !== 'FLUSH_DISK_TIMEOUT')) {
      this.logger.warn({ status: result?.status, halfOffset: half.queueOffset }, 'discarding a half message failed, retry next pass');
      return 'stop';
    }
    this.tx.stats.discards++;
    this.logger.warn(
      { group: half.properties[MessageConst.PGROUP], msgId: half.properties[MessageConst.UNIQ_KEY], checkTimes, ageMs },
      'half message discarded to TRANS_CHECK_MAX_TIME_TOPIC',
    );
    return 'next';
  }
}
