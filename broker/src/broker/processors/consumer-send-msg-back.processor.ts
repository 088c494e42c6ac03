/**
 * CONSUMER_SEND_MSG_BACK (36): a consumer failed a message and hands it back for a later retry
 * (`SendMessageProcessor.asyncConsumerSendMsgBack`, 4.9.7; remoting-protocol.md §5).
 *
 * Request extFields (`ConsumerSendMsgBackRequestHeader`): offset* (CommitLog physical offset of the failed
 * message), group*, delayLevel* (0 = broker picks 3 + reconsumeTimes, < 0 = straight to the DLQ),
 * originMsgId, originTopic, unitMode, maxReconsumeTimes (honoured when request version >= V3_4_9 = 121).
 * Reply: SUCCESS, or an error code with a remark.
 *
 * The new record keeps body/flag/properties/sysFlag/born*, gets reconsumeTimes + 1, RETRY_TOPIC (first
 * topic) and ORIGIN_MESSAGE_ID (first offset msgId), and goes to `%RETRY%<group>` with DELAY set, so the
 * delay routing parks it in SCHEDULE_TOPIC_XXXX until due; past the maximum it goes to `%DLQ%<group>`.
 */
import { ConsumerSendMsgBackRequestHeader, HeaderError } from '../../protocol/headers';
import { createOffsetMessageId } from '../../protocol/message-id';
import { createResponse, type RemotingCommand } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import type { RequestProcessor } from '../../remoting/types';
import type { PutMessageRequest } from '../../store/types';
import type { BrokerContext } from '../broker-context';
import {
  MessageProperty,
  Perm,
  VERSION_V3_4_9,
  dlqTopicOf,
  isWriteable,
  retryTopicOf,
} from '../constants';
import { storeMessageWithRouting } from '../message-routing';

/** `MixAll.DLQ_NUMS_PER_GROUP`. */
export const DLQ_NUMS_PER_GROUP = 1;
/** `TopicSysFlag.buildSysFlag(false, true)`. */
const TOPIC_SYS_FLAG_UNIT_SUB = 0x2;

export type SendBackContext = Pick<
  BrokerContext,
  'settings' | 'store' | 'topicConfigManager' | 'subscriptionGroupManager' | 'delayLevelsMs' | 'logger' | 'brokerPermission'
>;

export class ConsumerSendMsgBackProcessor {
  /** Random retry queue choice; replaceable in tests. */
  random: () => number = Math.random;

  constructor(private readonly ctx: SendBackContext) {}

  registerTo(server: { registerProcessor(code: number, processor: RequestProcessor): void }): void {
    server.registerProcessor(RequestCode.CONSUMER_SEND_MSG_BACK, this.processRequest);
  }

  readonly processRequest: RequestProcessor = (request) => this.consumerSendMsgBack(request);

  async consumerSendMsgBack(request: RemotingCommand): Promise<RemotingCommand> {
    let header: ConsumerSendMsgBackRequestHeader;
    try {
      header = ConsumerSendMsgBackRequestHeader.decode(request.extFields);
    } catch (err) {
      if (err instanceof HeaderError) return createResponse(request, ResponseCode.SYSTEM_ERROR, err.message);
      throw err;
    }
    const { ctx } = this;
    const groupConfig = ctx.subscriptionGroupManager.findSubscriptionGroupConfig(header.group);
    if (!groupConfig) {
      return createResponse(request, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, `subscription group not exist, ${header.group}`);
    }
    if (!isWriteable(ctx.brokerPermission)) {
      return createResponse(request, ResponseCode.NO_PERMISSION, `the broker[${ctx.settings.brokerIP1}] sending message is forbidden`);
    }
    if (groupConfig.retryQueueNums <= 0) return createResponse(request, ResponseCode.SUCCESS);

    let newTopic = retryTopicOf(header.group);
    const retryConfig = ctx.topicConfigManager.createTopicInSendMessageBackMethod(
      newTopic,
      groupConfig.retryQueueNums,
      Perm.READ | Perm.WRITE,
      header.unitMode ? TOPIC_SYS_FLAG_UNIT_SUB : 0,
    );
    if (!isWriteable(retryConfig.perm)) {
      return createResponse(request, ResponseCode.NO_PERMISSION, `the topic[${newTopic}] sending message is forbidden`);
    }
    const retryQueues = Math.max(1, Math.min(groupConfig.retryQueueNums, retryConfig.writeQueueNums || groupConfig.retryQueueNums));
    let queueId = Math.floor(this.random() * retryQueues) % retryQueues;

    const original = ctx.store.lookMessageByOffset(header.offset);
    if (!original) {
      return createResponse(request, ResponseCode.SYSTEM_ERROR, `look message by offset failed, ${header.offset}`);
    }

    const properties: Record<string, string> = { ...original.properties };
    if (properties[MessageProperty.RETRY_TOPIC] === undefined) properties[MessageProperty.RETRY_TOPIC] = original.topic;
    properties[MessageProperty.WAIT_STORE_MSG_OK] = 'false';

    let maxReconsumeTimes = groupConfig.retryMaxTimes;
    if (request.version >= VERSION_V3_4_9 && header.maxReconsumeTimes !== undefined) maxReconsumeTimes = header.maxReconsumeTimes;

    let delayLevel = header.delayLevel;
    if (original.reconsumeTimes >= maxReconsumeTimes || delayLevel < 0) {
      newTopic = dlqTopicOf(header.group);
      queueId = 0;
      const dlqConfig = ctx.topicConfigManager.createTopicInSendMessageBackMethod(newTopic, DLQ_NUMS_PER_GROUP, Perm.READ | Perm.WRITE, 0);
      if (!isWriteable(dlqConfig.perm)) {
        return createResponse(request, ResponseCode.NO_PERMISSION, `the topic[${newTopic}] sending message is forbidden`);
      }
      delete properties[MessageProperty.DELAY_TIME_LEVEL];
      ctx.logger.info({ group: header.group, offset: header.offset, reconsumeTimes: original.reconsumeTimes, maxReconsumeTimes, delayLevel }, 'message moved to DLQ');
    } else {
      if (delayLevel === 0) delayLevel = 3 + original.reconsumeTimes;
      properties[MessageProperty.DELAY_TIME_LEVEL] = String(delayLevel);
    }

    if (!properties[MessageProperty.ORIGIN_MESSAGE_ID]) {
      properties[MessageProperty.ORIGIN_MESSAGE_ID] = createOffsetMessageId(original.storeHost, original.physicalOffset);
    }

    const msg: PutMessageRequest = {
      topic: newTopic,
      queueId,
      flag: original.flag,
      body: original.body,
      properties,
      sysFlag: original.sysFlag,
      bornTimestamp: original.bornTimestamp,
      bornHost: original.bornHost,
      reconsumeTimes: original.reconsumeTimes + 1,
      preparedTransactionOffset: original.preparedTransactionOffset,
    };
    const result = await storeMessageWithRouting(ctx, msg);
    if (result.status === 'PUT_OK') return createResponse(request, ResponseCode.SUCCESS);
    ctx.logger.warn({ group: header.group, topic: newTopic, status: result.status, reason: result.reason }, 'send back: store refused the message');
    return createResponse(request, ResponseCode.SYSTEM_ERROR, result.status);
  }
}
