/**
 * Public message types: `Message` (what users send) and `MessageExt` (what consumers receive), plus
 * the conversions both sides need: properties for sending, and decoding pulled records (inflating
 * zlib-compressed bodies).
 */
import * as zlib from 'node:zlib';
import {
  createOffsetMessageId,
  decodeMessageRecords,
  formatHostAddress,
  MessageConst,
  MessageSysFlag,
  type MessageRecord,
} from '@rocketry/broker/protocol';

/** A message to send. */
export interface Message {
  topic: string;
  /** One tag (`TAGS`); consumers filter on it. */
  tags?: string;
  /** Business keys (`KEYS`, space-joined on the wire); indexed by the broker for lookups. */
  keys?: string | readonly string[];
  /** A string is sent as UTF-8. */
  body: Buffer | string;
  /** User properties. Reserved names (TAGS, KEYS, DELAY, UNIQ_KEY, ...) are overwritten by the fields above when those are set. */
  properties?: Record<string, string>;
  /** Delay level 1..18 of the broker's `messageDelayLevel` (`DELAY`); 0/absent = deliver now. */
  delayLevel?: number;
  /** User flag stored with the message. Default 0. */
  flag?: number;
  /** `WAIT`: wait for the store (flush/replica) before answering. Default true (left off the wire). */
  waitStoreMsgOK?: boolean;
}

/** A received (or stored) message. */
export interface MessageExt {
  topic: string;
  tags: string | undefined;
  /** `KEYS` split on spaces (empty when none). */
  keys: string[];
  /** Already decompressed. */
  body: Buffer;
  properties: Record<string, string>;
  /** The client id (`UNIQ_KEY`) when the producer set one, else `offsetMsgId`. */
  msgId: string;
  /** storeHost + commitLog offset, uppercase hex. */
  offsetMsgId: string;
  queueId: number;
  queueOffset: number;
  commitLogOffset: number;
  bornTimestamp: number;
  storeTimestamp: number;
  /** `ip:port` of the producer. */
  bornHost: string;
  /** `ip:port` of the broker that stored it. */
  storeHost: string;
  reconsumeTimes: number;
  /** sysFlag as stored (COMPRESSED bit still set for compressed bodies). */
  sysFlag: number;
  flag: number;
  bodyCrc: number;
  preparedTransactionOffset: number;
  /** Broker the message was pulled from, when known. */
  brokerName?: string;
}

export function bodyToBuffer(body: Buffer | string): Buffer {
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
}

/** Keys as the wire value: space-joined; undefined when there are none. */
export function keysToString(keys: string | readonly string[] | undefined): string | undefined {
  if (keys === undefined) return undefined;
  const text = typeof keys === 'string' ? keys : keys.join(MessageConst.KEY_SEPARATOR);
  return text.length > 0 ? text : undefined;
}

/**
 * Wire properties of a message to send: user properties, then TAGS, KEYS, DELAY, WAIT and the
 * UNIQ_KEY (kept if the user already set one). Order does not matter: everyone parses by name.
 */
export function buildSendProperties(msg: Message, uniqKey: string | undefined): Record<string, string> {
  const props: Record<string, string> = msg.properties ? { ...msg.properties } : {};
  if (msg.tags !== undefined && msg.tags !== '') props[MessageConst.TAGS] = msg.tags;
  const keys = keysToString(msg.keys);
  if (keys !== undefined) props[MessageConst.KEYS] = keys;
  if (msg.delayLevel !== undefined && msg.delayLevel > 0) props[MessageConst.DELAY] = String(msg.delayLevel);
  if (msg.waitStoreMsgOK === false) props[MessageConst.WAIT] = 'false';
  if (uniqKey !== undefined && !props[MessageConst.UNIQ_KEY]) props[MessageConst.UNIQ_KEY] = uniqKey;
  return props;
}

/** True when the compression bits say zlib (the legacy 0 type with COMPRESSED set, or ZLIB). */
function isZlib(sysFlag: number): boolean {
  const type = sysFlag & MessageSysFlag.COMPRESSION_TYPE_MASK;
  return type === 0 || type === MessageSysFlag.COMPRESSION_ZLIB;
}

/** Record → MessageExt; inflates a zlib body (COMPRESSED bit). */
export function toMessageExt(record: MessageRecord, brokerName?: string): MessageExt {
  let body = record.body;
  if ((record.sysFlag & MessageSysFlag.COMPRESSED) !== 0 && isZlib(record.sysFlag)) body = zlib.inflateSync(body);
  const props = record.properties;
  const offsetMsgId = createOffsetMessageId(record.storeHost, record.physicalOffset);
  const keysText = props[MessageConst.KEYS];
  const msg: MessageExt = {
    topic: record.topic,
    tags: props[MessageConst.TAGS],
    keys: keysText ? keysText.split(MessageConst.KEY_SEPARATOR).filter((k) => k.length > 0) : [],
    body,
    properties: props,
    msgId: props[MessageConst.UNIQ_KEY] ?? offsetMsgId,
    offsetMsgId,
    queueId: record.queueId,
    queueOffset: record.queueOffset,
    commitLogOffset: record.physicalOffset,
    bornTimestamp: record.bornTimestamp,
    storeTimestamp: record.storeTimestamp,
    bornHost: formatHostAddress(record.bornHost),
    storeHost: formatHostAddress(record.storeHost),
    reconsumeTimes: record.reconsumeTimes,
    sysFlag: record.sysFlag,
    flag: record.flag,
    bodyCrc: record.bodyCrc,
    preparedTransactionOffset: record.preparedTransactionOffset,
  };
  if (brokerName !== undefined) msg.brokerName = brokerName;
  return msg;
}

/**
 * Decodes a PULL_MESSAGE / QUERY_MESSAGE body (records back to back). Bodies are copied so the
 * messages do not pin the whole pull buffer.
 */
export function decodePulledMessages(body: Buffer, brokerName?: string): MessageExt[] {
  return decodeMessageRecords(body, { copyBody: true }).map((r) => toMessageExt(r, brokerName));
}
