/** Client management and retry: 35, 36, 38, 40 (HEART_BEAT has no header; its body is HeartbeatData). */
import { defineHeader, type HeaderOf, opt, req } from './header-schema';

export const UnregisterClientRequestHeader = defineHeader({
  clientID: req.string,
  producerGroup: opt.string,
  consumerGroup: opt.string,
});
export type UnregisterClientRequestHeader = HeaderOf<typeof UnregisterClientRequestHeader.schema>;

export const GetConsumerListByGroupRequestHeader = defineHeader({ consumerGroup: req.string });
export type GetConsumerListByGroupRequestHeader = HeaderOf<typeof GetConsumerListByGroupRequestHeader.schema>;

/** Broker → consumer, oneway. */
export const NotifyConsumerIdsChangedRequestHeader = defineHeader({ consumerGroup: req.string });
export type NotifyConsumerIdsChangedRequestHeader = HeaderOf<typeof NotifyConsumerIdsChangedRequestHeader.schema>;

export const ConsumerSendMsgBackRequestHeader = defineHeader({
  /** CommitLog physical offset of the failed message. */
  offset: req.long,
  group: req.string,
  /** 0 = broker chooses 3 + reconsumeTimes; < 0 = straight to DLQ. */
  delayLevel: req.int,
  originMsgId: opt.string,
  originTopic: opt.string,
  unitMode: opt.boolean,
  maxReconsumeTimes: opt.int,
});
export type ConsumerSendMsgBackRequestHeader = HeaderOf<typeof ConsumerSendMsgBackRequestHeader.schema>;
