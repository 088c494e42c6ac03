/**
 * Client membership requests (`ClientManageProcessor.java` + the consumer-list part of
 * `ConsumerManageProcessor.java`):
 *
 *   34 HEART_BEAT                 body HeartbeatData JSON → register producers/consumers + subscriptions,
 *                                 ensure the group config and `%RETRY%<group>` exist; SUCCESS, no body
 *   35 UNREGISTER_CLIENT          extFields clientID, producerGroup?, consumerGroup? → SUCCESS
 *   38 GET_CONSUMER_LIST_BY_GROUP extFields consumerGroup → `{"consumerIdList":[...]}`, or
 *                                 SYSTEM_ERROR "no consumer for this group, <group>" when empty
 *   46 CHECK_CLIENT_CONFIG        body {clientId, group, subscriptionData} → SUCCESS for TAG, error otherwise
 */
import type { Logger } from '../../common/logger';
import { silentLogger } from '../../common/logger';
import { createResponse, type RemotingCommand } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import type { Channel, RequestProcessor } from '../../remoting/types';
import type { ConsumerManager, SubscriptionData } from '../client/consumer-manager';
import type { ProducerManager } from '../client/producer-manager';
import { Perm, retryTopicOf } from '../constants';
import type { SubscriptionGroupManager } from '../subscription-group-manager';
import type { TopicConfigManager } from '../topic-config-manager';

/** `TopicSysFlag.buildSysFlag(false, true)`: a unit-mode consumer's retry topic is flagged UNIT_SUB. */
const TOPIC_SYS_FLAG_UNIT_SUB = 0x2;

export interface ClientManageProcessorDeps {
  consumerManager: ConsumerManager;
  producerManager: ProducerManager;
  topicConfigManager: Pick<TopicConfigManager, 'createTopicInSendMessageBackMethod' | 'selectTopicConfig'>;
  subscriptionGroupManager: Pick<SubscriptionGroupManager, 'findSubscriptionGroupConfig' | 'getSubscriptionGroupConfig'>;
  /**
   * Called when a heartbeat created a `%RETRY%<group>` topic; the reply waits for it (at most
   * topicsChangedWaitMs). Wire it to the NameServer registration: ali-ons and Java fetch the retry
   * topic's route right after their first heartbeat, and without a route they retry only 30 s later.
   */
  topicsChanged?: () => Promise<unknown>;
  /** Default 3000. */
  topicsChangedWaitMs?: number;
  logger?: Logger;
}

export const DEFAULT_TOPICS_CHANGED_WAIT_MS = 3000;

/** Where the controller registers this processor. */
export const CLIENT_MANAGE_REQUEST_CODES: readonly number[] = [
  RequestCode.HEART_BEAT,
  RequestCode.UNREGISTER_CLIENT,
  RequestCode.GET_CONSUMER_LIST_BY_GROUP,
  RequestCode.CHECK_CLIENT_CONFIG,
];

// ---------------------------------------------------------------------------------------------
// HeartbeatData (remoting/protocol/heartbeat/*.java), decoded leniently: ali-ons omits expressionType,
// 5.x adds heartbeatFingerprint/withoutSub, unknown fields are ignored.

export interface HeartbeatConsumerData {
  groupName: string;
  consumeType: string;
  messageModel: string;
  consumeFromWhere: string;
  unitMode: boolean;
  subscriptionDataSet: SubscriptionData[];
}

export interface HeartbeatData {
  clientID: string;
  /** 5.x heartbeat V2: the consumer's subscriptions did not change and are left out. */
  withoutSub: boolean;
  producerDataSet: Array<{ groupName: string }>;
  consumerDataSet: HeartbeatConsumerData[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : fallback);
const num = (v: unknown, fallback = 0): number => {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : fallback;
};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function parseSubscriptionData(raw: unknown): SubscriptionData | undefined {
  if (!isObject(raw)) return undefined;
  const topic = str(raw.topic);
  if (!topic) return undefined;
  return {
    topic,
    subString: str(raw.subString, '*'),
    tagsSet: arr(raw.tagsSet).map((t) => str(t)).filter(Boolean),
    codeSet: arr(raw.codeSet).map((c) => num(c)),
    subVersion: num(raw.subVersion),
    expressionType: str(raw.expressionType, 'TAG') || 'TAG',
    classFilterMode: raw.classFilterMode === true,
  };
}

/** Parses a HEART_BEAT body; undefined when it is not a HeartbeatData object. */
export function parseHeartbeatData(body: Buffer | undefined): HeartbeatData | undefined {
  if (!body || body.length === 0) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(raw)) return undefined;
  const clientID = str(raw.clientID);
  if (!clientID) return undefined;
  const producerDataSet = arr(raw.producerDataSet)
    .filter(isObject)
    .map((p) => ({ groupName: str(p.groupName) }))
    .filter((p) => p.groupName !== '');
  const consumerDataSet: HeartbeatConsumerData[] = [];
  for (const c of arr(raw.consumerDataSet)) {
    if (!isObject(c) || !str(c.groupName)) continue;
    consumerDataSet.push({
      groupName: str(c.groupName),
      consumeType: str(c.consumeType, 'CONSUME_PASSIVELY'),
      messageModel: str(c.messageModel, 'CLUSTERING'),
      consumeFromWhere: str(c.consumeFromWhere, 'CONSUME_FROM_LAST_OFFSET'),
      unitMode: c.unitMode === true,
      subscriptionDataSet: arr(c.subscriptionDataSet)
        .map(parseSubscriptionData)
        .filter((s): s is SubscriptionData => s !== undefined),
    });
  }
  return { clientID, withoutSub: raw.withoutSub === true, producerDataSet, consumerDataSet };
}

export class ClientManageProcessor {
  private readonly logger: Logger;

  constructor(private readonly deps: ClientManageProcessorDeps) {
    this.logger = deps.logger ?? silentLogger;
  }

  /** Registers this processor for its request codes. */
  registerTo(server: { registerProcessor(code: number, processor: RequestProcessor): void }): void {
    for (const code of CLIENT_MANAGE_REQUEST_CODES) server.registerProcessor(code, this.processRequest);
  }

  readonly processRequest: RequestProcessor = (request, channel) => {
    switch (request.code) {
      case RequestCode.HEART_BEAT:
        return this.heartBeat(request, channel);
      case RequestCode.UNREGISTER_CLIENT:
        return this.unregisterClient(request, channel);
      case RequestCode.GET_CONSUMER_LIST_BY_GROUP:
        return this.getConsumerListByGroup(request);
      case RequestCode.CHECK_CLIENT_CONFIG:
        return this.checkClientConfig(request);
      default:
        return createResponse(request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, ` request type ${request.code} not supported`);
    }
  };

  heartBeat(request: RemotingCommand, channel: Channel): RemotingCommand | Promise<RemotingCommand> {
    const hb = parseHeartbeatData(request.body);
    if (!hb) return createResponse(request, ResponseCode.SYSTEM_ERROR, 'the heartbeat body is not valid HeartbeatData JSON');
    const { consumerManager, producerManager, topicConfigManager, subscriptionGroupManager } = this.deps;
    const refused: string[] = [];
    let createdTopic = false;
    for (const data of hb.consumerDataSet) {
      const groupConfig = subscriptionGroupManager.findSubscriptionGroupConfig(data.groupName);
      let notify = true;
      if (groupConfig) {
        notify = groupConfig.notifyConsumerIdsChangedEnable;
        // The retry topic must exist (and reach the NameServer) before the first failure is sent back.
        const retryTopic = retryTopicOf(data.groupName);
        if (!topicConfigManager.selectTopicConfig(retryTopic)) createdTopic = true;
        topicConfigManager.createTopicInSendMessageBackMethod(
          retryTopic,
          groupConfig.retryQueueNums,
          Perm.READ | Perm.WRITE,
          data.unitMode ? TOPIC_SYS_FLAG_UNIT_SUB : 0,
        );
      }
      const result = consumerManager.registerConsumer(
        {
          group: data.groupName,
          channel,
          clientId: hb.clientID,
          language: request.language,
          version: request.version,
          consumeType: data.consumeType,
          messageModel: data.messageModel,
          consumeFromWhere: data.consumeFromWhere,
          // We never announce IS_SUPPORT_HEART_BEAT_V2, but a client sending withoutSub must not wipe its subscriptions.
          subscriptions: hb.withoutSub && data.subscriptionDataSet.length === 0 ? undefined : data.subscriptionDataSet,
        },
        notify,
      );
      if (!result.accepted) {
        refused.push(`${data.groupName}: ${result.reason}`);
      } else if (result.changed) {
        this.logger.info({ group: data.groupName, clientId: hb.clientID, peer: channel.remoteAddress }, 'consumer registered or changed');
      }
    }
    for (const data of hb.producerDataSet) {
      const ok = producerManager.registerProducer(data.groupName, {
        channel,
        clientId: hb.clientID,
        language: request.language,
        version: request.version,
      });
      if (!ok) refused.push(`${data.groupName}: producer table full`);
    }
    const response =
      refused.length > 0
        ? createResponse(request, ResponseCode.SYSTEM_ERROR, `heartbeat refused: ${refused.join('; ')}`)
        : createResponse(request, ResponseCode.SUCCESS);
    if (refused.length > 0) this.logger.warn({ clientId: hb.clientID, refused }, 'heartbeat partly refused');
    if (!createdTopic || !this.deps.topicsChanged) return response;
    return this.afterTopicsChanged(this.deps.topicsChanged).then(() => response);
  }

  /** Runs the topicsChanged hook, bounded in time; its failure only costs the client a later route refresh. */
  private async afterTopicsChanged(hook: () => Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const waitMs = this.deps.topicsChangedWaitMs ?? DEFAULT_TOPICS_CHANGED_WAIT_MS;
    try {
      await Promise.race([hook(), new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    } catch (err) {
      this.logger.warn({ err }, 'topicsChanged hook failed after a heartbeat created a retry topic');
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  unregisterClient(request: RemotingCommand, channel: Channel): RemotingCommand {
    const clientId = request.extFields.clientID ?? '';
    const producerGroup = request.extFields.producerGroup;
    const consumerGroup = request.extFields.consumerGroup;
    if (producerGroup) this.deps.producerManager.unregisterProducer(producerGroup, channel, clientId);
    if (consumerGroup) {
      const cfg = this.deps.subscriptionGroupManager.getSubscriptionGroupConfig(consumerGroup);
      this.deps.consumerManager.unregisterConsumer(consumerGroup, channel, clientId, cfg?.notifyConsumerIdsChangedEnable ?? true);
    }
    return createResponse(request, ResponseCode.SUCCESS);
  }

  getConsumerListByGroup(request: RemotingCommand): RemotingCommand {
    const group = request.extFields.consumerGroup ?? '';
    const ids = group ? this.deps.consumerManager.getAllClientIds(group) : [];
    if (ids.length === 0) {
      this.logger.debug({ group }, 'consumer list requested for a group without consumers');
      return createResponse(request, ResponseCode.SYSTEM_ERROR, `no consumer for this group, ${group}`);
    }
    return createResponse(request, ResponseCode.SUCCESS, undefined, undefined, Buffer.from(JSON.stringify({ consumerIdList: ids })));
  }

  checkClientConfig(request: RemotingCommand): RemotingCommand {
    let raw: unknown;
    try {
      raw = request.body && request.body.length > 0 ? JSON.parse(request.body.toString('utf8')) : undefined;
    } catch {
      return createResponse(request, ResponseCode.SYSTEM_ERROR, 'the check client config body is not valid JSON');
    }
    const sub = isObject(raw) ? parseSubscriptionData(raw.subscriptionData) : undefined;
    if (!sub || sub.expressionType.toUpperCase() === 'TAG') return createResponse(request, ResponseCode.SUCCESS);
    return createResponse(
      request,
      ResponseCode.SYSTEM_ERROR,
      `The broker does not support consumer to filter message by ${sub.expressionType}`,
    );
  }
}
