/**
 * Broker-side names and bit values. The wire-level ones live in `protocol/message-const.ts`; this file
 * re-exports them under the names the broker code uses and adds the broker-only ones.
 */
import { MessageConst, PermName, TopicNames } from '../protocol/message-const';

export {
  MessageSysFlag,
  PullSysFlag,
  isReadable,
  isWriteable,
  isInherited,
  transactionType as transactionTypeOf,
  retryTopic as retryTopicOf,
  dlqTopic as dlqTopicOf,
  isRetryTopic,
  isDlqTopic,
} from '../protocol/message-const';

/** `PermName.java`: topic / broker permission bits. */
export const Perm = PermName;

/** `TopicValidator` / `MixAll` system topic names. */
export const SystemTopic = {
  AUTO_CREATE_TOPIC_KEY: TopicNames.AUTO_CREATE_TOPIC_KEY,
  SELF_TEST: TopicNames.SELF_TEST_TOPIC,
  OFFSET_MOVED_EVENT: TopicNames.OFFSET_MOVED_EVENT,
  SCHEDULE: TopicNames.SCHEDULE_TOPIC,
  TRANS_HALF: TopicNames.TRANS_HALF_TOPIC,
  TRANS_OP_HALF: TopicNames.TRANS_OP_HALF_TOPIC,
  TRANS_CHECK_MAX_TIME: TopicNames.TRANS_CHECK_MAX_TIME_TOPIC,
} as const;

export const RETRY_GROUP_TOPIC_PREFIX = TopicNames.RETRY_GROUP_TOPIC_PREFIX;
export const DLQ_GROUP_TOPIC_PREFIX = TopicNames.DLQ_GROUP_TOPIC_PREFIX;

/** `MessageConst` property keys the broker reads or writes. */
export const MessageProperty = {
  KEYS: MessageConst.KEYS,
  TAGS: MessageConst.TAGS,
  WAIT_STORE_MSG_OK: MessageConst.WAIT,
  DELAY_TIME_LEVEL: MessageConst.DELAY,
  RETRY_TOPIC: MessageConst.RETRY_TOPIC,
  REAL_TOPIC: MessageConst.REAL_TOPIC,
  REAL_QUEUE_ID: MessageConst.REAL_QID,
  TRANSACTION_PREPARED: MessageConst.TRAN_MSG,
  PRODUCER_GROUP: MessageConst.PGROUP,
  ORIGIN_MESSAGE_ID: MessageConst.ORIGIN_MESSAGE_ID,
  RECONSUME_TIME: MessageConst.RECONSUME_TIME,
  MAX_RECONSUME_TIMES: MessageConst.MAX_RECONSUME_TIMES,
  UNIQ_CLIENT_MESSAGE_ID_KEYIDX: MessageConst.UNIQ_KEY,
  CLUSTER: MessageConst.CLUSTER,
  MSG_REGION: MessageConst.MSG_REGION,
  TRACE_SWITCH: MessageConst.TRACE_ON,
} as const;

/** `MQVersion.Version.V3_4_9`: from this request version on, the send header's maxReconsumeTimes is honoured. */
export const VERSION_V3_4_9 = 121;

/** `BrokerConfig.regionId` echoed in send replies. */
export const DEFAULT_REGION_ID = 'DefaultRegion';
