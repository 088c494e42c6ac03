/**
 * HEART_BEAT (34) body: HeartbeatData JSON (§2.6). ali-ons subscriptions have no expressionType
 * (→ 'TAG'); 5.x adds heartbeatFingerprint / withoutSub.
 */
import { buildSubscriptionData, ExpressionType, type SubscriptionData } from '../subscription';
import { asArray, asObject, optBool, optInt, optString, reqString, intArray, stringArray } from './body-shape';
import { parseLenientJson, toFastJsonBuffer } from './fastjson';

export const ConsumeType = { ACTIVELY: 'CONSUME_ACTIVELY', PASSIVELY: 'CONSUME_PASSIVELY', POP: 'CONSUME_POP' } as const;
export const MessageModel = { BROADCASTING: 'BROADCASTING', CLUSTERING: 'CLUSTERING' } as const;
export const ConsumeFromWhere = {
  LAST_OFFSET: 'CONSUME_FROM_LAST_OFFSET',
  FIRST_OFFSET: 'CONSUME_FROM_FIRST_OFFSET',
  TIMESTAMP: 'CONSUME_FROM_TIMESTAMP',
} as const;

export interface ProducerData {
  groupName: string;
}

export interface ConsumerData {
  groupName: string;
  consumeType: string;
  messageModel: string;
  consumeFromWhere: string;
  subscriptionDataSet: SubscriptionData[];
  unitMode: boolean;
}

export interface HeartbeatData {
  clientID: string;
  producerDataSet: ProducerData[];
  consumerDataSet: ConsumerData[];
  heartbeatFingerprint?: number;
  withoutSub?: boolean;
}

export function decodeSubscriptionData(v: unknown, path: string): SubscriptionData {
  const o = asObject(v, path);
  const topic = reqString(o, 'topic', path);
  const subString = optString(o, 'subString', path) ?? '*';
  const expressionType = optString(o, 'expressionType', path) || ExpressionType.TAG;
  const subVersion = optInt(o, 'subVersion', path) ?? 0;
  let sub: SubscriptionData;
  if (o.tagsSet === undefined && o.codeSet === undefined) {
    // Sender left the parsed form out: parse it the FilterAPI way.
    sub = buildSubscriptionData(topic, subString, subVersion, expressionType);
  } else {
    sub = {
      topic,
      subString,
      tagsSet: stringArray(o.tagsSet, `${path}.tagsSet`),
      codeSet: intArray(o.codeSet, `${path}.codeSet`),
      subVersion,
      expressionType,
    };
  }
  const cfm = optBool(o, 'classFilterMode', path);
  if (cfm !== undefined) sub.classFilterMode = cfm;
  const src = optString(o, 'filterClassSource', path);
  if (src !== undefined) sub.filterClassSource = src;
  return sub;
}

/** Decodes and validates a heartbeat body. Throws BodyError (or SubscriptionParseError). */
export function decodeHeartbeatData(body: Buffer | string): HeartbeatData {
  const o = asObject(parseLenientJson(body), 'heartbeat');
  const hb: HeartbeatData = {
    clientID: reqString(o, 'clientID', 'heartbeat'),
    producerDataSet: asArray(o.producerDataSet ?? [], 'heartbeat.producerDataSet').map((p, i) => {
      const path = `heartbeat.producerDataSet[${i}]`;
      return { groupName: reqString(asObject(p, path), 'groupName', path) };
    }),
    consumerDataSet: asArray(o.consumerDataSet ?? [], 'heartbeat.consumerDataSet').map((c, i) => {
      const path = `heartbeat.consumerDataSet[${i}]`;
      const co = asObject(c, path);
      return {
        groupName: reqString(co, 'groupName', path),
        consumeType: optString(co, 'consumeType', path) ?? ConsumeType.PASSIVELY,
        messageModel: optString(co, 'messageModel', path) ?? MessageModel.CLUSTERING,
        consumeFromWhere: optString(co, 'consumeFromWhere', path) ?? ConsumeFromWhere.LAST_OFFSET,
        subscriptionDataSet: asArray(co.subscriptionDataSet ?? [], `${path}.subscriptionDataSet`).map((s, j) =>
          decodeSubscriptionData(s, `${path}.subscriptionDataSet[${j}]`),
        ),
        unitMode: optBool(co, 'unitMode', path) ?? false,
      };
    }),
  };
  const fp = optInt(o, 'heartbeatFingerprint', 'heartbeat');
  if (fp !== undefined) hb.heartbeatFingerprint = fp;
  const ws = optBool(o, 'withoutSub', 'heartbeat');
  if (ws !== undefined) hb.withoutSub = ws;
  return hb;
}

export function encodeHeartbeatData(hb: HeartbeatData): Buffer {
  return toFastJsonBuffer(hb);
}
