/** MessageQueue: the (topic, brokerName, queueId) triple used in lock bodies and rebalancing. */
import { asObject, type JsonObject, reqInt, reqString } from './body-shape';

export interface MessageQueue {
  topic: string;
  brokerName: string;
  queueId: number;
}

export function decodeMessageQueue(v: unknown, path = 'messageQueue'): MessageQueue {
  const o: JsonObject = asObject(v, path);
  return { topic: reqString(o, 'topic', path), brokerName: reqString(o, 'brokerName', path), queueId: reqInt(o, 'queueId', path) };
}

/** `topic@brokerName@queueId`, handy as a map key. */
export function messageQueueKey(mq: MessageQueue): string {
  return `${mq.topic}@${mq.brokerName}@${mq.queueId}`;
}

/** Java MessageQueue.compareTo: topic, then brokerName, then queueId. */
export function compareMessageQueues(a: MessageQueue, b: MessageQueue): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  if (a.brokerName !== b.brokerName) return a.brokerName < b.brokerName ? -1 : 1;
  return a.queueId - b.queueId;
}
