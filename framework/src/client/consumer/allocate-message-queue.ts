/**
 * Queue allocation for CLUSTERING consumers: AllocateMessageQueueAveragely, the Java and ali-ons
 * default. Every member must compute the same split from the same inputs, so both lists are sorted
 * here exactly as Java does (MessageQueue.compareTo; String.compareTo = UTF-16 code unit order).
 */
import { compareMessageQueues, type MessageQueue } from '@rocketry/broker/protocol';

export type AllocateMessageQueueStrategy = (consumerGroup: string, currentCid: string, mqAll: readonly MessageQueue[], cidAll: readonly string[]) => MessageQueue[];

/**
 * Contiguous ranges: with m queues and c consumers, the first `m % c` consumers get `floor(m/c)+1`
 * queues, the rest `floor(m/c)`; with more consumers than queues the extra ones get nothing.
 * A consumer id missing from `cidAll` gets no queues (it is not registered at the broker yet).
 */
export const allocateMessageQueueAveragely: AllocateMessageQueueStrategy = (_group, currentCid, mqAll, cidAll) => {
  const mqs = [...mqAll].sort(compareMessageQueues);
  const cids = [...new Set(cidAll)].sort();
  const index = cids.indexOf(currentCid);
  if (index < 0 || mqs.length === 0) return [];
  const mqCount = mqs.length;
  const cidCount = cids.length;
  const mod = mqCount % cidCount;
  const averageSize = mqCount <= cidCount ? 1 : mod > 0 && index < mod ? Math.floor(mqCount / cidCount) + 1 : Math.floor(mqCount / cidCount);
  const startIndex = mod > 0 && index < mod ? index * averageSize : index * averageSize + mod;
  const range = Math.min(averageSize, mqCount - startIndex);
  const result: MessageQueue[] = [];
  for (let i = 0; i < range; i++) result.push(mqs[(startIndex + i) % mqCount]!);
  return result;
};
