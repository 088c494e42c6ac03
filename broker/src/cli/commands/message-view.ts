/** Rendering of decoded message records for the query commands. */
import { MessageConst } from '../../protocol/message-const';
import { createOffsetMessageId } from '../../protocol/message-id';
import { formatHostAddress, type MessageRecord } from '../../protocol/message-record';
import { formatTimestamp } from '../output';
import type { Cell } from '../table';

/** Body bytes shown by queryMsgById; longer bodies are cut with a note. */
export const BODY_PREVIEW_BYTES = 512;

export function offsetMsgIdOf(r: MessageRecord): string {
  return createOffsetMessageId(r.storeHost, r.physicalOffset);
}

/** Printable preview: UTF-8 text when the bytes are text, else hex. */
export function bodyPreview(body: Buffer, limit = BODY_PREVIEW_BYTES): string {
  const head = body.subarray(0, limit);
  const text = head.toString('utf8');
  // eslint-disable-next-line no-control-regex
  const printable = !text.includes('\uFFFD') && !/[\u0000-\u0008\u000E-\u001F]/.test(text);
  const shown = printable ? text : `hex:${head.toString('hex')}`;
  return body.length > limit ? `${shown} ... (${body.length} bytes, first ${limit} shown)` : shown;
}

export function summaryRow(r: MessageRecord): Cell[] {
  return [
    offsetMsgIdOf(r),
    r.properties[MessageConst.KEYS],
    r.properties[MessageConst.TAGS],
    r.queueId,
    r.queueOffset,
    formatTimestamp(r.storeTimestamp),
  ];
}
export const SUMMARY_HEADERS = ['#Message ID', '#Keys', '#Tags', '#QID', '#Offset', '#Store Time'];

export function messageJson(r: MessageRecord): Record<string, unknown> {
  return {
    msgId: offsetMsgIdOf(r),
    uniqKey: r.properties[MessageConst.UNIQ_KEY],
    topic: r.topic,
    tags: r.properties[MessageConst.TAGS],
    keys: r.properties[MessageConst.KEYS],
    queueId: r.queueId,
    queueOffset: r.queueOffset,
    commitLogOffset: r.physicalOffset,
    reconsumeTimes: r.reconsumeTimes,
    bornTimestamp: r.bornTimestamp,
    storeTimestamp: r.storeTimestamp,
    bornHost: formatHostAddress(r.bornHost),
    storeHost: formatHostAddress(r.storeHost),
    sysFlag: r.sysFlag,
    bodyCrc: r.bodyCrc,
    properties: r.properties,
    bodyBytes: r.body.length,
    body: bodyPreview(r.body),
  };
}

export function messageDetail(r: MessageRecord): Array<[string, Cell]> {
  return [
    ['OffsetID', offsetMsgIdOf(r)],
    ['Topic', r.topic],
    ['Tags', r.properties[MessageConst.TAGS] ?? '[]'],
    ['Keys', r.properties[MessageConst.KEYS] ?? '[]'],
    ['Queue ID', r.queueId],
    ['Queue Offset', r.queueOffset],
    ['CommitLog Offset', r.physicalOffset],
    ['Reconsume Times', r.reconsumeTimes],
    ['Born Timestamp', formatTimestamp(r.bornTimestamp)],
    ['Store Timestamp', formatTimestamp(r.storeTimestamp)],
    ['Born Host', formatHostAddress(r.bornHost)],
    ['Store Host', formatHostAddress(r.storeHost)],
    ['System Flag', r.sysFlag],
    ['Properties', JSON.stringify(r.properties)],
    ['Body Length', r.body.length],
    ['Message Body', bodyPreview(r.body)],
  ];
}
