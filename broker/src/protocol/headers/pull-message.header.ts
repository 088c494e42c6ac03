/** PULL_MESSAGE (11) request and reply (`PullMessageRequestHeader`, `PullMessageResponseHeader`). */
import { defineHeader, type HeaderOf, opt, req } from './header-schema';

export const PullMessageRequestHeader = defineHeader({
  consumerGroup: req.string,
  topic: req.string,
  queueId: req.int,
  /** Logical (ConsumeQueue) offset to read from. */
  queueOffset: req.long,
  maxMsgNums: req.int,
  /** PullSysFlag bits. */
  sysFlag: req.int,
  /** ali-ons may send -1. */
  commitOffset: req.long,
  suspendTimeoutMillis: req.long,
  /** Sent only with PullSysFlag.SUBSCRIPTION. */
  subscription: opt.string,
  subVersion: req.long,
  expressionType: opt.string,
  maxMsgBytes: opt.int,
  requestSource: opt.int,
  /** 5.x proxy field (the typo is in RocketMQ). */
  proxyFrowardClientId: opt.string,
});
export type PullMessageRequestHeader = HeaderOf<typeof PullMessageRequestHeader.schema>;

/** All four required fields go on EVERY pull reply code (0, 19, 20, 21). */
export const PullMessageResponseHeader = defineHeader({
  suggestWhichBrokerId: req.long,
  nextBeginOffset: req.long,
  minOffset: req.long,
  maxOffset: req.long,
  offsetDelta: opt.long,
  topicSysFlag: opt.int,
  groupSysFlag: opt.int,
  forbiddenType: opt.int,
});
export type PullMessageResponseHeader = HeaderOf<typeof PullMessageResponseHeader.schema>;
