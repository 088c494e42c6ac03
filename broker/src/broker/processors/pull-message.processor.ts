/**
 * PULL_MESSAGE (11), RocketMQ 4.9.7 `PullMessageProcessor`:
 *
 *   broker readable → group exists (auto-created) and may consume → topic exists and is readable →
 *   0 <= queueId < readQueueNums → subscription (from the request with bit 0x4, else the group's
 *   HEART_BEAT registration; missing → 24, older → 25) → store read with the tag filter →
 *   status → code → (19 + suspend bit + first run) hold for long polling → commit offset (bit 0x1, first run).
 *
 * Every reply carries suggestWhichBrokerId, nextBeginOffset, minOffset and maxOffset (ali-ons calls
 * `minOffset.toString()` on 19/20/21 too). The SUCCESS body is the stored records back to back.
 * Must stay synchronous: the hold registration happens in the same turn as the empty read, so no
 * dispatch can slip in between.
 */
import { buildSubscriptionData, ExpressionType, isSubAll, SubscriptionParseError, type SubscriptionData } from '../../protocol/subscription';
import { createResponse, type RemotingCommand } from '../../protocol/remoting-command';
import { HeaderError, PullMessageRequestHeader } from '../../protocol/headers';
import { ResponseCode } from '../../protocol/response-code';
import type { Channel } from '../../remoting/types';
import type { GetMessageStatus, MessageFilter } from '../../store/types';
import { joinRecords } from '../../store/default-message-store';
import type { BrokerContext } from '../broker-context';
import { MessageProperty, PullSysFlag, isReadable } from '../constants';
import type { PullRequestHoldService } from '../pull-request-hold-service';

/** Bound on messages per pull whatever the client asks (the store also caps bytes per pull). */
export const MAX_PULL_MSG_NUMS = 256;

/** Store status → reply code (§2.5 table). */
export function pullStatusToCode(status: GetMessageStatus, requestOffset: number): number {
  switch (status) {
    case 'FOUND':
      return ResponseCode.SUCCESS;
    case 'NO_MATCHED_MESSAGE':
    case 'MESSAGE_WAS_REMOVING':
      return ResponseCode.PULL_RETRY_IMMEDIATELY;
    case 'NO_MATCHED_LOGIC_QUEUE':
    case 'NO_MESSAGE_IN_QUEUE':
      return requestOffset !== 0 ? ResponseCode.PULL_OFFSET_MOVED : ResponseCode.PULL_NOT_FOUND;
    case 'OFFSET_FOUND_NULL':
    case 'OFFSET_OVERFLOW_ONE':
      return ResponseCode.PULL_NOT_FOUND;
    case 'OFFSET_OVERFLOW_BADLY':
    case 'OFFSET_TOO_SMALL':
      return ResponseCode.PULL_OFFSET_MOVED;
    default:
      return ResponseCode.SYSTEM_ERROR;
  }
}

/** Tag filter for the store: CQ tagsCode against codeSet, then the exact TAGS property. Undefined = take all. */
export function tagFilterOf(sub: SubscriptionData): MessageFilter | undefined {
  if (sub.expressionType !== ExpressionType.TAG || isSubAll(sub)) return undefined;
  const codes = new Set(sub.codeSet);
  const tags = new Set(sub.tagsSet);
  return {
    isMatchedByConsumeQueue: (tagsCode) => codes.has(tagsCode),
    isMatchedByCommitLog: (properties) => {
      const tag = properties[MessageProperty.TAGS];
      return tag !== undefined && tags.has(tag);
    },
  };
}

export class PullMessageProcessor {
  private holdService: PullRequestHoldService | undefined;

  constructor(private readonly ctx: BrokerContext) {}

  /** The hold service is built after the processor (it re-runs through `rerun`). */
  setHoldService(holdService: PullRequestHoldService): void {
    this.holdService = holdService;
  }

  /** RequestProcessor entry (first run: may suspend, may commit the offset). */
  readonly process = (request: RemotingCommand, channel: Channel): RemotingCommand | null =>
    this.processRequest(request, channel, true);

  /** Re-run of a held request: never suspends again, never commits. */
  readonly rerun = (request: RemotingCommand, channel: Channel): RemotingCommand | null =>
    this.processRequest(request, channel, false);

  processRequest(request: RemotingCommand, channel: Channel, brokerAllowSuspend: boolean): RemotingCommand | null {
    const ctx = this.ctx;
    let header: PullMessageRequestHeader;
    try {
      header = PullMessageRequestHeader.decode(request.extFields);
    } catch (err) {
      if (err instanceof HeaderError) return this.reply(request, ResponseCode.SYSTEM_ERROR, err.message, 0, 0, 0);
      throw err;
    }
    const { topic, queueId, queueOffset } = header;
    const fail = (code: number, remark: string): RemotingCommand => {
      // Offsets of a queue that exists help clients that read them on any code; 0 otherwise.
      let min = 0;
      let max = 0;
      if (queueId >= 0) {
        min = ctx.store.getMinOffsetInQueue(topic, queueId);
        max = ctx.store.getMaxOffsetInQueue(topic, queueId);
      }
      return this.reply(request, code, remark, queueOffset, min, max);
    };

    if (!isReadable(ctx.brokerPermission)) {
      return fail(ResponseCode.NO_PERMISSION, `the broker[${ctx.storeHost.host}] pulling message is forbidden`);
    }
    const groupConfig = ctx.subscriptionGroupManager.findSubscriptionGroupConfig(header.consumerGroup);
    if (!groupConfig) {
      return fail(ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, `subscription group [${header.consumerGroup}] does not exist`);
    }
    if (!groupConfig.consumeEnable) {
      return fail(ResponseCode.NO_PERMISSION, `subscription group no permission, ${header.consumerGroup}`);
    }
    const hasCommitOffset = (header.sysFlag & PullSysFlag.COMMIT_OFFSET) !== 0;
    const hasSuspend = (header.sysFlag & PullSysFlag.SUSPEND) !== 0;
    const hasSubscription = (header.sysFlag & PullSysFlag.SUBSCRIPTION) !== 0;

    const topicConfig = ctx.topicConfigManager.selectTopicConfig(topic);
    if (!topicConfig) {
      return fail(ResponseCode.TOPIC_NOT_EXIST, `topic[${topic}] not exist, apply first please!`);
    }
    if (!isReadable(topicConfig.perm)) {
      return fail(ResponseCode.NO_PERMISSION, `the topic[${topic}] pulling message is forbidden`);
    }
    if (queueId < 0 || queueId >= topicConfig.readQueueNums) {
      return fail(
        ResponseCode.SYSTEM_ERROR,
        `queueId[${queueId}] is illegal, topic:[${topic}] topicConfig.readQueueNums:[${topicConfig.readQueueNums}] consumer:[${channel.remoteAddress}]`,
      );
    }

    let sub: SubscriptionData;
    if (hasSubscription) {
      try {
        sub = buildSubscriptionData(topic, header.subscription, header.subVersion, header.expressionType ?? ExpressionType.TAG);
      } catch (err) {
        if (err instanceof SubscriptionParseError) return fail(ResponseCode.SUBSCRIPTION_PARSE_FAILED, 'parse the consumer\'s subscription failed');
        throw err;
      }
    } else {
      const groupInfo = ctx.consumerManager.getConsumerGroupInfo(header.consumerGroup);
      if (!groupInfo) return fail(ResponseCode.SUBSCRIPTION_NOT_EXIST, 'the consumer\'s group info not exist');
      if (!groupConfig.consumeBroadcastEnable && groupInfo.messageModel === 'BROADCASTING') {
        return fail(ResponseCode.NO_PERMISSION, `the consumer group[${header.consumerGroup}] can not consume by broadcast way`);
      }
      const registered = groupInfo.findSubscriptionData(topic);
      if (!registered) return fail(ResponseCode.SUBSCRIPTION_NOT_EXIST, 'the consumer\'s subscription not exist');
      if (registered.subVersion < header.subVersion) {
        return fail(ResponseCode.SUBSCRIPTION_NOT_LATEST, 'the consumer\'s subscription not latest');
      }
      sub = { ...registered, expressionType: registered.expressionType || ExpressionType.TAG };
    }
    if (sub.expressionType !== ExpressionType.TAG) {
      return fail(ResponseCode.SYSTEM_ERROR, `The broker does not support consumer to filter message by ${sub.expressionType}`);
    }

    const filter = tagFilterOf(sub);
    const maxMsgNums = Math.min(Math.max(header.maxMsgNums, 1), MAX_PULL_MSG_NUMS);
    const result = ctx.store.getMessage(topic, queueId, queueOffset, maxMsgNums, filter);
    const code = pullStatusToCode(result.status, queueOffset);
    // Like the Java broker, replies with a store result also carry the topic's and group's sysFlag
    // (this broker has no group sysFlags, so 0 — Java's default).
    const sysFlags = { topicSysFlag: String(topicConfig.topicSysFlag), groupSysFlag: '0' };

    let response: RemotingCommand | null;
    if (code === ResponseCode.SUCCESS) {
      const body = joinRecords(result.records, result.totalBytes);
      response = this.reply(request, code, result.status, result.nextBeginOffset, result.minOffset, result.maxOffset, body, sysFlags);
    } else if (code === ResponseCode.PULL_NOT_FOUND && brokerAllowSuspend && hasSuspend && this.holdService) {
      const holdMs = ctx.settings.longPollingEnable ? Math.max(0, header.suspendTimeoutMillis) : ctx.settings.shortPollingTimeMills;
      const held = this.holdService.hold({
        request,
        channel,
        topic,
        queueId,
        pullFromThisOffset: queueOffset,
        deadline: ctx.clock.now() + holdMs,
        filter,
      });
      response = held ? null : this.reply(request, code, result.status, result.nextBeginOffset, result.minOffset, result.maxOffset, undefined, sysFlags);
    } else {
      if (code === ResponseCode.PULL_OFFSET_MOVED) {
        ctx.logger.info(
          { topic, queueId, group: header.consumerGroup, requestOffset: queueOffset, nextBeginOffset: result.nextBeginOffset, status: result.status },
          'pull offset moved',
        );
      }
      response = this.reply(request, code, result.status, result.nextBeginOffset, result.minOffset, result.maxOffset, undefined, sysFlags);
    }

    if (brokerAllowSuspend && hasCommitOffset) {
      ctx.consumerOffsetManager.commitOffset(channel.remoteAddress, header.consumerGroup, topic, queueId, header.commitOffset);
    }
    return response;
  }

  private reply(
    request: RemotingCommand,
    code: number,
    remark: string,
    nextBeginOffset: number,
    minOffset: number,
    maxOffset: number,
    body?: Buffer,
    sysFlags?: { topicSysFlag: string; groupSysFlag: string },
  ): RemotingCommand {
    const response = createResponse(request, code, remark, undefined, body);
    response.extFields = {
      suggestWhichBrokerId: '0',
      nextBeginOffset: String(nextBeginOffset),
      minOffset: String(minOffset),
      maxOffset: String(maxOffset),
      ...sysFlags,
    };
    return response;
  }
}
