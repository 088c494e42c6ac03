/**
 * Broker side of END_TRANSACTION (RocketMQ `EndTransactionProcessor` + `TransactionalMessageServiceImpl`
 * commit/rollback/deletePrepareMessage):
 *
 *   COMMIT:   load the half by commitLogOffset → validate (half topic, PGROUP == producerGroup,
 *             queueOffset == tranStateTableOffset, offsets match; else SYSTEM_ERROR + remark) → store the
 *             real message through the normal routing (a DELAY property parks it in SCHEDULE_TOPIC_XXXX,
 *             as RocketMQ's CommitLog does for COMMIT-type messages) → write the op record.
 *   ROLLBACK: validate → op record only.
 *
 * Idempotent: one transaction instance (the half and its re-appended copies) is ended at most once.
 * A second END with the same outcome is answered SUCCESS and does nothing; a contradicting one gets
 * SYSTEM_ERROR. The registry is rebuilt from the tail of the op queue at start.
 */
import type { Clock } from '../../common/clock';
import { systemClock } from '../../common/clock';
import type { Logger } from '../../common/logger';
import { silentLogger } from '../../common/logger';
import { decodeMessageRecord, type HostAddress, type MessageRecord } from '../../protocol/message-record';
import { MessageConst, TopicNames } from '../../protocol/message-const';
import { ResponseCode } from '../../protocol/response-code';
import type { MessageStore, PutMessageResult } from '../../store/types';
import { putResultToResponseCode, storeMessageWithRouting } from '../message-routing';
import { EndedTransactionRegistry, type EndedOutcome } from './ended-transaction.registry';
import {
  OP_OUTCOME_PROPERTY,
  lineageKey,
  originOffsetOf,
  parseOpBody,
  toCommittedMessage,
  toOpMessage,
  type TransactionOutcome,
} from './transaction-message.util';

/** What the service reports; the check service adds its own counters to the same object. */
export interface TransactionStats {
  /** Real messages stored by COMMIT. */
  commits: number;
  rollbacks: number;
  /** ENDs for an already ended transaction (nothing done). */
  duplicateEnds: number;
  /** ENDs refused by validation (wrong group / offsets, no such half). */
  rejectedEnds: number;
  /** CHECK_TRANSACTION_STATE requests written to a producer channel. */
  checksSent: number;
  /** Halves re-queued without a check because their group had no live producer. */
  checksDeferred: number;
  /** Halves moved to TRANS_CHECK_MAX_TIME_TOPIC. */
  discards: number;
  /** Check passes completed. */
  checkPasses: number;
}

export interface EndTransactionRequest {
  producerGroup: string;
  tranStateTableOffset: number;
  commitLogOffset: number;
  action: TransactionOutcome;
  fromTransactionCheck?: boolean;
}

/** Wire outcome of an END (the processor turns it into a response). */
export interface EndTransactionResult {
  code: number;
  remark?: string;
}

export interface TransactionalMessageServiceDeps {
  store: MessageStore;
  storeHost: HostAddress;
  /** For the DELAY routing of committed messages. */
  delayLevelsMs: readonly number[];
  clock?: Clock;
  logger?: Logger;
  registryCapacity?: number;
}

/** Records read per getMessage call while rebuilding the registry. */
const READ_BATCH = 32;

export class TransactionalMessageService {
  readonly registry: EndedTransactionRegistry;
  readonly stats: TransactionStats = {
    commits: 0,
    rollbacks: 0,
    duplicateEnds: 0,
    rejectedEnds: 0,
    checksSent: 0,
    checksDeferred: 0,
    discards: 0,
    checkPasses: 0,
  };
  private readonly store: MessageStore;
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(private readonly deps: TransactionalMessageServiceDeps) {
    this.store = deps.store;
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? silentLogger;
    this.registry = new EndedTransactionRegistry(deps.registryCapacity);
  }

  /**
   * Rebuilds the ended-transaction registry from the newest op records (at most `registry.capacity`).
   * Call once after the store has started, before END requests are served.
   */
  load(): void {
    const opQueues = this.store.listQueues().filter((q) => q.topic === TopicNames.TRANS_OP_HALF_TOPIC);
    let loaded = 0;
    for (const { queueId } of opQueues) {
      const max = this.store.getMaxOffsetInQueue(TopicNames.TRANS_OP_HALF_TOPIC, queueId);
      let offset = Math.max(this.store.getMinOffsetInQueue(TopicNames.TRANS_OP_HALF_TOPIC, queueId), max - this.registry.capacity);
      // Bounded: each round moves `offset` forward or stops.
      while (offset < max) {
        const r = this.store.getMessage(TopicNames.TRANS_OP_HALF_TOPIC, queueId, offset, READ_BATCH);
        if (r.status !== 'FOUND' || r.records.length === 0) {
          if (r.nextBeginOffset > offset) {
            offset = r.nextBeginOffset;
            continue;
          }
          break;
        }
        for (const buf of r.records) {
          const rec = decodeSafe(buf);
          if (rec) {
            this.registerOp(queueId, rec);
            loaded++;
          }
        }
        offset = Math.max(offset + 1, r.nextBeginOffset);
      }
    }
    if (loaded > 0) this.logger.info({ opRecords: loaded, ended: this.registry.size }, 'transaction registry rebuilt from op records');
  }

  private registerOp(queueId: number, op: MessageRecord): void {
    const raw = op.properties[OP_OUTCOME_PROPERTY];
    const outcome: EndedOutcome = raw === 'COMMIT' || raw === 'ROLLBACK' ? raw : 'UNKNOWN';
    const origin = op.properties[MessageConst.TRAN_PREPARED_QUEUE_OFFSET];
    if (origin !== undefined && /^\d+$/.test(origin)) {
      this.registry.markEnded(lineageKey(queueId, Number(origin)), outcome);
      return;
    }
    for (const offset of parseOpBody(op.body)) this.registry.markEnded(lineageKey(queueId, offset), outcome);
  }

  /** `checkPrepareMessage`: undefined when the half matches the request, else the remark. */
  private validate(half: MessageRecord | null, req: EndTransactionRequest): string | undefined {
    if (!half || half.topic !== TopicNames.TRANS_HALF_TOPIC || half.physicalOffset !== req.commitLogOffset) {
      return 'Find prepared transaction message failed';
    }
    if (half.properties[MessageConst.PGROUP] !== req.producerGroup) return 'The producer group wrong';
    if (half.queueOffset !== req.tranStateTableOffset) return 'The transaction state table offset wrong';
    return undefined;
  }

  /** COMMIT or ROLLBACK one half message. Never throws for store trouble: it is an outcome. */
  async endTransaction(req: EndTransactionRequest): Promise<EndTransactionResult> {
    const half = req.commitLogOffset >= 0 ? this.store.lookMessageByOffset(req.commitLogOffset) : null;
    const invalid = this.validate(half, req);
    if (invalid || !half) {
      this.stats.rejectedEnds++;
      this.logger.warn({ ...req, remark: invalid }, 'END_TRANSACTION refused');
      return { code: ResponseCode.SYSTEM_ERROR, remark: invalid };
    }
    const key = lineageKey(half.queueId, originOffsetOf(half));
    // Another END for the same transaction is in flight: wait for it, then answer from its outcome.
    for (let waits = 0; waits < 3; waits++) {
      const inFlight = this.registry.pendingEnd(key);
      if (!inFlight) break;
      await inFlight;
    }
    if (this.registry.pendingEnd(key)) return { code: ResponseCode.SYSTEM_BUSY, remark: 'the transaction is being ended, try again' };
    const prior = this.registry.endedOutcome(key);
    if (prior) {
      this.stats.duplicateEnds++;
      if (prior === req.action || prior === 'UNKNOWN') return { code: ResponseCode.SUCCESS, remark: `the transaction was already ended (${prior})` };
      this.logger.warn({ ...req, prior }, 'END_TRANSACTION contradicts an earlier END, ignored');
      return { code: ResponseCode.SYSTEM_ERROR, remark: `the transaction was already ended with ${prior}` };
    }

    const release = this.registry.begin(key);
    try {
      if (req.action === 'COMMIT') {
        const msg = toCommittedMessage(half);
        if (!msg) {
          this.stats.rejectedEnds++;
          return { code: ResponseCode.SYSTEM_ERROR, remark: 'The half message has no valid REAL_TOPIC/REAL_QID' };
        }
        const put = await storeMessageWithRouting(this.deps, msg);
        const stored = storedCode(put);
        if (stored.code !== ResponseCode.SUCCESS) {
          this.logger.warn({ ...req, status: put.status, reason: put.reason }, 'committed message could not be stored');
          return stored;
        }
      }
      await this.writeOp(half, originOffsetOf(half), req.action);
      this.registry.markEnded(key, req.action);
      if (req.action === 'COMMIT') this.stats.commits++;
      else this.stats.rollbacks++;
      this.logger.debug(
        { action: req.action, group: req.producerGroup, halfOffset: half.queueOffset, fromCheck: req.fromTransactionCheck === true },
        'transaction ended',
      );
      return { code: ResponseCode.SUCCESS };
    } finally {
      release();
    }
  }

  /**
   * `deletePrepareMessage`: the op record. A failure is logged, not returned: the real message (if any)
   * is already stored, and the in-memory registry still stops a second delivery until a restart.
   */
  private async writeOp(half: MessageRecord, originOffset: number, outcome: TransactionOutcome): Promise<void> {
    const op = toOpMessage(half.queueId, [half.queueOffset], originOffset, outcome, this.deps.storeHost, this.clock.now());
    try {
      const result = await this.store.putMessage(op);
      if (result.status !== 'PUT_OK' && result.status !== 'FLUSH_DISK_TIMEOUT') {
        this.logger.error({ status: result.status, reason: result.reason, halfOffset: half.queueOffset }, 'op record not stored');
      }
    } catch (err) {
      this.logger.error({ err, halfOffset: half.queueOffset }, 'op record not stored');
    }
  }
}

/** `sendFinalMessage`: PUT_OK and FLUSH_DISK_TIMEOUT are success for END. */
function storedCode(result: PutMessageResult): EndTransactionResult {
  if (result.status === 'PUT_OK' || result.status === 'FLUSH_DISK_TIMEOUT') return { code: ResponseCode.SUCCESS };
  return putResultToResponseCode(result);
}

export function decodeSafe(buf: Buffer): MessageRecord | undefined {
  try {
    return decodeMessageRecord(buf, 0, { copyBody: true }).record;
  } catch {
    return undefined;
  }
}
