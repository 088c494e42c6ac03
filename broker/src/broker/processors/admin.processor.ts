/**
 * Offset, query and admin requests answered straight from the store and the managers
 * (RocketMQ `AdminBrokerProcessor`, `QueryMessageProcessor`):
 *
 *   GET_MAX_OFFSET 30, GET_MIN_OFFSET 31, GET_EARLIEST_MSG_STORETIME 32, SEARCH_OFFSET_BY_TIMESTAMP 29,
 *   VIEW_MESSAGE_BY_ID 33, QUERY_MESSAGE 12, UPDATE_AND_CREATE_TOPIC 17, GET_ALL_TOPIC_CONFIG 21,
 *   GET_TOPIC_STATS_INFO 202, GET_CONSUME_STATS 208, GET_CONSUMER_CONNECTION_LIST 203.
 *
 * TopicStatsTable / ConsumeStats go out in Rocketry's list form (see protocol/bodies/admin-stats.body.ts).
 */
import {
  CreateTopicRequestHeader,
  GetConsumeStatsRequestHeader,
  GetConsumerConnectionListRequestHeader,
  GetEarliestMsgStoretimeRequestHeader,
  GetMaxOffsetRequestHeader,
  GetMinOffsetRequestHeader,
  GetTopicStatsInfoRequestHeader,
  HeaderError,
  QueryMessageRequestHeader,
  SearchOffsetRequestHeader,
  ViewMessageRequestHeader,
} from '../../protocol/headers';
import { type ConsumeStats, encodeConsumeStats, encodeTopicStatsTable, type MessageQueue, type TopicStatsTable } from '../../protocol/bodies';
import { createResponse, type RemotingCommand } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import type { Channel } from '../../remoting/types';
import type { BrokerContext } from '../broker-context';
import { validateTopicName, type TopicConfig, type TopicConfigFile } from '../topic-config-manager';

/** `MessageStoreConfig.defaultQueryMaxNum`, forced for UNIQ_KEY lookups. */
export const DEFAULT_QUERY_MAX_NUM = 32;
/** Bound on QUERY_MESSAGE results whatever the client asks. */
export const MAX_QUERY_MAX_NUM = 1000;
/** Bound on queue counts accepted by UPDATE_AND_CREATE_TOPIC. */
export const MAX_TOPIC_QUEUE_NUMS = 1024;

/** GET_CONSUMER_CONNECTION_LIST body (Java `ConsumerConnection`). */
export interface ConsumerConnectionBody {
  connectionSet: Array<{ clientId: string; clientAddr: string; language: string; version: number }>;
  subscriptionTable: Record<string, unknown>;
  consumeType: string;
  messageModel: string;
  consumeFromWhere: string;
}

const jsonBody = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');

export class AdminProcessor {
  constructor(private readonly ctx: BrokerContext) {}

  readonly process = (request: RemotingCommand, channel: Channel): RemotingCommand => {
    try {
      return this.dispatch(request, channel);
    } catch (err) {
      if (err instanceof HeaderError) return createResponse(request, ResponseCode.SYSTEM_ERROR, err.message);
      throw err;
    }
  };

  private dispatch(request: RemotingCommand, channel: Channel): RemotingCommand {
    switch (request.code) {
      case RequestCode.GET_MAX_OFFSET: {
        const { topic, queueId } = GetMaxOffsetRequestHeader.decode(request.extFields);
        return this.offsetReply(request, this.ctx.store.getMaxOffsetInQueue(topic, queueId));
      }
      case RequestCode.GET_MIN_OFFSET: {
        const { topic, queueId } = GetMinOffsetRequestHeader.decode(request.extFields);
        return this.offsetReply(request, this.ctx.store.getMinOffsetInQueue(topic, queueId));
      }
      case RequestCode.GET_EARLIEST_MSG_STORETIME: {
        const { topic, queueId } = GetEarliestMsgStoretimeRequestHeader.decode(request.extFields);
        const timestamp = this.ctx.store.getEarliestMessageTime(topic, queueId);
        return createResponse(request, ResponseCode.SUCCESS, undefined, { timestamp: String(timestamp) });
      }
      case RequestCode.SEARCH_OFFSET_BY_TIMESTAMP: {
        const { topic, queueId, timestamp } = SearchOffsetRequestHeader.decode(request.extFields);
        return this.offsetReply(request, this.ctx.store.getOffsetInQueueByTime(topic, queueId, timestamp));
      }
      case RequestCode.VIEW_MESSAGE_BY_ID:
        return this.viewMessageById(request);
      case RequestCode.QUERY_MESSAGE:
        return this.queryMessage(request);
      case RequestCode.UPDATE_AND_CREATE_TOPIC:
        return this.updateAndCreateTopic(request, channel);
      case RequestCode.GET_ALL_TOPIC_CONFIG: {
        const body: TopicConfigFile = this.ctx.topicConfigManager.snapshot();
        return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, jsonBody(body));
      }
      case RequestCode.GET_TOPIC_STATS_INFO:
        return this.topicStats(request);
      case RequestCode.GET_CONSUME_STATS:
        return this.consumeStats(request);
      case RequestCode.GET_CONSUMER_CONNECTION_LIST:
        return this.consumerConnectionList(request);
      default:
        return createResponse(request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, ` request type ${request.code} not supported`);
    }
  }

  private offsetReply(request: RemotingCommand, offset: number): RemotingCommand {
    return createResponse(request, ResponseCode.SUCCESS, undefined, { offset: String(offset) });
  }

  private viewMessageById(request: RemotingCommand): RemotingCommand {
    const { offset } = ViewMessageRequestHeader.decode(request.extFields);
    const record = offset >= 0 ? this.ctx.store.readRecordBytes(offset) : null;
    if (!record) return createResponse(request, ResponseCode.SYSTEM_ERROR, `can not find message by the offset, ${offset}`);
    return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, record);
  }

  private queryMessage(request: RemotingCommand): RemotingCommand {
    const h = QueryMessageRequestHeader.decode(request.extFields);
    const { topic, key, beginTimestamp: beginMs, endTimestamp: endMs } = h;
    let maxNum = h.maxNum;
    if (h._UNIQUE_KEY_QUERY === true) maxNum = DEFAULT_QUERY_MAX_NUM;
    maxNum = Math.min(Math.max(maxNum, 1), MAX_QUERY_MAX_NUM);
    const result = this.ctx.store.queryMessage(topic, key, maxNum, beginMs, endMs);
    const header = {
      indexLastUpdateTimestamp: String(result.indexLastUpdateTimestamp),
      indexLastUpdatePhyoffset: String(result.indexLastUpdatePhyoffset),
    };
    if (result.records.length === 0) {
      return createResponse(request, ResponseCode.QUERY_NOT_FOUND, 'can not find message, maybe time range not correct', header);
    }
    return createResponse(request, ResponseCode.SUCCESS, undefined, header, Buffer.concat(result.records));
  }

  private updateAndCreateTopic(request: RemotingCommand, channel: Channel): RemotingCommand {
    const h = CreateTopicRequestHeader.decode(request.extFields);
    const { topic, readQueueNums, writeQueueNums } = h;
    const invalid = validateTopicName(topic);
    if (invalid) return createResponse(request, ResponseCode.SYSTEM_ERROR, invalid);
    if (topic === this.ctx.settings.brokerClusterName) {
      return createResponse(request, ResponseCode.SYSTEM_ERROR, `the topic[${topic}] is conflict with system reserved words.`);
    }
    for (const [name, n] of [['readQueueNums', readQueueNums], ['writeQueueNums', writeQueueNums]] as const) {
      if (n < 0 || n > MAX_TOPIC_QUEUE_NUMS) {
        return createResponse(request, ResponseCode.SYSTEM_ERROR, `${name} ${n} is out of range [0, ${MAX_TOPIC_QUEUE_NUMS}]`);
      }
    }
    if (readQueueNums === 0 && writeQueueNums === 0) {
      return createResponse(request, ResponseCode.SYSTEM_ERROR, 'a topic needs at least one read or write queue');
    }
    const perm = h.perm;
    if (perm < 0 || perm > 0xf) return createResponse(request, ResponseCode.SYSTEM_ERROR, `perm ${perm} is not a PermName bit set`);
    const filterType = h.topicFilterType;
    if (filterType !== 'SINGLE_TAG' && filterType !== 'MULTI_TAG') {
      return createResponse(request, ResponseCode.SYSTEM_ERROR, `topicFilterType must be SINGLE_TAG or MULTI_TAG, got ${filterType}`);
    }
    const tc: TopicConfig = {
      topicName: topic,
      readQueueNums,
      writeQueueNums,
      perm,
      topicFilterType: filterType,
      topicSysFlag: h.topicSysFlag ?? 0,
      order: h.order ?? false,
      attributes: {},
    };
    this.ctx.logger.info({ topic, readQueueNums, writeQueueNums, perm, from: channel.remoteAddress }, 'UPDATE_AND_CREATE_TOPIC');
    // The manager notifies its listeners; the controller re-registers with the NameServers at once.
    this.ctx.topicConfigManager.updateTopicConfig(tc);
    return createResponse(request, ResponseCode.SUCCESS);
  }

  private mqOf(topic: string, queueId: number): MessageQueue {
    return { topic, brokerName: this.ctx.settings.brokerName, queueId };
  }

  private topicStats(request: RemotingCommand): RemotingCommand {
    const { topic } = GetTopicStatsInfoRequestHeader.decode(request.extFields);
    const tc = this.ctx.topicConfigManager.selectTopicConfig(topic);
    if (!tc) return createResponse(request, ResponseCode.TOPIC_NOT_EXIST, `topic[${topic}] not exist`);
    const store = this.ctx.store;
    const body: TopicStatsTable = { offsetTable: [] };
    for (let queueId = 0; queueId < tc.writeQueueNums; queueId++) {
      const minOffset = Math.max(0, store.getMinOffsetInQueue(topic, queueId));
      const maxOffset = Math.max(0, store.getMaxOffsetInQueue(topic, queueId));
      const lastUpdateTimestamp = maxOffset > 0 ? Math.max(0, store.getMessageStoreTimestamp(topic, queueId, maxOffset - 1)) : 0;
      body.offsetTable.push({ mq: this.mqOf(topic, queueId), minOffset, maxOffset, lastUpdateTimestamp });
    }
    return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, encodeTopicStatsTable(body));
  }

  private consumeStats(request: RemotingCommand): RemotingCommand {
    const { consumerGroup: group, topic: onlyTopic } = GetConsumeStatsRequestHeader.decode(request.extFields);
    const ctx = this.ctx;
    // Topics the group committed offsets for, plus those its online members subscribe to.
    const topicSet = onlyTopic ? new Set([onlyTopic]) : ctx.consumerOffsetManager.whichTopicByConsumer(group);
    if (!onlyTopic) for (const t of ctx.consumerManager.getConsumerGroupInfo(group)?.subscriptionTable.keys() ?? []) topicSet.add(t);
    const topics = [...topicSet].sort();
    const body: ConsumeStats = { offsetTable: [], consumeTps: 0 };
    for (const topic of topics) {
      const tc = ctx.topicConfigManager.selectTopicConfig(topic);
      if (!tc) continue;
      for (let queueId = 0; queueId < tc.readQueueNums; queueId++) {
        const brokerOffset = Math.max(0, ctx.store.getMaxOffsetInQueue(topic, queueId));
        const committed = ctx.consumerOffsetManager.queryOffset(group, topic, queueId);
        const consumerOffset = committed < 0 ? 0 : committed;
        const lastTimestamp = consumerOffset > 0 ? Math.max(0, ctx.store.getMessageStoreTimestamp(topic, queueId, consumerOffset - 1)) : 0;
        body.offsetTable.push({ mq: this.mqOf(topic, queueId), brokerOffset, consumerOffset, lastTimestamp });
      }
    }
    if (body.offsetTable.length === 0 && !ctx.subscriptionGroupManager.getSubscriptionGroupConfig(group)) {
      return createResponse(request, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, `subscription group [${group}] does not exist`);
    }
    return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, encodeConsumeStats(body));
  }

  private consumerConnectionList(request: RemotingCommand): RemotingCommand {
    const { consumerGroup: group } = GetConsumerConnectionListRequestHeader.decode(request.extFields);
    const info = this.ctx.consumerManager.getConsumerGroupInfo(group);
    if (!info) return createResponse(request, ResponseCode.CONSUMER_NOT_ONLINE, `the consumer group[${group}] not online`);
    const body: ConsumerConnectionBody = {
      connectionSet: [...info.channelInfoTable.values()].map((ci) => ({
        clientId: ci.clientId,
        clientAddr: ci.channel.remoteAddress,
        language: ci.language,
        version: ci.version,
      })),
      subscriptionTable: Object.fromEntries(info.subscriptionTable),
      consumeType: info.consumeType,
      messageModel: info.messageModel,
      consumeFromWhere: info.consumeFromWhere,
    };
    return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, jsonBody(body));
  }
}
