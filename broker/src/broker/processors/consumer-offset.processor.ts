/**
 * QUERY_CONSUMER_OFFSET (14) and UPDATE_CONSUMER_OFFSET (15), RocketMQ `ConsumerManageProcessor`.
 *
 * QUERY with nothing committed (a new group) — the choice, made on purpose (§9 item 9):
 *   5.x `setZeroIfNotFound=false` → 22 QUERY_NOT_FOUND.
 *   Else, like the Java broker, answer SUCCESS offset 0 when the queue still holds message 0 (minOffset
 *   is 0) AND message 0 is "hot" — its CommitLog position is within 40% of physical memory of the
 *   CommitLog end (Java's `accessMessageInMemoryMaxRatio` test) — or when the queue is empty. A young
 *   topic is then consumed from its first message even by CONSUME_FROM_LAST_OFFSET consumers (no
 *   message sent before the consumer's first start is lost), while a new group on an old, large topic
 *   gets 22 and starts at the end as the client's consumeFromWhere asks.
 *   Otherwise 22 QUERY_NOT_FOUND (ali-ons turns any error into -1 and then applies consumeFromWhere).
 *
 * UPDATE accepts any offset, including ali-ons' -1 (stored; a negative stored value reads as "not
 * found"). It is usually oneway; the server drops the reply then.
 */
import os from 'node:os';
import { RecordOffset, readInt64 } from '../../protocol/message-record';
import { HeaderError, QueryConsumerOffsetRequestHeader, UpdateConsumerOffsetRequestHeader } from '../../protocol/headers';
import { createResponse, type RemotingCommand } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import type { Channel } from '../../remoting/types';
import type { BrokerContext } from '../broker-context';

/** Java `MessageStoreConfig.accessMessageInMemoryMaxRatio` (percent of physical memory). */
export const ACCESS_MESSAGE_IN_MEMORY_MAX_RATIO = 40;

export class ConsumerOffsetProcessor {
  private readonly hotBytes: number;

  constructor(
    private readonly ctx: BrokerContext,
    opts: { totalMemoryBytes?: number } = {},
  ) {
    this.hotBytes = Math.floor(((opts.totalMemoryBytes ?? os.totalmem()) * ACCESS_MESSAGE_IN_MEMORY_MAX_RATIO) / 100);
  }

  readonly process = (request: RemotingCommand, channel: Channel): RemotingCommand => {
    try {
      return request.code === RequestCode.UPDATE_CONSUMER_OFFSET ? this.update(request, channel) : this.query(request);
    } catch (err) {
      if (err instanceof HeaderError) return createResponse(request, ResponseCode.SYSTEM_ERROR, err.message);
      throw err;
    }
  };

  private query(request: RemotingCommand): RemotingCommand {
    const { consumerGroup: group, topic, queueId, setZeroIfNotFound } = QueryConsumerOffsetRequestHeader.decode(request.extFields);
    const offset = this.ctx.consumerOffsetManager.queryOffset(group, topic, queueId);
    if (offset >= 0) return createResponse(request, ResponseCode.SUCCESS, undefined, { offset: String(offset) });
    const notFound = () => createResponse(request, ResponseCode.QUERY_NOT_FOUND, 'Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first');
    if (setZeroIfNotFound === false) return notFound();
    return this.firstMessageIsHot(topic, queueId)
      ? createResponse(request, ResponseCode.SUCCESS, undefined, { offset: '0' })
      : notFound();
  }

  /** True when the queue is empty, or still holds message 0 and that message is recent enough to be in memory. */
  private firstMessageIsHot(topic: string, queueId: number): boolean {
    const store = this.ctx.store;
    if (store.getMinOffsetInQueue(topic, queueId) > 0) return false;
    if (store.getMaxOffsetInQueue(topic, queueId) <= 0) return true;
    const first = store.getMessage(topic, queueId, 0, 1);
    const record = first.records[0];
    if (first.status !== 'FOUND' || !record) return false;
    const physicalOffset = readInt64(record, RecordOffset.PHYSICALOFFSET);
    return store.getMaxPhyOffset() - physicalOffset <= this.hotBytes;
  }

  private update(request: RemotingCommand, channel: Channel): RemotingCommand {
    const h = UpdateConsumerOffsetRequestHeader.decode(request.extFields);
    this.ctx.consumerOffsetManager.commitOffset(channel.remoteAddress, h.consumerGroup, h.topic, h.queueId, h.commitOffset);
    return createResponse(request, ResponseCode.SUCCESS);
  }
}
