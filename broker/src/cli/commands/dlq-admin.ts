/**
 * Dead-letter queue tools shared by `rocketry admin dlq*` and the framework's `createDlqAdmin`:
 * list, inspect, replay and purge `%DLQ%<group>` topics over the plain remoting protocol, so they
 * work against this broker and Apache RocketMQ alike.
 *
 * What "purge" means: RocketMQ cannot delete single messages; the CommitLog keeps them until retention
 * (fileReservedTime, 72 h by default) removes whole files. Purge therefore advances the offsets of a
 * dedicated admin group (`DLQ_ADMIN_GROUP`) on `%DLQ%<group>` to the queue's max offset. list,
 * inspect and replay start from those offsets, so purged messages disappear from these tools; a
 * consumer group that reads the DLQ (a `@DlqListener`) keeps its own offsets and is not affected.
 *
 * Reasons: the framework's listener container writes `ROCKETRY_DLQ_REASON` (and the listener and the
 * time) on the copy it dead-letters through `%RETRY%<group>` (see framework/src/dlq/dead-letter.ts).
 * Messages dead-lettered by other clients (or by the send-back fallback) have no reason.
 *
 * Apache brokers before 4.9 create `%DLQ%` topics write-only (perm 2): make one readable with
 * `updateTopic -t %DLQ%<group> -p 6` before listing it.
 */
import * as zlib from 'node:zlib';
import { buildPullSysFlag, dlqTopic, isWriteable, MessageConst, MessageSysFlag, TopicNames } from '../../protocol/message-const';
import { createOffsetMessageId } from '../../protocol/message-id';
import { decodeMessageRecords, encodeProperties, formatHostAddress, type MessageRecord } from '../../protocol/message-record';
import {
  OffsetResponseHeader,
  PullMessageRequestHeader,
  PullMessageResponseHeader,
  QueryConsumerOffsetRequestHeader,
  QueryConsumerOffsetResponseHeader,
  SendMessageRequestHeaderV2,
  sendHeaderToV2,
  UpdateConsumerOffsetRequestHeader,
} from '../../protocol/headers';
import { masterAddress } from '../../protocol/bodies';
import { createRequest } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import { AdminClient, DEFAULT_ADMIN_TIMEOUT_MS, type TopicRoute } from '../admin-client';
import { CliError, usageError } from '../cli-error';

/** Properties the framework writes on a message it dead-letters (kept by the broker into `%DLQ%`). */
export const DLQ_PROPERTIES = {
  /** The last failure, at most `DLQ_REASON_MAX_CHARS` characters. */
  REASON: 'ROCKETRY_DLQ_REASON',
  /** `Class.method` of the listener that gave up. */
  LISTENER: 'ROCKETRY_DLQ_LISTENER',
  /** Epoch ms when it was dead-lettered. */
  DEAD_AT: 'ROCKETRY_DLQ_TIME',
  /** On a replayed message: the offset msgId of the dead letter it came from. */
  REPLAYED_FROM: 'ROCKETRY_REPLAYED_FROM',
} as const;

export const DLQ_REASON_MAX_CHARS = 1_024;

/** The consumer group whose offsets on `%DLQ%<group>` mark what purge removed. */
export const DLQ_ADMIN_GROUP = 'ROCKETRY_DLQ_ADMIN';

/** Messages read per PULL_MESSAGE and in all per listing (bounded). */
const PULL_BATCH = 32;
export const DLQ_LIST_DEFAULT_LIMIT = 100;
const SCAN_MAX_MESSAGES = 100_000;

const GROUP_PATTERN = /^[%|a-zA-Z0-9_-]{1,255}$/;

/** Properties the broker or a consumer adds that must not travel with a replayed message. */
const REPLAY_DROPPED_PROPERTIES = [
  MessageConst.RETRY_TOPIC,
  MessageConst.ORIGIN_MESSAGE_ID,
  MessageConst.DELAY,
  MessageConst.REAL_TOPIC,
  MessageConst.REAL_QID,
  MessageConst.MIN_OFFSET,
  MessageConst.MAX_OFFSET,
  MessageConst.CLUSTER,
  MessageConst.WAIT,
  MessageConst.TRAN_MSG,
  MessageConst.PGROUP,
  MessageConst.TRAN_PREPARED_QUEUE_OFFSET,
  MessageConst.RECONSUME_TIME,
  MessageConst.MAX_RECONSUME_TIMES,
  MessageConst.CONSUME_START_TIME,
  MessageConst.START_DELIVER_TIME,
  MessageConst.TIMER_DELIVER_MS,
  MessageConst.TIMER_DELAY_MS,
  MessageConst.TIMER_DELAY_SEC,
  DLQ_PROPERTIES.REASON,
  DLQ_PROPERTIES.LISTENER,
  DLQ_PROPERTIES.DEAD_AT,
];

export interface DeadLetter {
  /** The consumer group whose DLQ this is. */
  group: string;
  brokerName: string;
  queueId: number;
  queueOffset: number;
  /** UNIQ_KEY (the id producers and consumers see), else the offset id. */
  msgId: string;
  /** Offset id of the dead letter itself (storeHost + CommitLog offset). */
  offsetMsgId: string;
  /** Offset id of the first failed copy (ORIGIN_MESSAGE_ID). */
  originMsgId: string | undefined;
  /** RETRY_TOPIC: where the message was first sent; replay sends it back there. */
  originalTopic: string | undefined;
  keys: string[];
  tags: string | undefined;
  reconsumeTimes: number;
  bornTimestamp: number;
  storeTimestamp: number;
  /** ROCKETRY_DLQ_REASON when the framework recorded it. */
  reason: string | undefined;
  listener: string | undefined;
  deadAt: number | undefined;
  properties: Record<string, string>;
  /** Decompressed body. */
  body: Buffer;
}

export interface DlqQueueState {
  brokerName: string;
  brokerAddr: string;
  queueId: number;
  minOffset: number;
  maxOffset: number;
  /** Where list/inspect/replay start: max(minOffset, the admin group's offset). */
  startOffset: number;
}

export interface DlqGroupSummary {
  group: string;
  topic: string;
  /** Messages not purged. */
  count: number;
  queues: DlqQueueState[];
  /** Up to `limit` messages, oldest first. */
  messages: DeadLetter[];
}

export interface ReplayOutcome {
  msgId: string;
  offsetMsgId: string;
  originalTopic: string | undefined;
  /** False when the message could not be replayed (no RETRY_TOPIC, no writable route, broker error). */
  replayed: boolean;
  /** Offset id of the new message on the original topic. */
  newOffsetMsgId?: string;
  error?: string;
}

export interface ReplayResult {
  group: string;
  outcomes: ReplayOutcome[];
  replayed: number;
  failed: number;
  /** Messages purged afterwards (`purge: true`), else 0. */
  purged: number;
}

export interface PurgeResult {
  group: string;
  purged: number;
  queues: DlqQueueState[];
}

function checkGroup(group: string): void {
  if (!GROUP_PATTERN.test(group)) throw usageError(`-g: consumer group "${group}" is not a valid group name`);
}

function inflateIfCompressed(r: MessageRecord): Buffer {
  if ((r.sysFlag & MessageSysFlag.COMPRESSED) === 0) return r.body;
  const type = r.sysFlag & MessageSysFlag.COMPRESSION_TYPE_MASK;
  if (type !== 0 && type !== MessageSysFlag.COMPRESSION_ZLIB) return r.body;
  try {
    return zlib.inflateSync(r.body);
  } catch {
    return r.body;
  }
}

export function toDeadLetter(group: string, brokerName: string, r: MessageRecord): DeadLetter {
  const p = r.properties;
  const offsetMsgId = createOffsetMessageId(r.storeHost, r.physicalOffset);
  const deadAt = p[DLQ_PROPERTIES.DEAD_AT];
  const keys = p[MessageConst.KEYS];
  return {
    group,
    brokerName,
    queueId: r.queueId,
    queueOffset: r.queueOffset,
    msgId: p[MessageConst.UNIQ_KEY] ?? offsetMsgId,
    offsetMsgId,
    originMsgId: p[MessageConst.ORIGIN_MESSAGE_ID],
    originalTopic: p[MessageConst.RETRY_TOPIC],
    keys: keys ? keys.split(MessageConst.KEY_SEPARATOR).filter((k) => k.length > 0) : [],
    tags: p[MessageConst.TAGS],
    reconsumeTimes: r.reconsumeTimes,
    bornTimestamp: r.bornTimestamp,
    storeTimestamp: r.storeTimestamp,
    reason: p[DLQ_PROPERTIES.REASON],
    listener: p[DLQ_PROPERTIES.LISTENER],
    deadAt: deadAt !== undefined && /^\d+$/.test(deadAt) ? Number(deadAt) : undefined,
    properties: p,
    body: inflateIfCompressed(r),
  };
}

/** True when `id` names this dead letter (UNIQ_KEY, its offset id, or the original's offset id). */
function matches(d: DeadLetter, id: string): boolean {
  const up = id.trim().toUpperCase();
  return d.msgId.toUpperCase() === up || d.offsetMsgId === up || (d.originMsgId?.toUpperCase() ?? '') === up;
}

interface ScannedLetter {
  letter: DeadLetter;
  record: MessageRecord;
  queue: DlqQueueState;
}

export class DlqAdmin {
  constructor(private readonly admin: AdminClient) {}

  /** Convenience: an admin over a NameServer list (`host:port;host:port`). Call close() when done. */
  static connect(namesrvAddrs: string[], timeoutMs = DEFAULT_ADMIN_TIMEOUT_MS): DlqAdmin & { close(): void } {
    const client = new AdminClient(namesrvAddrs, timeoutMs);
    const dlq = new DlqAdmin(client) as DlqAdmin & { close(): void };
    dlq.close = () => client.close();
    return dlq;
  }

  /** Groups that have a `%DLQ%<group>` topic in the NameServer. */
  async groups(): Promise<string[]> {
    const topics = await this.admin.topicList();
    return topics.filter((t) => t.startsWith(TopicNames.DLQ_GROUP_TOPIC_PREFIX)).map((t) => t.slice(TopicNames.DLQ_GROUP_TOPIC_PREFIX.length));
  }

  /** Per DLQ group (one, or every one): count of messages not purged and the first `limit` of them. */
  async list(opts: { group?: string; limit?: number } = {}): Promise<DlqGroupSummary[]> {
    const limit = Math.max(0, opts.limit ?? DLQ_LIST_DEFAULT_LIMIT);
    const groups = opts.group !== undefined ? [opts.group] : await this.groups();
    const out: DlqGroupSummary[] = [];
    for (const group of groups) {
      checkGroup(group);
      const queues = await this.queues(group);
      const count = queues.reduce((s, q) => s + Math.max(0, q.maxOffset - q.startOffset), 0);
      const scanned = limit > 0 ? await this.scan(group, queues, limit) : [];
      out.push({ group, topic: dlqTopic(group), count, queues, messages: scanned.map((s) => s.letter) });
    }
    return out;
  }

  /** One dead letter by UNIQ_KEY / offset id / original offset id; throws when it is not (or no longer) there. */
  async inspect(group: string, msgId: string): Promise<DeadLetter> {
    checkGroup(group);
    const queues = await this.queues(group);
    const found = (await this.scan(group, queues, SCAN_MAX_MESSAGES)).find((s) => matches(s.letter, msgId));
    if (!found) throw new CliError(`message ${msgId} is not in ${dlqTopic(group)} (never dead-lettered, or purged)`);
    return found.letter;
  }

  /**
   * Sends dead letters back to their original topic (RETRY_TOPIC), keeping body, tags, keys, user
   * properties and UNIQ_KEY (so an idempotent listener recognises a message it already handled).
   * `msgId`: only that one. `purge`: afterwards advance the admin offsets past what was replayed
   * (only queues where every scanned message was replayed).
   */
  async replay(group: string, opts: { msgId?: string; purge?: boolean; limit?: number } = {}): Promise<ReplayResult> {
    checkGroup(group);
    const queues = await this.queues(group);
    let scanned = await this.scan(group, queues, opts.limit ?? SCAN_MAX_MESSAGES);
    if (opts.msgId !== undefined) {
      scanned = scanned.filter((s) => matches(s.letter, opts.msgId!));
      if (scanned.length === 0) throw new CliError(`message ${opts.msgId} is not in ${dlqTopic(group)} (never dead-lettered, or purged)`);
    }
    const routes = new Map<string, TopicRoute | undefined>();
    const outcomes: ReplayOutcome[] = [];
    const failedQueues = new Set<DlqQueueState>();
    const lastReplayed = new Map<DlqQueueState, number>();
    for (const s of scanned) {
      const outcome = await this.replayOne(s, routes);
      outcomes.push(outcome);
      if (outcome.replayed) lastReplayed.set(s.queue, Math.max(lastReplayed.get(s.queue) ?? -1, s.letter.queueOffset));
      else failedQueues.add(s.queue);
    }
    let purged = 0;
    if (opts.purge && opts.msgId === undefined) {
      for (const [q, last] of lastReplayed) {
        if (failedQueues.has(q)) continue;
        await this.setAdminOffset(group, q, last + 1);
        purged += last + 1 - q.startOffset;
      }
    }
    const replayed = outcomes.filter((o) => o.replayed).length;
    return { group, outcomes, replayed, failed: outcomes.length - replayed, purged };
  }

  /** Advances the admin offsets to the end: list/inspect/replay no longer show what is there now. */
  async purge(group: string): Promise<PurgeResult> {
    checkGroup(group);
    const queues = await this.queues(group);
    let purged = 0;
    for (const q of queues) {
      if (q.maxOffset <= q.startOffset) continue;
      await this.setAdminOffset(group, q, q.maxOffset);
      purged += q.maxOffset - q.startOffset;
    }
    return { group, purged, queues: await this.queues(group) };
  }

  // ---------------------------------------------------------------------------------------------

  private async queues(group: string): Promise<DlqQueueState[]> {
    const topic = dlqTopic(group);
    const route = await this.admin.topicRouteIfExists(topic);
    if (!route) return [];
    const out: DlqQueueState[] = [];
    for (const qd of [...route.queueDatas].sort((a, b) => a.brokerName.localeCompare(b.brokerName))) {
      const bd = route.brokerDatas.find((b) => b.brokerName === qd.brokerName);
      const addr = bd ? masterAddress(bd) : undefined;
      if (!addr) continue;
      for (let queueId = 0; queueId < Math.max(qd.readQueueNums, qd.writeQueueNums); queueId++) {
        const minOffset = await this.offsetCall(addr, RequestCode.GET_MIN_OFFSET, topic, queueId);
        const maxOffset = await this.offsetCall(addr, RequestCode.GET_MAX_OFFSET, topic, queueId);
        const admin = await this.adminOffset(addr, topic, queueId);
        out.push({ brokerName: qd.brokerName, brokerAddr: addr, queueId, minOffset, maxOffset, startOffset: Math.min(maxOffset, Math.max(minOffset, admin ?? minOffset)) });
      }
    }
    return out;
  }

  private async offsetCall(addr: string, code: number, topic: string, queueId: number): Promise<number> {
    const reply = await this.admin.broker(addr, createRequest(code, { topic, queueId: String(queueId) }));
    return OffsetResponseHeader.decode(reply.extFields).offset;
  }

  private async adminOffset(addr: string, topic: string, queueId: number): Promise<number | undefined> {
    const header = QueryConsumerOffsetRequestHeader.encode({ consumerGroup: DLQ_ADMIN_GROUP, topic, queueId, setZeroIfNotFound: false });
    const reply = await this.admin.broker(addr, createRequest(RequestCode.QUERY_CONSUMER_OFFSET, header), [ResponseCode.QUERY_NOT_FOUND]);
    if (reply.code !== ResponseCode.SUCCESS) return undefined;
    const offset = QueryConsumerOffsetResponseHeader.decode(reply.extFields).offset;
    return offset < 0 ? undefined : offset;
  }

  private async setAdminOffset(group: string, q: DlqQueueState, offset: number): Promise<void> {
    const header = UpdateConsumerOffsetRequestHeader.encode({ consumerGroup: DLQ_ADMIN_GROUP, topic: dlqTopic(group), queueId: q.queueId, commitOffset: offset });
    await this.admin.broker(q.brokerAddr, createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, header));
  }

  /** Reads up to `limit` messages from each queue's start offset to its max offset (no offsets committed). */
  private async scan(group: string, queues: readonly DlqQueueState[], limit: number): Promise<ScannedLetter[]> {
    const topic = dlqTopic(group);
    const out: ScannedLetter[] = [];
    for (const q of queues) {
      let offset = q.startOffset;
      // Bounded: each round advances `offset` or stops.
      while (offset < q.maxOffset && out.length < limit) {
        const header = PullMessageRequestHeader.encode({
          consumerGroup: DLQ_ADMIN_GROUP,
          topic,
          queueId: q.queueId,
          queueOffset: offset,
          maxMsgNums: Math.min(PULL_BATCH, limit - out.length),
          sysFlag: buildPullSysFlag(false, false, true),
          commitOffset: 0,
          suspendTimeoutMillis: 0,
          subscription: '*',
          subVersion: 0,
          expressionType: 'TAG',
        });
        const reply = await this.admin.broker(q.brokerAddr, createRequest(RequestCode.PULL_MESSAGE, header), [
          ResponseCode.PULL_NOT_FOUND,
          ResponseCode.PULL_RETRY_IMMEDIATELY,
          ResponseCode.PULL_OFFSET_MOVED,
        ]);
        const h = PullMessageResponseHeader.decode(reply.extFields);
        if (reply.code === ResponseCode.SUCCESS && reply.body) {
          const records = decodeMessageRecords(reply.body, { copyBody: true });
          for (const r of records) if (out.length < limit) out.push({ letter: toDeadLetter(group, q.brokerName, r), record: r, queue: q });
        }
        if (h.nextBeginOffset <= offset) break;
        offset = h.nextBeginOffset;
      }
    }
    return out;
  }

  private async replayOne(s: ScannedLetter, routes: Map<string, TopicRoute | undefined>): Promise<ReplayOutcome> {
    const { letter, record } = s;
    const base = { msgId: letter.msgId, offsetMsgId: letter.offsetMsgId, originalTopic: letter.originalTopic };
    const topic = letter.originalTopic;
    if (!topic) return { ...base, replayed: false, error: 'no RETRY_TOPIC property: the original topic is unknown' };
    if (!routes.has(topic)) routes.set(topic, await this.admin.topicRouteIfExists(topic));
    const route = routes.get(topic);
    const targets: Array<{ addr: string; brokerName: string; queues: number }> = [];
    for (const qd of route?.queueDatas ?? []) {
      const bd = route!.brokerDatas.find((b) => b.brokerName === qd.brokerName);
      const addr = bd ? masterAddress(bd) : undefined;
      if (addr && isWriteable(qd.perm) && qd.writeQueueNums > 0) targets.push({ addr, brokerName: qd.brokerName, queues: qd.writeQueueNums });
    }
    if (targets.length === 0) return { ...base, replayed: false, error: `topic ${topic} has no writable queue` };
    const target = targets[Math.floor(Math.random() * targets.length)]!;
    const properties: Record<string, string> = { ...letter.properties };
    for (const k of REPLAY_DROPPED_PROPERTIES) delete properties[k];
    properties[DLQ_PROPERTIES.REPLAYED_FROM] = letter.offsetMsgId;
    // Keep only the compression bits: the body is resent as stored.
    const sysFlag = record.sysFlag & (MessageSysFlag.COMPRESSED | MessageSysFlag.COMPRESSION_TYPE_MASK);
    const header = SendMessageRequestHeaderV2.encode(
      sendHeaderToV2({
        producerGroup: DLQ_ADMIN_GROUP,
        topic,
        defaultTopic: TopicNames.AUTO_CREATE_TOPIC_KEY,
        defaultTopicQueueNums: 4,
        queueId: Math.floor(Math.random() * target.queues),
        sysFlag,
        bornTimestamp: Date.now(),
        flag: record.flag,
        properties: encodeProperties(properties),
        reconsumeTimes: 0,
        bname: target.brokerName,
      }),
    );
    try {
      const reply = await this.admin.broker(target.addr, createRequest(RequestCode.SEND_MESSAGE_V2, header, record.body), [
        ResponseCode.FLUSH_DISK_TIMEOUT,
        ResponseCode.FLUSH_SLAVE_TIMEOUT,
        ResponseCode.SLAVE_NOT_AVAILABLE,
      ]);
      const newId = reply.extFields?.msgId;
      return newId ? { ...base, replayed: true, newOffsetMsgId: newId } : { ...base, replayed: true };
    } catch (err) {
      return { ...base, replayed: false, error: err instanceof Error ? err.message : String(err) };
    }
  }
}

/** `host:port` of the store host of a dead letter (for display). */
export function deadLetterStoreHost(r: MessageRecord): string {
  return formatHostAddress(r.storeHost);
}
