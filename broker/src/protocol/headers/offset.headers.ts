/** Offset requests: 14, 15, 29, 30, 31, 32. */
import { defineHeader, type HeaderOf, opt, req } from './header-schema';

export const QueryConsumerOffsetRequestHeader = defineHeader({
  consumerGroup: req.string,
  topic: req.string,
  queueId: req.int,
  /** 5.x; absent means true. */
  setZeroIfNotFound: opt.boolean,
});
export type QueryConsumerOffsetRequestHeader = HeaderOf<typeof QueryConsumerOffsetRequestHeader.schema>;

export const QueryConsumerOffsetResponseHeader = defineHeader({ offset: req.long });
export type QueryConsumerOffsetResponseHeader = HeaderOf<typeof QueryConsumerOffsetResponseHeader.schema>;

export const UpdateConsumerOffsetRequestHeader = defineHeader({
  consumerGroup: req.string,
  topic: req.string,
  queueId: req.int,
  commitOffset: req.long,
});
export type UpdateConsumerOffsetRequestHeader = HeaderOf<typeof UpdateConsumerOffsetRequestHeader.schema>;

export const GetMaxOffsetRequestHeader = defineHeader({
  topic: req.string,
  queueId: req.int,
  /** 5.x; absent means true. */
  committed: opt.boolean,
});
export type GetMaxOffsetRequestHeader = HeaderOf<typeof GetMaxOffsetRequestHeader.schema>;

export const GetMinOffsetRequestHeader = defineHeader({ topic: req.string, queueId: req.int });
export type GetMinOffsetRequestHeader = HeaderOf<typeof GetMinOffsetRequestHeader.schema>;

/** Reply of GET_MAX_OFFSET, GET_MIN_OFFSET and SEARCH_OFFSET_BY_TIMESTAMP. */
export const OffsetResponseHeader = defineHeader({ offset: req.long });
export type OffsetResponseHeader = HeaderOf<typeof OffsetResponseHeader.schema>;
export const GetMaxOffsetResponseHeader = OffsetResponseHeader;
export type GetMaxOffsetResponseHeader = OffsetResponseHeader;
export const GetMinOffsetResponseHeader = OffsetResponseHeader;
export type GetMinOffsetResponseHeader = OffsetResponseHeader;
export const SearchOffsetResponseHeader = OffsetResponseHeader;
export type SearchOffsetResponseHeader = OffsetResponseHeader;

export const GetEarliestMsgStoretimeRequestHeader = defineHeader({ topic: req.string, queueId: req.int });
export type GetEarliestMsgStoretimeRequestHeader = HeaderOf<typeof GetEarliestMsgStoretimeRequestHeader.schema>;

export const GetEarliestMsgStoretimeResponseHeader = defineHeader({ timestamp: req.long });
export type GetEarliestMsgStoretimeResponseHeader = HeaderOf<typeof GetEarliestMsgStoretimeResponseHeader.schema>;

export const SearchOffsetRequestHeader = defineHeader({
  topic: req.string,
  queueId: req.int,
  /** ms */
  timestamp: req.long,
  /** 5.x: 'lower' | 'upper'. */
  boundaryType: opt.string,
});
export type SearchOffsetRequestHeader = HeaderOf<typeof SearchOffsetRequestHeader.schema>;
