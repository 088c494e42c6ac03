/**
 * SEND_MESSAGE (10) long names, SEND_MESSAGE_V2 (310) / SEND_BATCH_MESSAGE (320) one-letter names,
 * and the send reply (`SendMessageRequestHeader`, `SendMessageRequestHeaderV2`, `SendMessageResponseHeader`).
 */
import { RequestCode } from '../request-code';
import { defineHeader, type HeaderOf, opt, req } from './header-schema';

/** SEND_MESSAGE (10): Go single sends, Java with sendSmartMsg=false. */
export const SendMessageRequestHeader = defineHeader({
  producerGroup: req.string,
  topic: req.string,
  defaultTopic: req.string,
  defaultTopicQueueNums: req.int,
  /** Negative: the broker picks a queue. */
  queueId: req.int,
  sysFlag: req.int,
  bornTimestamp: req.long,
  flag: req.int,
  properties: opt.string,
  reconsumeTimes: opt.int,
  unitMode: opt.boolean,
  batch: opt.boolean,
  maxReconsumeTimes: opt.int,
  /** 4.9.7+/5.x broker name. */
  bname: opt.string,
});
export type SendMessageRequestHeader = HeaderOf<typeof SendMessageRequestHeader.schema>;

/**
 * SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE keys (the decoder requires a–h):
 *   a producerGroup  b topic  c defaultTopic  d defaultTopicQueueNums  e queueId  f sysFlag  g bornTimestamp
 *   h flag  i properties  j reconsumeTimes  k unitMode  l maxReconsumeTimes  m batch  n brokerName
 */
export const SendMessageRequestHeaderV2 = defineHeader({
  a: req.string,
  b: req.string,
  c: req.string,
  d: req.int,
  e: req.int,
  f: req.int,
  g: req.long,
  h: req.int,
  i: opt.string,
  j: opt.int,
  k: opt.boolean,
  l: opt.int,
  m: opt.boolean,
  n: opt.string,
});
export type SendMessageRequestHeaderV2 = HeaderOf<typeof SendMessageRequestHeaderV2.schema>;

export function sendHeaderFromV2(v2: SendMessageRequestHeaderV2): SendMessageRequestHeader {
  const h: SendMessageRequestHeader = {
    producerGroup: v2.a,
    topic: v2.b,
    defaultTopic: v2.c,
    defaultTopicQueueNums: v2.d,
    queueId: v2.e,
    sysFlag: v2.f,
    bornTimestamp: v2.g,
    flag: v2.h,
  };
  if (v2.i !== undefined) h.properties = v2.i;
  if (v2.j !== undefined) h.reconsumeTimes = v2.j;
  if (v2.k !== undefined) h.unitMode = v2.k;
  if (v2.l !== undefined) h.maxReconsumeTimes = v2.l;
  if (v2.m !== undefined) h.batch = v2.m;
  if (v2.n !== undefined) h.bname = v2.n;
  return h;
}

export function sendHeaderToV2(h: SendMessageRequestHeader): SendMessageRequestHeaderV2 {
  const v2: SendMessageRequestHeaderV2 = {
    a: h.producerGroup,
    b: h.topic,
    c: h.defaultTopic,
    d: h.defaultTopicQueueNums,
    e: h.queueId,
    f: h.sysFlag,
    g: h.bornTimestamp,
    h: h.flag,
  };
  if (h.properties !== undefined) v2.i = h.properties;
  if (h.reconsumeTimes !== undefined) v2.j = h.reconsumeTimes;
  if (h.unitMode !== undefined) v2.k = h.unitMode;
  if (h.maxReconsumeTimes !== undefined) v2.l = h.maxReconsumeTimes;
  if (h.batch !== undefined) v2.m = h.batch;
  if (h.bname !== undefined) v2.n = h.bname;
  return v2;
}

/**
 * Decodes the header of any send request (10 long names, 310/320 one-letter names) into the long
 * form. Throws HeaderError.
 */
export function decodeSendRequestHeader(code: number, extFields: Readonly<Record<string, string>> | undefined): SendMessageRequestHeader {
  if (code === RequestCode.SEND_MESSAGE_V2 || code === RequestCode.SEND_BATCH_MESSAGE) {
    return sendHeaderFromV2(SendMessageRequestHeaderV2.decode(extFields));
  }
  return SendMessageRequestHeader.decode(extFields);
}

/** Send reply. Java puts MSG_REGION/TRACE_ON into extFields too; the Java client needs extFields present. */
export const SendMessageResponseHeader = defineHeader({
  /** Offset msgId; comma-joined ids for a batch. */
  msgId: req.string,
  queueId: req.int,
  /** First offset for a batch. */
  queueOffset: req.long,
  transactionId: opt.string,
  batchUniqId: opt.string,
  recallHandle: opt.string,
  MSG_REGION: opt.string,
  TRACE_ON: opt.string,
});
export type SendMessageResponseHeader = HeaderOf<typeof SendMessageResponseHeader.schema>;
