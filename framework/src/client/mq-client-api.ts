/**
 * Typed wrappers over RemotingClient for every request the producer and consumer send (Java
 * `MQClientAPIImpl`). Each method builds the request with the protocol module's header codecs,
 * checks the response code and decodes the reply. Failures are MQClientError / MQBrokerError.
 */
import {
  ConsumerSendMsgBackRequestHeader,
  createRequest,
  decodeConsumerListBody,
  decodeLockBatchResponseBody,
  decodeTopicRouteData,
  encodeHeartbeatData,
  encodeLockBatchRequestBody,
  EndTransactionRequestHeader,
  GetConsumerListByGroupRequestHeader,
  GetEarliestMsgStoretimeRequestHeader,
  GetEarliestMsgStoretimeResponseHeader,
  GetMaxOffsetRequestHeader,
  GetMinOffsetRequestHeader,
  GetRouteInfoRequestHeader,
  OffsetResponseHeader,
  PullMessageRequestHeader,
  PullMessageResponseHeader,
  QueryConsumerOffsetRequestHeader,
  QueryConsumerOffsetResponseHeader,
  QueryMessageRequestHeader,
  QueryMessageResponseHeader,
  RequestCode,
  ResponseCode,
  SearchOffsetRequestHeader,
  SendMessageRequestHeaderV2,
  SendMessageResponseHeader,
  sendHeaderToV2,
  UnregisterClientRequestHeader,
  UpdateConsumerOffsetRequestHeader,
  ViewMessageRequestHeader,
  type HeartbeatData,
  type LockBatchRequestBody,
  type MessageQueue,
  type RemotingCommand,
  type SendMessageRequestHeader,
  type TopicRouteData,
} from '@rocketry/broker/protocol';
import type { NamesrvClient, RemotingClient } from '@rocketry/broker/remoting';
import { MQBrokerError, MQClientError, toClientError } from './errors';
import { decodePulledMessages, type MessageExt } from './message';

export type SendStatus = 'SEND_OK' | 'FLUSH_DISK_TIMEOUT' | 'FLUSH_SLAVE_TIMEOUT' | 'SLAVE_NOT_AVAILABLE';

/** Decoded send reply. */
export interface SendResponse {
  status: SendStatus;
  /** Offset msgId from the broker (comma-joined for a batch). */
  offsetMsgId: string;
  queueId: number;
  /** First offset for a batch. */
  queueOffset: number;
  transactionId?: string;
  regionId?: string;
  traceOn?: boolean;
}

export type PullStatus = 'FOUND' | 'NO_NEW_MSG' | 'NO_MATCHED_MSG' | 'OFFSET_ILLEGAL';

export interface PullResponse {
  status: PullStatus;
  nextBeginOffset: number;
  minOffset: number;
  maxOffset: number;
  suggestWhichBrokerId: number;
  /** Decoded messages (FOUND only; bodies inflated). Not tag-filtered. */
  messages: MessageExt[];
  /** Raw records as the broker sent them (FOUND only). */
  body: Buffer | undefined;
}

export interface QueryMessageResponse {
  indexLastUpdateTimestamp: number;
  indexLastUpdatePhyoffset: number;
  messages: MessageExt[];
}

const SEND_STATUS_BY_CODE = new Map<number, SendStatus>([
  [ResponseCode.SUCCESS, 'SEND_OK'],
  [ResponseCode.FLUSH_DISK_TIMEOUT, 'FLUSH_DISK_TIMEOUT'],
  [ResponseCode.FLUSH_SLAVE_TIMEOUT, 'FLUSH_SLAVE_TIMEOUT'],
  [ResponseCode.SLAVE_NOT_AVAILABLE, 'SLAVE_NOT_AVAILABLE'],
]);

const PULL_STATUS_BY_CODE = new Map<number, PullStatus>([
  [ResponseCode.SUCCESS, 'FOUND'],
  [ResponseCode.PULL_NOT_FOUND, 'NO_NEW_MSG'],
  [ResponseCode.PULL_RETRY_IMMEDIATELY, 'NO_MATCHED_MSG'],
  [ResponseCode.PULL_OFFSET_MOVED, 'OFFSET_ILLEGAL'],
]);

function fail(response: RemotingCommand, addr: string): never {
  throw new MQBrokerError(response.code, response.remark, addr);
}

function invalid(addr: string, what: string, cause: unknown): MQClientError {
  return new MQClientError('INVALID_RESPONSE', `bad ${what} reply from ${addr}: ${(cause as Error).message}`, { cause });
}

export class MQClientAPI {
  constructor(
    readonly remoting: RemotingClient,
    readonly namesrv: NamesrvClient,
    /** Default timeout (`mqClientApiTimeout`). */
    readonly timeoutMs: number,
  ) {}

  /** invoke + error mapping. */
  async invoke(addr: string, request: RemotingCommand, timeoutMs: number): Promise<RemotingCommand> {
    try {
      return await this.remoting.invoke(addr, request, timeoutMs);
    } catch (err) {
      throw toClientError(err, addr);
    }
  }

  async invokeOneway(addr: string, request: RemotingCommand): Promise<void> {
    try {
      await this.remoting.invokeOneway(addr, request);
    } catch (err) {
      throw toClientError(err, addr);
    }
  }

  // -------------------------------------------------------------------------------------------
  // NameServer

  /** GET_ROUTEINFO_BY_TOPIC with NameServer failover; undefined when the topic has no route (TOPIC_NOT_EXIST). */
  async getTopicRouteInfo(topic: string, timeoutMs = this.timeoutMs): Promise<TopicRouteData | undefined> {
    const request = createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, GetRouteInfoRequestHeader.encode({ topic }));
    let response: RemotingCommand;
    try {
      response = await this.namesrv.invoke(request, timeoutMs);
    } catch (err) {
      throw toClientError(err, this.namesrv.preferredAddress);
    }
    if (response.code === ResponseCode.TOPIC_NOT_EXIST) return undefined;
    if (response.code !== ResponseCode.SUCCESS) fail(response, this.namesrv.preferredAddress ?? 'namesrv');
    if (!response.body) throw new MQClientError('INVALID_RESPONSE', `route reply for ${topic} has no body`);
    try {
      return decodeTopicRouteData(response.body);
    } catch (err) {
      throw invalid(this.namesrv.preferredAddress ?? 'namesrv', 'route', err);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Send

  private sendRequest(header: SendMessageRequestHeader, body: Buffer, batch: boolean, oneway: boolean): RemotingCommand {
    const v2 = sendHeaderToV2(batch ? { ...header, batch: true } : header);
    return createRequest(batch ? RequestCode.SEND_BATCH_MESSAGE : RequestCode.SEND_MESSAGE_V2, SendMessageRequestHeaderV2.encode(v2), body, oneway);
  }

  /** SEND_MESSAGE_V2 (or SEND_BATCH_MESSAGE with `batch`); throws MQBrokerError for codes other than the four send statuses. */
  async sendMessage(addr: string, header: SendMessageRequestHeader, body: Buffer, timeoutMs: number, batch = false): Promise<SendResponse> {
    const response = await this.invoke(addr, this.sendRequest(header, body, batch, false), timeoutMs);
    return this.processSendResponse(addr, response);
  }

  /** Oneway send: resolves once queued on the connection. */
  sendMessageOneway(addr: string, header: SendMessageRequestHeader, body: Buffer, batch = false): Promise<void> {
    return this.invokeOneway(addr, this.sendRequest(header, body, batch, true));
  }

  processSendResponse(addr: string, response: RemotingCommand): SendResponse {
    const status = SEND_STATUS_BY_CODE.get(response.code);
    if (status === undefined) fail(response, addr);
    let h: SendMessageResponseHeader;
    try {
      h = SendMessageResponseHeader.decode(response.extFields);
    } catch (err) {
      throw invalid(addr, 'send', err);
    }
    const out: SendResponse = { status, offsetMsgId: h.msgId, queueId: h.queueId, queueOffset: h.queueOffset };
    if (h.transactionId !== undefined) out.transactionId = h.transactionId;
    if (h.MSG_REGION !== undefined) out.regionId = h.MSG_REGION;
    if (h.TRACE_ON !== undefined) out.traceOn = h.TRACE_ON === 'true';
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Pull

  /** PULL_MESSAGE. `timeoutMs` must exceed the header's suspendTimeoutMillis for long polls. */
  async pullMessage(addr: string, header: PullMessageRequestHeader, timeoutMs: number, brokerName?: string): Promise<PullResponse> {
    const request = createRequest(RequestCode.PULL_MESSAGE, PullMessageRequestHeader.encode(header));
    const response = await this.invoke(addr, request, timeoutMs);
    const status = PULL_STATUS_BY_CODE.get(response.code);
    if (status === undefined) fail(response, addr);
    let h: PullMessageResponseHeader;
    try {
      h = PullMessageResponseHeader.decode(response.extFields);
    } catch (err) {
      throw invalid(addr, 'pull', err);
    }
    const found = status === 'FOUND' && response.body !== undefined;
    return {
      status,
      nextBeginOffset: h.nextBeginOffset,
      minOffset: h.minOffset,
      maxOffset: h.maxOffset,
      suggestWhichBrokerId: h.suggestWhichBrokerId,
      messages: found ? decodePulledMessages(response.body!, brokerName) : [],
      body: found ? response.body : undefined,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Offsets

  /** QUERY_CONSUMER_OFFSET; undefined when the broker has none (QUERY_NOT_FOUND). */
  async queryConsumerOffset(addr: string, header: QueryConsumerOffsetRequestHeader, timeoutMs = this.timeoutMs): Promise<number | undefined> {
    const response = await this.invoke(addr, createRequest(RequestCode.QUERY_CONSUMER_OFFSET, QueryConsumerOffsetRequestHeader.encode(header)), timeoutMs);
    if (response.code === ResponseCode.QUERY_NOT_FOUND) return undefined;
    if (response.code !== ResponseCode.SUCCESS) fail(response, addr);
    const offset = QueryConsumerOffsetResponseHeader.decode(response.extFields).offset;
    return offset < 0 ? undefined : offset;
  }

  /** UPDATE_CONSUMER_OFFSET, waiting for the reply. */
  async updateConsumerOffset(addr: string, header: UpdateConsumerOffsetRequestHeader, timeoutMs = this.timeoutMs): Promise<void> {
    const response = await this.invoke(addr, createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, UpdateConsumerOffsetRequestHeader.encode(header)), timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) fail(response, addr);
  }

  /** UPDATE_CONSUMER_OFFSET oneway (Java's periodic persist). */
  updateConsumerOffsetOneway(addr: string, header: UpdateConsumerOffsetRequestHeader): Promise<void> {
    return this.invokeOneway(addr, createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, UpdateConsumerOffsetRequestHeader.encode(header), undefined, true));
  }

  private async offsetCall(addr: string, code: number, ext: Record<string, string>, timeoutMs: number): Promise<number> {
    const response = await this.invoke(addr, createRequest(code, ext), timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) fail(response, addr);
    return OffsetResponseHeader.decode(response.extFields).offset;
  }

  getMaxOffset(addr: string, topic: string, queueId: number, timeoutMs = this.timeoutMs): Promise<number> {
    return this.offsetCall(addr, RequestCode.GET_MAX_OFFSET, GetMaxOffsetRequestHeader.encode({ topic, queueId }), timeoutMs);
  }

  getMinOffset(addr: string, topic: string, queueId: number, timeoutMs = this.timeoutMs): Promise<number> {
    return this.offsetCall(addr, RequestCode.GET_MIN_OFFSET, GetMinOffsetRequestHeader.encode({ topic, queueId }), timeoutMs);
  }

  searchOffsetByTimestamp(addr: string, topic: string, queueId: number, timestamp: number, timeoutMs = this.timeoutMs): Promise<number> {
    return this.offsetCall(addr, RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, SearchOffsetRequestHeader.encode({ topic, queueId, timestamp }), timeoutMs);
  }

  async getEarliestMsgStoretime(addr: string, topic: string, queueId: number, timeoutMs = this.timeoutMs): Promise<number> {
    const request = createRequest(RequestCode.GET_EARLIEST_MSG_STORETIME, GetEarliestMsgStoretimeRequestHeader.encode({ topic, queueId }));
    const response = await this.invoke(addr, request, timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) fail(response, addr);
    return GetEarliestMsgStoretimeResponseHeader.decode(response.extFields).timestamp;
  }

  // -------------------------------------------------------------------------------------------
  // Client management

  async sendHeartbeat(addr: string, heartbeat: HeartbeatData, timeoutMs = this.timeoutMs): Promise<void> {
    const response = await this.invoke(addr, createRequest(RequestCode.HEART_BEAT, undefined, encodeHeartbeatData(heartbeat)), timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) fail(response, addr);
  }

  async unregisterClient(addr: string, header: UnregisterClientRequestHeader, timeoutMs = this.timeoutMs): Promise<void> {
    const response = await this.invoke(addr, createRequest(RequestCode.UNREGISTER_CLIENT, UnregisterClientRequestHeader.encode(header)), timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) fail(response, addr);
  }

  /** GET_CONSUMER_LIST_BY_GROUP; an empty list when the broker knows no consumer (it answers SYSTEM_ERROR then). */
  async getConsumerIdListByGroup(addr: string, consumerGroup: string, timeoutMs = this.timeoutMs): Promise<string[]> {
    const request = createRequest(RequestCode.GET_CONSUMER_LIST_BY_GROUP, GetConsumerListByGroupRequestHeader.encode({ consumerGroup }));
    const response = await this.invoke(addr, request, timeoutMs);
    if (response.code === ResponseCode.SYSTEM_ERROR && /no consumer/i.test(response.remark ?? '')) return [];
    if (response.code !== ResponseCode.SUCCESS) fail(response, addr);
    if (!response.body) return [];
    try {
      return decodeConsumerListBody(response.body).consumerIdList;
    } catch (err) {
      throw invalid(addr, 'consumer list', err);
    }
  }

  /** CONSUMER_SEND_MSG_BACK: delayLevel 0 = broker decides, < 0 = straight to the DLQ. */
  async consumerSendMessageBack(addr: string, header: ConsumerSendMsgBackRequestHeader, timeoutMs = this.timeoutMs): Promise<void> {
    const response = await this.invoke(addr, createRequest(RequestCode.CONSUMER_SEND_MSG_BACK, ConsumerSendMsgBackRequestHeader.encode(header)), timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) fail(response, addr);
  }

  /** LOCK_BATCH_MQ: the queues the broker locked for us. */
  async lockBatchMQ(addr: string, body: LockBatchRequestBody, timeoutMs = this.timeoutMs): Promise<MessageQueue[]> {
    const response = await this.invoke(addr, createRequest(RequestCode.LOCK_BATCH_MQ, undefined, encodeLockBatchRequestBody(body)), timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) fail(response, addr);
    if (!response.body) return [];
    try {
      return decodeLockBatchResponseBody(response.body).lockOKMQSet;
    } catch (err) {
      throw invalid(addr, 'lock', err);
    }
  }

  /** UNLOCK_BATCH_MQ (oneway when `oneway`, as Java does at shutdown). */
  async unlockBatchMQ(addr: string, body: LockBatchRequestBody, oneway = false, timeoutMs = this.timeoutMs): Promise<void> {
    const request = createRequest(RequestCode.UNLOCK_BATCH_MQ, undefined, encodeLockBatchRequestBody(body), oneway);
    if (oneway) return this.invokeOneway(addr, request);
    const response = await this.invoke(addr, request, timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) fail(response, addr);
  }

  // -------------------------------------------------------------------------------------------
  // Transactions

  /**
   * END_TRANSACTION (37), oneway as in Java (`endTransactionOneway`): commit (8), rollback (12) or
   * unknown (0, ignored by the broker). `remark` carries the local exception text, like Java.
   */
  endTransactionOneway(addr: string, header: EndTransactionRequestHeader, remark?: string): Promise<void> {
    const request = createRequest(RequestCode.END_TRANSACTION, EndTransactionRequestHeader.encode(header), undefined, true);
    if (remark !== undefined) request.remark = remark;
    return this.invokeOneway(addr, request);
  }

  // -------------------------------------------------------------------------------------------
  // Query

  /** VIEW_MESSAGE_BY_ID: one stored message by CommitLog offset (send it to the storeHost). */
  async viewMessage(addr: string, commitLogOffset: number, timeoutMs = this.timeoutMs): Promise<MessageExt> {
    const response = await this.invoke(addr, createRequest(RequestCode.VIEW_MESSAGE_BY_ID, ViewMessageRequestHeader.encode({ offset: commitLogOffset })), timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) fail(response, addr);
    const msgs = response.body ? decodePulledMessages(response.body) : [];
    if (msgs.length === 0) throw new MQClientError('INVALID_RESPONSE', `view reply from ${addr} holds no message`);
    return msgs[0]!;
  }

  /** QUERY_MESSAGE by key (or UNIQ_KEY with `uniqueKey`); an empty list on QUERY_NOT_FOUND. */
  async queryMessage(addr: string, header: QueryMessageRequestHeader, timeoutMs = this.timeoutMs): Promise<QueryMessageResponse> {
    const response = await this.invoke(addr, createRequest(RequestCode.QUERY_MESSAGE, QueryMessageRequestHeader.encode(header)), timeoutMs);
    if (response.code === ResponseCode.QUERY_NOT_FOUND) return { indexLastUpdateTimestamp: 0, indexLastUpdatePhyoffset: 0, messages: [] };
    if (response.code !== ResponseCode.SUCCESS) fail(response, addr);
    const h = QueryMessageResponseHeader.decode(response.extFields);
    return {
      indexLastUpdateTimestamp: h.indexLastUpdateTimestamp,
      indexLastUpdatePhyoffset: h.indexLastUpdatePhyoffset,
      messages: response.body ? decodePulledMessages(response.body) : [],
    };
  }
}
