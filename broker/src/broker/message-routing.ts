/**
 * One path into the store for every broker-originated put (producer sends, CONSUMER_SEND_MSG_BACK,
 * the schedule service): a NOT/COMMIT-type message whose `DELAY` property is > 0 is parked in
 * `SCHEDULE_TOPIC_XXXX` queue (level-1) with `REAL_TOPIC`/`REAL_QID` (RocketMQ 4.x
 * `CommitLog.asyncPutMessage`, 5.x `HookUtils.handleScheduleMessage`); the schedule service puts it
 * back on its real topic when due (after removing `DELAY`, so it is not parked again).
 */
import { createResponse, type RemotingCommand } from '../protocol/remoting-command';
import { ResponseCode } from '../protocol/response-code';
import type { MessageStore, PutMessageRequest, PutMessageResult } from '../store/types';
import { MessageProperty, MessageSysFlag, SystemTopic, transactionTypeOf } from './constants';

/** Parses the DELAY property: a positive integer level, else 0. */
export function delayLevelOf(properties: Readonly<Record<string, string>>): number {
  const raw = properties[MessageProperty.DELAY_TIME_LEVEL];
  if (raw === undefined) return 0;
  const level = Number(raw);
  return Number.isInteger(level) && level > 0 ? level : 0;
}

/**
 * Returns the message to store: the same object when no delay applies, else a copy moved to the
 * schedule topic. Levels above `maxDelayLevel` are lowered to it (RocketMQ does the same).
 */
export function applyDelayRouting(msg: PutMessageRequest, maxDelayLevel: number): PutMessageRequest {
  if (maxDelayLevel <= 0 || msg.topic === SystemTopic.SCHEDULE) return msg;
  const tranType = transactionTypeOf(msg.sysFlag);
  if (tranType !== MessageSysFlag.TRANSACTION_NOT_TYPE && tranType !== MessageSysFlag.TRANSACTION_COMMIT_TYPE) return msg;
  let level = delayLevelOf(msg.properties);
  if (level <= 0) return msg;
  if (level > maxDelayLevel) level = maxDelayLevel;
  return {
    ...msg,
    topic: SystemTopic.SCHEDULE,
    queueId: level - 1,
    properties: {
      ...msg.properties,
      [MessageProperty.REAL_TOPIC]: msg.topic,
      [MessageProperty.REAL_QUEUE_ID]: String(msg.queueId),
      [MessageProperty.DELAY_TIME_LEVEL]: String(level),
    },
  };
}

export interface RoutingDeps {
  readonly store: MessageStore;
  readonly delayLevelsMs: readonly number[];
}

/** Stores one message through the delay routing. Use this (not store.putMessage) for every broker put. */
export function storeMessageWithRouting(deps: RoutingDeps, msg: PutMessageRequest): Promise<PutMessageResult> {
  return deps.store.putMessage(applyDelayRouting(msg, deps.delayLevelsMs.length));
}

/** Wire code + remark for a store outcome (SendMessageProcessor.handlePutMessageResult). */
export function putResultToResponseCode(result: PutMessageResult): { code: number; remark?: string } {
  switch (result.status) {
    case 'PUT_OK':
      return { code: ResponseCode.SUCCESS };
    case 'FLUSH_DISK_TIMEOUT':
      return { code: ResponseCode.FLUSH_DISK_TIMEOUT, remark: result.reason ?? 'flush disk timeout' };
    case 'SERVICE_NOT_AVAILABLE':
      return {
        code: ResponseCode.SERVICE_NOT_AVAILABLE,
        remark: `service not available now${result.reason ? `: ${result.reason}` : ''}`,
      };
    case 'MESSAGE_ILLEGAL':
      return { code: ResponseCode.MESSAGE_ILLEGAL, remark: result.reason ?? 'the message is illegal, maybe msg body or properties length not matched' };
    case 'PROPERTIES_SIZE_EXCEEDED':
      return { code: ResponseCode.MESSAGE_ILLEGAL, remark: result.reason ?? 'the message properties are too long' };
    default:
      return { code: ResponseCode.SYSTEM_ERROR, remark: `UNKNOWN_ERROR${result.reason ? `: ${result.reason}` : ''}` };
  }
}

/** A bare error reply (used by several processors). */
export function errorResponse(request: RemotingCommand, code: number, remark: string, header?: object): RemotingCommand {
  return createResponse(request, code, remark, header);
}
