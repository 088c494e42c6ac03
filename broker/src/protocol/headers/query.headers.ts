/** QUERY_MESSAGE (12) and VIEW_MESSAGE_BY_ID (33). */
import { defineHeader, type HeaderOf, opt, req } from './header-schema';

export const QueryMessageRequestHeader = defineHeader({
  topic: req.string,
  key: req.string,
  maxNum: req.int,
  beginTimestamp: req.long,
  endTimestamp: req.long,
  /** "true" → UNIQ_KEY lookup; the broker forces maxNum = defaultQueryMaxNum (32). */
  _UNIQUE_KEY_QUERY: opt.boolean,
});
export type QueryMessageRequestHeader = HeaderOf<typeof QueryMessageRequestHeader.schema>;

export const QueryMessageResponseHeader = defineHeader({
  indexLastUpdateTimestamp: req.long,
  indexLastUpdatePhyoffset: req.long,
});
export type QueryMessageResponseHeader = HeaderOf<typeof QueryMessageResponseHeader.schema>;

export const ViewMessageRequestHeader = defineHeader({
  /** Physical offset decoded from the offset msgId. */
  offset: req.long,
  topic: opt.string,
});
export type ViewMessageRequestHeader = HeaderOf<typeof ViewMessageRequestHeader.schema>;
