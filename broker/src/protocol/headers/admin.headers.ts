/** Broker admin requests: 17 UPDATE_AND_CREATE_TOPIC and the stats calls the admin CLI uses. */
import { defineHeader, type HeaderOf, opt, req } from './header-schema';

export const CreateTopicRequestHeader = defineHeader({
  topic: req.string,
  defaultTopic: req.string,
  readQueueNums: req.int,
  writeQueueNums: req.int,
  /** PermName bits. */
  perm: req.int,
  /** 'SINGLE_TAG' | 'MULTI_TAG'. */
  topicFilterType: req.string,
  topicSysFlag: opt.int,
  /** Java marks it not-null with default false; lenient here. */
  order: opt.boolean,
  /** 5.x attributes text, e.g. "+message.type=NORMAL". */
  attributes: opt.string,
  force: opt.boolean,
});
export type CreateTopicRequestHeader = HeaderOf<typeof CreateTopicRequestHeader.schema>;

export const DeleteTopicRequestHeader = defineHeader({ topic: req.string });
export type DeleteTopicRequestHeader = HeaderOf<typeof DeleteTopicRequestHeader.schema>;

export const GetTopicStatsInfoRequestHeader = defineHeader({ topic: req.string });
export type GetTopicStatsInfoRequestHeader = HeaderOf<typeof GetTopicStatsInfoRequestHeader.schema>;

export const GetConsumeStatsRequestHeader = defineHeader({ consumerGroup: req.string, topic: opt.string });
export type GetConsumeStatsRequestHeader = HeaderOf<typeof GetConsumeStatsRequestHeader.schema>;

export const GetConsumerConnectionListRequestHeader = defineHeader({ consumerGroup: req.string });
export type GetConsumerConnectionListRequestHeader = HeaderOf<typeof GetConsumerConnectionListRequestHeader.schema>;

export const GetTopicsByClusterRequestHeader = defineHeader({ cluster: req.string });
export type GetTopicsByClusterRequestHeader = HeaderOf<typeof GetTopicsByClusterRequestHeader.schema>;
