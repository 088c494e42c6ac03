/**
 * SEND_MESSAGE (10, full header names), SEND_MESSAGE_V2 (310, keys a..n) and SEND_BATCH_MESSAGE (320,
 * V2 keys + batch body). RocketMQ 4.9.7 `SendMessageProcessor` + `AbstractSendMessageProcessor.msgCheck`:
 *
 *   broker writable → topic name valid → not a system "no send" topic → topic exists or is auto-created
 *   (else TOPIC_NOT_EXIST) → queueId in range (negative = random) → sizes → `%RETRY%` → `%DLQ%` when the
 *   message has used up its reconsume times → store (DELAY parks it in SCHEDULE_TOPIC_XXXX; TRAN_MSG=true
 *   stores a half message in RMQ_SYS_TRANS_HALF_TOPIC queue 0, see transaction/) → reply.
 *
 * Reply header: msgId (offset id; comma-joined for batches), queueId, queueOffset (first of a batch),
 * plus MSG_REGION / TRACE_ON, so extFields is never empty (the Java client dereferences it).
 */
import { decodeBatchBody, BatchBodyError } from '../../protocol/batch-body';
import { decodeProperties, MAX_PROPERTIES_BYTES, MAX_V1_TOPIC_BYTES } from '../../protocol/message-record';
import type { HostAddress } from '../../protocol/message-record';
import { createResponse, type RemotingCommand } from '../../protocol/remoting-command';
import { decodeSendRequestHeader, HeaderError, type SendMessageRequestHeader } from '../../protocol/headers';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import type { Channel } from '../../remoting/types';
import type { PutMessageRequest, PutMessageResult } from '../../store/types';
import type { BrokerContext } from '../broker-context';
import {
  DEFAULT_REGION_ID,
  MessageProperty,
  MessageSysFlag,
  Perm,
  RETRY_GROUP_TOPIC_PREFIX,
  VERSION_V3_4_9,
  dlqTopicOf,
  isRetryTopic,
  isWriteable,
} from '../constants';
import { putResultToResponseCode, storeMessageWithRouting } from '../message-routing';
import { isNotAllowedSendTopic, validateTopicName, type TopicConfig } from '../topic-config-manager';
import { isTransactionalSend, toHalfMessage } from '../transaction/transaction-message.util';

/**
 * Lone UTF-16 surrogates (a JSON header can carry them) become U+FFFD, as the UTF-8 record write does,
 * so the CQ tag hash and index keys computed from these strings match the stored record (and a rebuild).
 */
function wellFormed(text: string): string {
  return /[\uD800-\uDFFF]/.test(text) ? Buffer.from(text, 'utf8').toString('utf8') : text;
}

/** The send header with V2 letters mapped to names (decoded by protocol/headers). */
export type { SendMessageRequestHeader };

/** Checked target of a send: the topic config and the queue to write. */
interface SendTarget {
  topic: string;
  topicConfig: TopicConfig;
  queueId: number;
}

export class SendMessageProcessor {
  private readonly maxMessageSize: number;

  constructor(private readonly ctx: BrokerContext) {
    this.maxMessageSize = ctx.settings.maxMessageSize;
  }

  /** RequestProcessor entry for codes 10, 310 and 320. */
  readonly process = (request: RemotingCommand, channel: Channel): Promise<RemotingCommand> | RemotingCommand => {
    let header: SendMessageRequestHeader;
    try {
      header = decodeSendRequestHeader(request.code, request.extFields);
    } catch (err) {
      if (err instanceof HeaderError) return this.reply(request, ResponseCode.SYSTEM_ERROR, err.message);
      throw err;
    }
    if (request.code === RequestCode.SEND_BATCH_MESSAGE) return this.sendBatch(request, channel, header);
    return this.sendOne(request, channel, header);
  };

  /** Hot path: builds the string-only extFields directly instead of going through toExtFields. */
  private reply(request: RemotingCommand, code: number, remark?: string, extra?: Record<string, string>): RemotingCommand {
    const response = createResponse(request, code, remark);
    const extFields = extra ?? {};
    extFields[MessageProperty.MSG_REGION] = DEFAULT_REGION_ID;
    extFields[MessageProperty.TRACE_SWITCH] = 'true';
    response.extFields = extFields;
    return response;
  }

  /** msgCheck: everything that can be answered before touching the body. */
  private check(request: RemotingCommand, channel: Channel, header: SendMessageRequestHeader): SendTarget | RemotingCommand {
    const ctx = this.ctx;
    if (!isWriteable(ctx.brokerPermission)) {
      return this.reply(request, ResponseCode.NO_PERMISSION, `the broker[${ctx.storeHost.host}] sending message is forbidden`);
    }
    const topic = header.topic;
    const invalid = validateTopicName(topic);
    if (invalid) return this.reply(request, ResponseCode.SYSTEM_ERROR, invalid);
    if (isNotAllowedSendTopic(topic)) {
      return this.reply(request, ResponseCode.NO_PERMISSION, `Sending message to topic[${topic}] is forbidden.`);
    }
    let topicConfig = ctx.topicConfigManager.selectTopicConfig(topic);
    if (!topicConfig) {
      if (isRetryTopic(topic)) {
        // A retry topic is a group's: one queue, like the ones HEART_BEAT and send-back create.
        topicConfig = ctx.topicConfigManager.createTopicInSendMessageBackMethod(topic, 1, Perm.READ | Perm.WRITE);
      } else {
        topicConfig = ctx.topicConfigManager.createTopicInSendMessageMethod(
          topic,
          header.defaultTopic,
          channel.remoteAddress,
          header.defaultTopicQueueNums,
        );
      }
      if (!topicConfig) {
        return this.reply(request, ResponseCode.TOPIC_NOT_EXIST, `topic[${topic}] not exist, apply first please!`);
      }
    }
    if (!isWriteable(topicConfig.perm)) {
      return this.reply(request, ResponseCode.NO_PERMISSION, `the topic[${topic}] sending message is forbidden`);
    }
    const queueCount = Math.max(topicConfig.writeQueueNums, topicConfig.readQueueNums);
    let queueId = header.queueId;
    if (queueId >= queueCount) {
      return this.reply(
        request,
        ResponseCode.SYSTEM_ERROR,
        `request queueId[${queueId}] is illegal, topic[${topic}] has ${topicConfig.writeQueueNums} write queues, producer: ${channel.remoteAddress}`,
      );
    }
    if (queueId < 0) {
      if (topicConfig.writeQueueNums <= 0) {
        return this.reply(request, ResponseCode.NO_PERMISSION, `the topic[${topic}] has no write queue`);
      }
      queueId = Math.floor(Math.random() * topicConfig.writeQueueNums);
    }
    return { topic, topicConfig, queueId };
  }

  private bornHostOf(channel: Channel): HostAddress {
    return { host: channel.remoteHost, port: channel.remotePort };
  }

  private async sendOne(request: RemotingCommand, channel: Channel, header: SendMessageRequestHeader): Promise<RemotingCommand> {
    const checked = this.check(request, channel, header);
    if ('code' in checked) return checked;
    const ctx = this.ctx;
    const body = request.body ?? Buffer.alloc(0);
    if (body.length > this.maxMessageSize) {
      return this.reply(
        request,
        ResponseCode.MESSAGE_ILLEGAL,
        `the message body size ${body.length} bytes is over the limit maxMessageSize ${this.maxMessageSize} bytes`,
      );
    }
    const propertiesText = wellFormed(header.properties ?? '');
    if (Buffer.byteLength(propertiesText, 'utf8') > MAX_PROPERTIES_BYTES) {
      return this.reply(request, ResponseCode.MESSAGE_ILLEGAL, `the message properties are over the limit of ${MAX_PROPERTIES_BYTES} bytes`);
    }
    const properties = propertiesText ? decodeProperties(propertiesText) : {};
    // TRAN_MSG=true (or a PREPARED sysFlag): parked as a half message until END_TRANSACTION (transaction/).
    const transactional = isTransactionalSend(properties, header.sysFlag);
    if (transactional && ctx.settings.rejectTransactionMessage) {
      return this.reply(request, ResponseCode.NO_PERMISSION, `the broker[${ctx.storeHost.host}] sending transaction message is forbidden`);
    }

    let topic = checked.topic;
    let queueId = checked.queueId;
    let reconsumeTimes = header.reconsumeTimes ?? intProperty(properties, MessageProperty.RECONSUME_TIME) ?? 0;
    if (topic.startsWith(RETRY_GROUP_TOPIC_PREFIX)) {
      const group = topic.slice(RETRY_GROUP_TOPIC_PREFIX.length);
      const groupConfig = ctx.subscriptionGroupManager.findSubscriptionGroupConfig(group);
      if (!groupConfig) {
        return this.reply(request, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, `subscription group not exist, ${group}`);
      }
      let maxReconsumeTimes = groupConfig.retryMaxTimes;
      if (request.version >= VERSION_V3_4_9) {
        maxReconsumeTimes = header.maxReconsumeTimes ?? intProperty(properties, MessageProperty.MAX_RECONSUME_TIMES) ?? maxReconsumeTimes;
      }
      // The client carries these in properties only on the way to the header; do not store them.
      delete properties[MessageProperty.RECONSUME_TIME];
      delete properties[MessageProperty.MAX_RECONSUME_TIMES];
      if (reconsumeTimes < 0) reconsumeTimes = 0;
      if (reconsumeTimes >= maxReconsumeTimes) {
        topic = dlqTopicOf(group);
        ctx.topicConfigManager.createTopicInSendMessageBackMethod(topic, 1, Perm.READ | Perm.WRITE);
        queueId = 0;
        delete properties[MessageProperty.DELAY_TIME_LEVEL];
        ctx.logger.info({ group, reconsumeTimes, maxReconsumeTimes }, 'retry message exceeded max reconsume times, sent to DLQ');
      }
    }

    delete properties[MessageProperty.WAIT_STORE_MSG_OK];
    properties[MessageProperty.CLUSTER] = ctx.settings.brokerClusterName;
    let sysFlag = header.sysFlag;
    if (checked.topicConfig.topicFilterType === 'MULTI_TAG') sysFlag |= MessageSysFlag.MULTI_TAGS;

    const msg: PutMessageRequest = {
      topic,
      queueId,
      flag: header.flag,
      body,
      properties,
      sysFlag,
      bornTimestamp: header.bornTimestamp,
      bornHost: this.bornHostOf(channel),
      reconsumeTimes,
      preparedTransactionOffset: 0,
    };
    // A half is stored as is (no DELAY parking): a delay applies to the committed message.
    const result = transactional ? await ctx.store.putMessage(toHalfMessage(msg, header.producerGroup)) : await storeMessageWithRouting(ctx, msg);
    return this.replyForPut(request, result, queueId, properties[MessageProperty.UNIQ_CLIENT_MESSAGE_ID_KEYIDX]);
  }

  private async sendBatch(request: RemotingCommand, channel: Channel, header: SendMessageRequestHeader): Promise<RemotingCommand> {
    if (Buffer.byteLength(header.topic, 'utf8') > MAX_V1_TOPIC_BYTES) {
      return this.reply(request, ResponseCode.MESSAGE_ILLEGAL, `message topic length too long ${header.topic.length}`);
    }
    if (header.topic.startsWith(RETRY_GROUP_TOPIC_PREFIX)) {
      return this.reply(request, ResponseCode.MESSAGE_ILLEGAL, `batch request does not support retry group ${header.topic}`);
    }
    const checked = this.check(request, channel, header);
    if ('code' in checked) return checked;
    const ctx = this.ctx;
    const raw = request.body ?? Buffer.alloc(0);
    if (raw.length > this.maxMessageSize) {
      return this.reply(
        request,
        ResponseCode.MESSAGE_ILLEGAL,
        `the batch body size ${raw.length} bytes is over the limit maxMessageSize ${this.maxMessageSize} bytes`,
      );
    }
    let entries;
    try {
      entries = decodeBatchBody(raw);
    } catch (err) {
      if (err instanceof BatchBodyError) return this.reply(request, ResponseCode.MESSAGE_ILLEGAL, `bad batch body: ${err.message}`);
      throw err;
    }
    if (entries.length === 0) return this.reply(request, ResponseCode.MESSAGE_ILLEGAL, 'the batch is empty');
    const headerProps = header.properties ? decodeProperties(wellFormed(header.properties)) : {};
    if (isTransactionalSend(headerProps, header.sysFlag) || entries.some((e) => isTransactionalSend(e.properties, 0))) {
      return this.reply(request, ResponseCode.MESSAGE_ILLEGAL, 'batch messages cannot be transactional');
    }
    if (Number(headerProps[MessageProperty.DELAY_TIME_LEVEL] ?? 0) > 0) {
      return this.reply(request, ResponseCode.MESSAGE_ILLEGAL, 'batch messages cannot be delayed');
    }
    delete headerProps[MessageProperty.WAIT_STORE_MSG_OK];
    let sysFlag = header.sysFlag;
    if (checked.topicConfig.topicFilterType === 'MULTI_TAG') sysFlag |= MessageSysFlag.MULTI_TAGS;
    const bornHost = this.bornHostOf(channel);
    const cluster = ctx.settings.brokerClusterName;
    const headerKeys = Object.keys(headerProps);
    const batch: PutMessageRequest[] = entries.map((e) => {
      // 4.9.x appends the batch's own properties (CLUSTER, ...) to every inner message; inner keys win.
      // The decoded map is this request's own: completed in place.
      const properties = e.properties;
      for (const k of headerKeys) if (!Object.hasOwn(properties, k)) properties[k] = headerProps[k]!;
      properties[MessageProperty.CLUSTER] = cluster;
      if (MessageProperty.WAIT_STORE_MSG_OK in properties) delete properties[MessageProperty.WAIT_STORE_MSG_OK];
      if (MessageProperty.DELAY_TIME_LEVEL in properties) delete properties[MessageProperty.DELAY_TIME_LEVEL];
      return {
        topic: checked.topic,
        queueId: checked.queueId,
        flag: e.flag,
        body: e.body,
        properties,
        sysFlag,
        bornTimestamp: header.bornTimestamp,
        bornHost,
        reconsumeTimes: header.reconsumeTimes ?? 0,
        preparedTransactionOffset: 0,
      };
    });
    const result = await ctx.store.putMessages(batch);
    return this.replyForPut(request, result, checked.queueId, headerProps[MessageProperty.UNIQ_CLIENT_MESSAGE_ID_KEYIDX]);
  }

  /**
   * `transactionId` = the request's UNIQ_KEY (for a batch, the batch carrier's), as the Java broker
   * answers: the Java producer copies it into `__transactionId__` and END_TRANSACTION (compat matrix).
   */
  private replyForPut(request: RemotingCommand, result: PutMessageResult, queueId: number, uniqKey?: string): RemotingCommand {
    const { code, remark } = putResultToResponseCode(result);
    if ((code === ResponseCode.SUCCESS || code === ResponseCode.FLUSH_DISK_TIMEOUT) && result.appended.length > 0) {
      const first = result.appended[0]!;
      const msgId = result.appended.length === 1 ? first.msgId : result.appended.map((a) => a.msgId).join(',');
      const extFields: Record<string, string> = { msgId, queueId: String(queueId), queueOffset: String(first.queueOffset) };
      if (uniqKey) extFields.transactionId = uniqKey;
      return this.reply(request, code, remark, extFields);
    }
    if (code !== ResponseCode.SUCCESS) this.ctx.logger.warn({ status: result.status, reason: result.reason }, 'store refused a message');
    return this.reply(request, code === ResponseCode.SUCCESS ? ResponseCode.SYSTEM_ERROR : code, remark ?? 'store returned no result');
  }
}

function intProperty(properties: Record<string, string>, key: string): number | undefined {
  const raw = properties[key];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return Number.isInteger(n) ? n : undefined;
}
