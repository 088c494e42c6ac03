/**
 * Message-level constants shared by the codec, the store and the broker: sysFlag bits, property keys,
 * pull sysFlag bits, permission bits and topic name rules (RocketMQ `MessageSysFlag`, `MessageConst`,
 * `PullSysFlag`, `PermName`, `TopicSysFlag`, `MixAll`).
 */

/**
 * Message sysFlag (`MessageSysFlag.java`):
 *
 *   bit  10 9 8 | 7           | 6           | 5            | 4           | 3 2         | 1          | 0
 *        compr. | INNER_BATCH | NEED_UNWRAP | STOREHOST_V6 | BORNHOST_V6 | transaction | MULTI_TAGS | COMPRESSED
 *
 * Transaction type (mask 0xC): NOT 0x0, PREPARED 0x4, COMMIT 0x8, ROLLBACK 0xC.
 * Compression type (mask 0x700): LZ4 0x100, ZSTD 0x200, ZLIB 0x300; 0 with COMPRESSED set means zlib (4.x).
 */
export const MessageSysFlag = {
  COMPRESSED: 0x1,
  MULTI_TAGS: 0x2,
  TRANSACTION_NOT_TYPE: 0x0,
  TRANSACTION_PREPARED_TYPE: 0x4,
  TRANSACTION_COMMIT_TYPE: 0x8,
  TRANSACTION_ROLLBACK_TYPE: 0xc,
  TRANSACTION_MASK: 0xc,
  BORNHOST_V6: 0x10,
  STOREHOST_V6: 0x20,
  NEED_UNWRAP: 0x40,
  INNER_BATCH: 0x80,
  COMPRESSION_LZ4: 0x100,
  COMPRESSION_ZSTD: 0x200,
  COMPRESSION_ZLIB: 0x300,
  COMPRESSION_TYPE_MASK: 0x700,
} as const;

/** Transaction type bits of a sysFlag (one of the TRANSACTION_* values). */
export function transactionType(sysFlag: number): number {
  return sysFlag & MessageSysFlag.TRANSACTION_MASK;
}

/** Replaces the transaction type bits of `sysFlag` with `type`. */
export function withTransactionType(sysFlag: number, type: number): number {
  return (sysFlag & ~MessageSysFlag.TRANSACTION_MASK) | (type & MessageSysFlag.TRANSACTION_MASK);
}

/** PULL_MESSAGE request sysFlag (`PullSysFlag.java`). */
export const PullSysFlag = {
  COMMIT_OFFSET: 0x1,
  SUSPEND: 0x2,
  SUBSCRIPTION: 0x4,
  CLASS_FILTER: 0x8,
  LITE_PULL: 0x10,
} as const;

export function buildPullSysFlag(commitOffset: boolean, suspend: boolean, subscription: boolean, classFilter = false): number {
  return (
    (commitOffset ? PullSysFlag.COMMIT_OFFSET : 0) |
    (suspend ? PullSysFlag.SUSPEND : 0) |
    (subscription ? PullSysFlag.SUBSCRIPTION : 0) |
    (classFilter ? PullSysFlag.CLASS_FILTER : 0)
  );
}

/** Topic / broker permission bits (`PermName.java`). */
export const PermName = {
  PRIORITY: 0x8,
  READ: 0x4,
  WRITE: 0x2,
  INHERIT: 0x1,
} as const;

export function isReadable(perm: number): boolean {
  return (perm & PermName.READ) === PermName.READ;
}
export function isWriteable(perm: number): boolean {
  return (perm & PermName.WRITE) === PermName.WRITE;
}
export function isInherited(perm: number): boolean {
  return (perm & PermName.INHERIT) === PermName.INHERIT;
}

/** Topic sysFlag (`TopicSysFlag.java`). */
export const TopicSysFlag = { UNIT: 0x1, UNIT_SUB: 0x2 } as const;

/** Property keys (`MessageConst.java`). Values are the literal wire keys. */
export const MessageConst = {
  KEYS: 'KEYS',
  TAGS: 'TAGS',
  WAIT: 'WAIT',
  DELAY: 'DELAY',
  RETRY_TOPIC: 'RETRY_TOPIC',
  REAL_TOPIC: 'REAL_TOPIC',
  REAL_QID: 'REAL_QID',
  TRAN_MSG: 'TRAN_MSG',
  PGROUP: 'PGROUP',
  MIN_OFFSET: 'MIN_OFFSET',
  MAX_OFFSET: 'MAX_OFFSET',
  BUYER_ID: 'BUYER_ID',
  ORIGIN_MESSAGE_ID: 'ORIGIN_MESSAGE_ID',
  TRANSFER_FLAG: 'TRANSFER_FLAG',
  CORRECTION_FLAG: 'CORRECTION_FLAG',
  MQ2_FLAG: 'MQ2_FLAG',
  RECONSUME_TIME: 'RECONSUME_TIME',
  MSG_REGION: 'MSG_REGION',
  TRACE_ON: 'TRACE_ON',
  UNIQ_KEY: 'UNIQ_KEY',
  EXTEND_UNIQ_INFO: 'EXTEND_UNIQ_INFO',
  MAX_RECONSUME_TIMES: 'MAX_RECONSUME_TIMES',
  CONSUME_START_TIME: 'CONSUME_START_TIME',
  INNER_NUM: 'INNER_NUM',
  INNER_BASE: 'INNER_BASE',
  DUP_INFO: 'DUP_INFO',
  CHECK_IMMUNITY_TIME_IN_SECONDS: 'CHECK_IMMUNITY_TIME_IN_SECONDS',
  TRAN_PREPARED_QUEUE_OFFSET: 'TRAN_PREPARED_QUEUE_OFFSET',
  TRANSACTION_ID: '__transactionId__',
  TRANSACTION_CHECK_TIMES: 'TRANSACTION_CHECK_TIMES',
  INSTANCE_ID: 'INSTANCE_ID',
  CORRELATION_ID: 'CORRELATION_ID',
  REPLY_TO_CLIENT: 'REPLY_TO_CLIENT',
  TTL: 'TTL',
  ARRIVE_TIME: 'ARRIVE_TIME',
  PUSH_REPLY_TIME: 'PUSH_REPLY_TIME',
  MSG_TYPE: 'MSG_TYPE',
  CLUSTER: 'CLUSTER',
  SHARDING_KEY: '__SHARDINGKEY',
  TIMER_DELIVER_MS: 'TIMER_DELIVER_MS',
  TIMER_DELAY_MS: 'TIMER_DELAY_MS',
  TIMER_DELAY_SEC: 'TIMER_DELAY_SEC',
  START_DELIVER_TIME: '__STARTDELIVERTIME',
  DLQ_ORIGIN_TOPIC: 'DLQ_ORIGIN_TOPIC',
  DLQ_ORIGIN_MESSAGE_ID: 'DLQ_ORIGIN_MESSAGE_ID',
  /** Set in QUERY_MESSAGE extFields by clients looking up a UNIQ_KEY. */
  UNIQUE_KEY_QUERY: '_UNIQUE_KEY_QUERY',
  /** Separator of the KEYS property. */
  KEY_SEPARATOR: ' ',
} as const;

/** Topic / group naming (`MixAll.java`, `TopicValidator.java`). */
export const TopicNames = {
  RETRY_GROUP_TOPIC_PREFIX: '%RETRY%',
  DLQ_GROUP_TOPIC_PREFIX: '%DLQ%',
  AUTO_CREATE_TOPIC_KEY: 'TBW102',
  SCHEDULE_TOPIC: 'SCHEDULE_TOPIC_XXXX',
  TRANS_HALF_TOPIC: 'RMQ_SYS_TRANS_HALF_TOPIC',
  TRANS_OP_HALF_TOPIC: 'RMQ_SYS_TRANS_OP_HALF_TOPIC',
  TRANS_CHECK_MAX_TIME_TOPIC: 'TRANS_CHECK_MAX_TIME_TOPIC',
  SELF_TEST_TOPIC: 'SELF_TEST_TOPIC',
  OFFSET_MOVED_EVENT: 'OFFSET_MOVED_EVENT',
  BENCHMARK_TOPIC: 'BenchmarkTest',
  TRACE_TOPIC: 'RMQ_SYS_TRACE_TOPIC',
  CLIENT_INNER_PRODUCER_GROUP: 'CLIENT_INNER_PRODUCER',
  ORDER_TOPIC_CONFIG_NAMESPACE: 'ORDER_TOPIC_CONFIG',
  /** Max topic length for normal topics (V1 records carry a 1-byte topic length). */
  TOPIC_MAX_LENGTH: 127,
} as const;

export function retryTopic(group: string): string {
  return TopicNames.RETRY_GROUP_TOPIC_PREFIX + group;
}
export function dlqTopic(group: string): string {
  return TopicNames.DLQ_GROUP_TOPIC_PREFIX + group;
}
export function isRetryTopic(topic: string): boolean {
  return topic.startsWith(TopicNames.RETRY_GROUP_TOPIC_PREFIX);
}
export function isDlqTopic(topic: string): boolean {
  return topic.startsWith(TopicNames.DLQ_GROUP_TOPIC_PREFIX);
}

const TOPIC_CHARS = /^[%|a-zA-Z0-9_-]+$/;
/** `TopicValidator.validateTopic` character and length rule; returns an error text or undefined. */
export function validateTopicName(topic: string, maxLength: number = TopicNames.TOPIC_MAX_LENGTH): string | undefined {
  if (topic.length === 0) return 'the specified topic is blank';
  if (topic.length > maxLength) return `the specified topic is longer than topic max length ${maxLength}`;
  if (!TOPIC_CHARS.test(topic)) return `the specified topic[${topic}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$`;
  return undefined;
}
