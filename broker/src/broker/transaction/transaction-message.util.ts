/**
 * Pure message transforms for transactional messages (RocketMQ `TransactionalMessageUtil`,
 * `TransactionalMessageBridge.parseHalfMessageInner` / `renewHalfMessageInner`,
 * `EndTransactionProcessor.endMessageTransaction`, `AbstractTransactionalMessageCheckListener.sendCheckMessage`).
 *
 * Lineage: every re-appended copy of a half message carries `TRAN_PREPARED_QUEUE_OFFSET` = the queue
 * offset of the first half record (RocketMQ 5.x sets it on "immunity" copies only; we set it on every
 * copy). The pair (half queueId, origin offset) names one transaction instance across copies, so an
 * END for any copy, or a late END for the original, is applied at most once.
 */
import type { MessageRecord, MessageRecordInput } from '../../protocol/message-record';
import { MessageConst, MessageSysFlag, TopicNames, transactionType, withTransactionType } from '../../protocol/message-const';
import type { HostAddress } from '../../protocol/message-record';
import type { PutMessageRequest } from '../../store/types';

/** `TransactionalMessageUtil.buildConsumerGroup()`: the system group whose offsets track check progress. */
export const TRANSACTION_CHECK_GROUP = 'CID_RMQ_SYS_TRANS';
/** `TransactionalMessageUtil.REMOVETAG`: the tag of op records. */
export const OP_REMOVE_TAG = 'd';
/** `TransactionalMessageUtil.OFFSET_SEPARATOR` (5.x op bodies may join several half offsets). */
export const OP_OFFSET_SEPARATOR = ',';
/** Rocketry-only op property: which END wrote the op record (COMMIT / ROLLBACK). Java brokers ignore it. */
export const OP_OUTCOME_PROPERTY = 'TRAN_END';

export type TransactionOutcome = 'COMMIT' | 'ROLLBACK';

/** Java's `Boolean.parseBoolean`. */
function isTrue(value: string | undefined): boolean {
  return value !== undefined && value.toLowerCase() === 'true';
}

/** A send that must be parked as a half message: TRAN_MSG=true (what Java routes on) or a PREPARED sysFlag. */
export function isTransactionalSend(properties: Readonly<Record<string, string>>, sysFlag: number): boolean {
  return isTrue(properties[MessageConst.TRAN_MSG]) || transactionType(sysFlag) === MessageSysFlag.TRANSACTION_PREPARED_TYPE;
}

/**
 * `parseHalfMessageInner`: REAL_TOPIC / REAL_QID added, transaction bits reset to NOT, topic
 * RMQ_SYS_TRANS_HALF_TOPIC queue 0. PGROUP falls back to the send header's producer group, so the
 * check service always knows whom to ask.
 */
export function toHalfMessage(msg: PutMessageRequest, producerGroup: string): PutMessageRequest {
  const properties: Record<string, string> = {
    ...msg.properties,
    [MessageConst.REAL_TOPIC]: msg.topic,
    [MessageConst.REAL_QID]: String(msg.queueId),
  };
  if (!properties[MessageConst.PGROUP]) properties[MessageConst.PGROUP] = producerGroup;
  return {
    ...msg,
    topic: TopicNames.TRANS_HALF_TOPIC,
    queueId: 0,
    properties,
    sysFlag: withTransactionType(msg.sysFlag, MessageSysFlag.TRANSACTION_NOT_TYPE),
  };
}

/** Queue offset of the first record of this half's lineage. */
export function originOffsetOf(half: Pick<MessageRecord, 'properties' | 'queueOffset'>): number {
  const raw = half.properties[MessageConst.TRAN_PREPARED_QUEUE_OFFSET];
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : half.queueOffset;
}

/** Registry key of one transaction instance (see the lineage note above). */
export function lineageKey(halfQueueId: number, originOffset: number): string {
  return `${halfQueueId}:${originOffset}`;
}

/** The real destination of a half message, or undefined when REAL_TOPIC/REAL_QID are unusable. */
export function realDestinationOf(half: Pick<MessageRecord, 'properties'>): { topic: string; queueId: number } | undefined {
  const topic = half.properties[MessageConst.REAL_TOPIC];
  const queueId = Number(half.properties[MessageConst.REAL_QID]);
  if (!topic || !Number.isInteger(queueId) || queueId < 0) return undefined;
  return { topic, queueId };
}

/**
 * `endMessageTransaction` + the COMMIT branch of `EndTransactionProcessor`: the real message, with
 * transaction type COMMIT, preparedTransactionOffset = the half's CommitLog offset and the half's store
 * time. TRAN_MSG / PGROUP stay in the properties (as 4.x stores them); REAL_* and our lineage marker go.
 */
export function toCommittedMessage(half: MessageRecord): PutMessageRequest | undefined {
  const dest = realDestinationOf(half);
  if (!dest) return undefined;
  const properties = { ...half.properties };
  delete properties[MessageConst.REAL_TOPIC];
  delete properties[MessageConst.REAL_QID];
  delete properties[MessageConst.TRAN_PREPARED_QUEUE_OFFSET];
  delete properties[MessageConst.WAIT];
  return {
    topic: dest.topic,
    queueId: dest.queueId,
    flag: half.flag,
    body: Buffer.from(half.body),
    properties,
    sysFlag: withTransactionType(half.sysFlag, MessageSysFlag.TRANSACTION_COMMIT_TYPE),
    bornTimestamp: half.bornTimestamp,
    bornHost: half.bornHost,
    reconsumeTimes: half.reconsumeTimes,
    preparedTransactionOffset: half.physicalOffset,
    storeTimestamp: half.storeTimestamp,
  };
}

/**
 * The op record that marks half offsets as resolved: topic RMQ_SYS_TRANS_OP_HALF_TOPIC, the half's
 * queueId, tag `d`, body = the half queue offsets in decimal joined by `,`.
 */
export function toOpMessage(
  halfQueueId: number,
  halfQueueOffsets: readonly number[],
  originOffset: number,
  outcome: TransactionOutcome,
  storeHost: HostAddress,
  nowMs: number,
): PutMessageRequest {
  return {
    topic: TopicNames.TRANS_OP_HALF_TOPIC,
    queueId: halfQueueId,
    flag: 0,
    body: Buffer.from(halfQueueOffsets.map(String).join(OP_OFFSET_SEPARATOR), 'utf8'),
    properties: {
      [MessageConst.TAGS]: OP_REMOVE_TAG,
      [MessageConst.TRAN_PREPARED_QUEUE_OFFSET]: String(originOffset),
      [OP_OUTCOME_PROPERTY]: outcome,
    },
    sysFlag: 0,
    bornTimestamp: nowMs,
    bornHost: storeHost,
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
  };
}

/** Half queue offsets named by an op record body; invalid pieces are dropped. */
export function parseOpBody(body: Buffer): number[] {
  const out: number[] = [];
  for (const piece of body.toString('utf8').split(OP_OFFSET_SEPARATOR)) {
    const text = piece.trim();
    if (!/^\d{1,16}$/.test(text)) continue;
    const n = Number(text);
    if (Number.isSafeInteger(n)) out.push(n);
  }
  return out;
}

/**
 * `renewHalfMessageInner`: the half again at the end of the half queue, with new properties (check
 * times, lineage marker). The store assigns a new offset and store time.
 */
export function toRenewedHalf(half: MessageRecord, properties: Record<string, string>): PutMessageRequest {
  return {
    topic: half.topic,
    queueId: half.queueId,
    flag: half.flag,
    body: Buffer.from(half.body),
    properties,
    sysFlag: half.sysFlag,
    bornTimestamp: half.bornTimestamp,
    bornHost: half.bornHost,
    reconsumeTimes: half.reconsumeTimes,
    preparedTransactionOffset: half.preparedTransactionOffset,
  };
}

/** `needDiscard` / the TRANSACTION_CHECK_TIMES property: checks already sent (0 when absent or bad). */
export function checkTimesOf(half: Pick<MessageRecord, 'properties'>): number {
  const raw = half.properties[MessageConst.TRANSACTION_CHECK_TIMES];
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/** `getImmunityTime`: CHECK_IMMUNITY_TIME_IN_SECONDS in ms, or undefined when absent/invalid. */
export function immunityMsOf(half: Pick<MessageRecord, 'properties'>): number | undefined {
  const raw = half.properties[MessageConst.CHECK_IMMUNITY_TIME_IN_SECONDS];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 ? n * 1000 : undefined;
}

/** Inputs of the CHECK_TRANSACTION_STATE body: the renewed half as the producer should see it. */
export function checkBodyInput(
  half: MessageRecord,
  renewed: { properties: Record<string, string>; queueOffset: number; physicalOffset: number; storeTimestamp: number },
): MessageRecordInput | undefined {
  const dest = realDestinationOf(half);
  if (!dest) return undefined;
  return {
    queueId: dest.queueId,
    flag: half.flag,
    queueOffset: renewed.queueOffset,
    physicalOffset: renewed.physicalOffset,
    sysFlag: half.sysFlag,
    bornTimestamp: half.bornTimestamp,
    bornHost: half.bornHost,
    storeTimestamp: renewed.storeTimestamp,
    storeHost: half.storeHost,
    reconsumeTimes: half.reconsumeTimes,
    preparedTransactionOffset: half.preparedTransactionOffset,
    body: half.body,
    topic: dest.topic,
    properties: renewed.properties,
  };
}
