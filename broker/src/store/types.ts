/**
 * CONTRACT (owned by the store module). The message store: CommitLog + ConsumeQueue + IndexFile.
 * Storage returns outcomes (status values); processors map them to wire codes.
 */
import type { HostAddress, MessageRecord } from '../protocol/message-record';

export type FlushDiskType = 'ASYNC_FLUSH' | 'SYNC_FLUSH';

export interface MessageStoreConfig {
  /** Root folder: commitlog/, consumequeue/, index/, config/, checkpoint, abort. */
  storePathRootDir: string;
  /** CommitLog segment size. RocketMQ default 1 GiB. */
  mappedFileSizeCommitLog: number;
  /** ConsumeQueue entries per file (x20 bytes). RocketMQ default 300000. */
  mappedFileSizeConsumeQueueEntries: number;
  flushDiskType: FlushDiskType;
  /** ASYNC_FLUSH period. Default 500. */
  flushIntervalCommitLogMs: number;
  /** SYNC_FLUSH: an ack waits at most this long for fdatasync, then FLUSH_DISK_TIMEOUT. Default 5000. */
  syncFlushTimeoutMs: number;
  /** Max body bytes. Default 4 MiB. */
  maxMessageSize: number;
  /** Hours to keep CommitLog files. Default 72. */
  fileReservedTimeHours: number;
  /** Hour of day (0-23) for retention deletion; "04" in RocketMQ. Retention also runs when disk is over the ratio. */
  deleteWhen: number;
  /** Writes are refused (SERVICE_NOT_AVAILABLE) when the disk holding the store is fuller than this percent. Default 90. */
  diskMaxUsedSpaceRatio: number;
  /** e.g. "1s 5s 10s 30s 1m ..."; the store needs it to compute SCHEDULE_TOPIC_XXXX due times. */
  messageDelayLevel: string;
  /** Index file sizing; RocketMQ 5,000,000 slots / 20,000,000 entries. Tests use small values. */
  maxHashSlotNum: number;
  maxIndexNum: number;
  /** Advertised `ip:port` written as STOREHOST. */
  storeHost: HostAddress;
}

/** A message as the broker hands it to the store (before the store assigns offsets). */
export interface PutMessageRequest {
  topic: string;
  queueId: number;
  flag: number;
  body: Buffer;
  properties: Record<string, string>;
  sysFlag: number;
  bornTimestamp: number;
  bornHost: HostAddress;
  reconsumeTimes: number;
  preparedTransactionOffset: number;
  /** Override the store timestamp (delay/transaction re-puts keep the original). */
  storeTimestamp?: number;
}

export type PutMessageStatus =
  | 'PUT_OK'
  | 'FLUSH_DISK_TIMEOUT'
  | 'SERVICE_NOT_AVAILABLE'
  | 'MESSAGE_ILLEGAL'
  | 'PROPERTIES_SIZE_EXCEEDED'
  | 'UNKNOWN_ERROR';

export interface AppendedMessage {
  physicalOffset: number;
  wroteBytes: number;
  queueOffset: number;
  /** Offset message id: storeHost ip+port + physicalOffset, 32 uppercase hex chars for IPv4. */
  msgId: string;
  storeTimestamp: number;
}

export interface PutMessageResult {
  status: PutMessageStatus;
  /** One entry per stored message (batches have several); empty unless PUT_OK / FLUSH_DISK_TIMEOUT. */
  appended: AppendedMessage[];
  /** Why, for logs and remarks. */
  reason?: string;
}

export type GetMessageStatus =
  | 'FOUND'
  | 'NO_MATCHED_MESSAGE'
  | 'MESSAGE_WAS_REMOVING'
  | 'OFFSET_FOUND_NULL'
  | 'OFFSET_OVERFLOW_BADLY'
  | 'OFFSET_OVERFLOW_ONE'
  | 'OFFSET_TOO_SMALL'
  | 'NO_MATCHED_LOGIC_QUEUE'
  | 'NO_MESSAGE_IN_QUEUE';

/** Decides from a ConsumeQueue tagsCode, then (optionally) the decoded properties, whether a message matches. */
export interface MessageFilter {
  isMatchedByConsumeQueue(tagsCode: number): boolean;
  isMatchedByCommitLog?(properties: Record<string, string>): boolean;
}

export interface GetMessageResult {
  status: GetMessageStatus;
  nextBeginOffset: number;
  minOffset: number;
  maxOffset: number;
  /** Raw stored records, byte for byte as in the CommitLog (pull reply body = concat). */
  records: Buffer[];
  totalBytes: number;
}

/** Emitted after a record's ConsumeQueue entry exists (long polling wakes on it). */
export interface DispatchEvent {
  topic: string;
  queueId: number;
  queueOffset: number;
  physicalOffset: number;
  size: number;
  tagsCode: number;
  storeTimestamp: number;
  properties: Record<string, string>;
}

export interface QueryMessageResult {
  records: Buffer[];
  indexLastUpdateTimestamp: number;
  indexLastUpdatePhyoffset: number;
}

export interface MessageStore {
  /** Recovers (truncates torn tail, rebuilds derived files as needed) and starts flush/retention services. */
  start(): Promise<void>;
  /** Flushes everything and writes the checkpoint; removes the abort marker. */
  shutdown(): Promise<void>;

  putMessage(msg: PutMessageRequest): Promise<PutMessageResult>;
  /** All messages share topic/queue and land with consecutive queue offsets; one outcome for the batch. */
  putMessages(batch: PutMessageRequest[]): Promise<PutMessageResult>;

  getMessage(topic: string, queueId: number, offset: number, maxMsgNums: number, filter?: MessageFilter): GetMessageResult;
  getMaxOffsetInQueue(topic: string, queueId: number): number;
  getMinOffsetInQueue(topic: string, queueId: number): number;
  /** Store timestamp of the message at that logical offset, or -1. */
  getMessageStoreTimestamp(topic: string, queueId: number, queueOffset: number): number;
  getEarliestMessageTime(topic: string, queueId: number): number;
  /** Logical offset whose store time is nearest `timestampMs` (RocketMQ 4.9.7 semantics). */
  getOffsetInQueueByTime(topic: string, queueId: number, timestampMs: number): number;

  /** Reads and decodes the record at a CommitLog offset; null if absent/invalid. */
  lookMessageByOffset(physicalOffset: number): MessageRecord | null;
  /** Raw record bytes at a CommitLog offset; null if absent/invalid. */
  readRecordBytes(physicalOffset: number): Buffer | null;

  /** Index lookup of `topic#key` within [beginMs, endMs]. */
  queryMessage(topic: string, key: string, maxNum: number, beginMs: number, endMs: number): QueryMessageResult;

  /** Topics/queues that have a ConsumeQueue (for admin/status and config rebuild). */
  listQueues(): Array<{ topic: string; queueId: number }>;
  getMaxPhyOffset(): number;
  getMinPhyOffset(): number;
  /** Subscribes to dispatch events; returns an unsubscribe function. */
  onDispatch(listener: (event: DispatchEvent) => void): () => void;
}
