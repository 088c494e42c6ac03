/** Small bodies: consumer list, lock batch request/response, KV table. */
import { asArray, asObject, optBool, reqString, stringArray, stringMap } from './body-shape';
import { parseLenientJson, toFastJsonBuffer } from './fastjson';
import { decodeMessageQueue, type MessageQueue } from './message-queue';

/** GET_CONSUMER_LIST_BY_GROUP reply: `{"consumerIdList":[...]}`. */
export interface ConsumerListBody {
  consumerIdList: string[];
}

export function encodeConsumerListBody(body: ConsumerListBody): Buffer {
  return toFastJsonBuffer(body);
}

export function decodeConsumerListBody(data: Buffer | string): ConsumerListBody {
  const o = asObject(parseLenientJson(data), 'consumerList');
  return { consumerIdList: stringArray(o.consumerIdList, 'consumerList.consumerIdList') };
}

/** LOCK_BATCH_MQ / UNLOCK_BATCH_MQ request body. */
export interface LockBatchRequestBody {
  consumerGroup: string;
  clientId: string;
  onlyThisBroker: boolean;
  mqSet: MessageQueue[];
}

export function encodeLockBatchRequestBody(body: LockBatchRequestBody): Buffer {
  return toFastJsonBuffer(body);
}

export function decodeLockBatchRequestBody(data: Buffer | string): LockBatchRequestBody {
  const o = asObject(parseLenientJson(data), 'lockBatch');
  return {
    consumerGroup: reqString(o, 'consumerGroup', 'lockBatch'),
    clientId: reqString(o, 'clientId', 'lockBatch'),
    onlyThisBroker: optBool(o, 'onlyThisBroker', 'lockBatch') ?? false,
    mqSet: asArray(o.mqSet ?? [], 'lockBatch.mqSet').map((m, i) => decodeMessageQueue(m, `lockBatch.mqSet[${i}]`)),
  };
}

/** LOCK_BATCH_MQ reply body. */
export interface LockBatchResponseBody {
  lockOKMQSet: MessageQueue[];
}

export function encodeLockBatchResponseBody(body: LockBatchResponseBody): Buffer {
  return toFastJsonBuffer(body);
}

export function decodeLockBatchResponseBody(data: Buffer | string): LockBatchResponseBody {
  const o = asObject(parseLenientJson(data), 'lockBatchResponse');
  return { lockOKMQSet: asArray(o.lockOKMQSet ?? [], 'lockBatchResponse.lockOKMQSet').map((m, i) => decodeMessageQueue(m, `lockOKMQSet[${i}]`)) };
}

/** GET_KVLIST_BY_NAMESPACE reply and REGISTER_BROKER's ORDER_TOPIC_CONFIG body: `{"table":{k:v}}`. */
export interface KVTable {
  table: Record<string, string>;
}

export function encodeKVTable(kv: KVTable): Buffer {
  return toFastJsonBuffer(kv);
}

export function decodeKVTable(data: Buffer | string): KVTable {
  const o = asObject(parseLenientJson(data), 'kvTable');
  return { table: stringMap(o.table, 'kvTable.table') };
}
