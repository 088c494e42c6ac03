/**
 * An in-memory MessageStore for broker-clients specs: real record encoding (protocol codec), one
 * "ConsumeQueue" array per topic/queue, SCHEDULE_TOPIC_XXXX tagsCode = storeTimestamp + level delay, and
 * dispatch events after each put (on a microtask, like an asynchronous dispatcher). Failures can be
 * injected with `failNextPuts`.
 */
import type { Clock } from '../../common/clock';
import { systemClock } from '../../common/clock';
import { decodeMessageRecord, encodeMessageRecord, type HostAddress, type MessageRecord } from '../../protocol/message-record';
import { createOffsetMessageId } from '../../protocol/message-id';
import { tagsCode } from '../../protocol/tag-hash';
import type {
  DispatchEvent,
  GetMessageResult,
  MessageFilter,
  MessageStore,
  PutMessageRequest,
  PutMessageResult,
  PutMessageStatus,
  QueryMessageResult,
} from '../../store/types';
import { SystemTopic } from '../constants';

interface CqEntry {
  physicalOffset: number;
  tagsCode: number;
  storeTimestamp: number;
}

export class InMemoryMessageStore implements MessageStore {
  readonly records = new Map<number, Buffer>();
  private readonly queues = new Map<string, CqEntry[]>();
  private readonly listeners = new Set<(e: DispatchEvent) => void>();
  private nextPhysicalOffset = 0;
  /** The next N puts fail with `failStatus`. */
  failNextPuts = 0;
  failStatus: PutMessageStatus = 'SERVICE_NOT_AVAILABLE';
  puts: PutMessageRequest[] = [];

  constructor(
    private readonly delayLevelsMs: readonly number[] = [],
    private readonly clock: Clock = systemClock,
    readonly storeHost: HostAddress = { host: '127.0.0.1', port: 10911 },
  ) {}

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  async putMessage(msg: PutMessageRequest): Promise<PutMessageResult> {
    if (this.failNextPuts > 0) {
      this.failNextPuts--;
      return { status: this.failStatus, appended: [], reason: 'injected failure' };
    }
    this.puts.push(msg);
    const key = `${msg.topic}@${msg.queueId}`;
    let cq = this.queues.get(key);
    if (!cq) {
      cq = [];
      this.queues.set(key, cq);
    }
    const storeTimestamp = msg.storeTimestamp ?? this.clock.now();
    const physicalOffset = this.nextPhysicalOffset;
    const queueOffset = cq.length;
    const buf = encodeMessageRecord({
      queueId: msg.queueId,
      flag: msg.flag,
      queueOffset,
      physicalOffset,
      sysFlag: msg.sysFlag,
      bornTimestamp: msg.bornTimestamp,
      bornHost: msg.bornHost,
      storeTimestamp,
      storeHost: this.storeHost,
      reconsumeTimes: msg.reconsumeTimes,
      preparedTransactionOffset: msg.preparedTransactionOffset,
      body: msg.body,
      topic: msg.topic,
      properties: msg.properties,
    });
    this.records.set(physicalOffset, buf);
    this.nextPhysicalOffset += buf.length;
    const level = Number(msg.properties.DELAY ?? 0);
    const code =
      msg.topic === SystemTopic.SCHEDULE ? storeTimestamp + (this.delayLevelsMs[level - 1] ?? 0) : tagsCode(msg.properties.TAGS);
    cq.push({ physicalOffset, tagsCode: code, storeTimestamp });
    const event: DispatchEvent = {
      topic: msg.topic,
      queueId: msg.queueId,
      queueOffset,
      physicalOffset,
      size: buf.length,
      tagsCode: code,
      storeTimestamp,
      properties: msg.properties,
    };
    queueMicrotask(() => {
      for (const l of this.listeners) l(event);
    });
    return {
      status: 'PUT_OK',
      appended: [{ physicalOffset, wroteBytes: buf.length, queueOffset, msgId: createOffsetMessageId(this.storeHost, physicalOffset), storeTimestamp }],
    };
  }

  async putMessages(batch: PutMessageRequest[]): Promise<PutMessageResult> {
    const appended = [];
    for (const m of batch) appended.push(...(await this.putMessage(m)).appended);
    return { status: 'PUT_OK', appended };
  }

  getMessage(topic: string, queueId: number, offset: number, maxMsgNums: number, filter?: MessageFilter): GetMessageResult {
    const cq = this.queues.get(`${topic}@${queueId}`);
    const base = { minOffset: 0, maxOffset: cq?.length ?? 0, records: [] as Buffer[], totalBytes: 0 };
    if (!cq || cq.length === 0) return { ...base, status: 'NO_MESSAGE_IN_QUEUE', nextBeginOffset: 0 };
    if (offset === cq.length) return { ...base, status: 'OFFSET_OVERFLOW_ONE', nextBeginOffset: offset };
    if (offset > cq.length) return { ...base, status: 'OFFSET_OVERFLOW_BADLY', nextBeginOffset: cq.length };
    if (offset < 0) return { ...base, status: 'OFFSET_TOO_SMALL', nextBeginOffset: 0 };
    const records: Buffer[] = [];
    let i = offset;
    for (; i < cq.length && records.length < maxMsgNums; i++) {
      const e = cq[i]!;
      if (filter && !filter.isMatchedByConsumeQueue(e.tagsCode)) continue;
      records.push(this.records.get(e.physicalOffset)!);
    }
    return {
      ...base,
      status: records.length > 0 ? 'FOUND' : 'NO_MATCHED_MESSAGE',
      nextBeginOffset: i,
      records,
      totalBytes: records.reduce((n, b) => n + b.length, 0),
    };
  }

  getMaxOffsetInQueue(topic: string, queueId: number): number {
    return this.queues.get(`${topic}@${queueId}`)?.length ?? 0;
  }
  getMinOffsetInQueue(): number {
    return 0;
  }
  getMessageStoreTimestamp(topic: string, queueId: number, queueOffset: number): number {
    return this.queues.get(`${topic}@${queueId}`)?.[queueOffset]?.storeTimestamp ?? -1;
  }
  getEarliestMessageTime(topic: string, queueId: number): number {
    return this.getMessageStoreTimestamp(topic, queueId, 0);
  }
  getOffsetInQueueByTime(): number {
    return 0;
  }
  lookMessageByOffset(physicalOffset: number): MessageRecord | null {
    const buf = this.records.get(physicalOffset);
    return buf ? decodeMessageRecord(buf, 0, { copyBody: true }).record : null;
  }
  readRecordBytes(physicalOffset: number): Buffer | null {
    return this.records.get(physicalOffset) ?? null;
  }
  queryMessage(): QueryMessageResult {
    return { records: [], indexLastUpdateTimestamp: 0, indexLastUpdatePhyoffset: 0 };
  }
  listQueues(): Array<{ topic: string; queueId: number }> {
    return [...this.queues.keys()].map((k) => {
      const at = k.lastIndexOf('@');
      return { topic: k.slice(0, at), queueId: Number(k.slice(at + 1)) };
    });
  }
  getMaxPhyOffset(): number {
    return this.nextPhysicalOffset;
  }
  getMinPhyOffset(): number {
    return 0;
  }
  onDispatch(listener: (event: DispatchEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Decoded messages of one queue, in order (assertions). */
  messagesIn(topic: string, queueId: number): MessageRecord[] {
    const cq = this.queues.get(`${topic}@${queueId}`) ?? [];
    return cq.map((e) => decodeMessageRecord(this.records.get(e.physicalOffset)!, 0).record);
  }
}
