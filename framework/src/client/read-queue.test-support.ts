/**
 * Tests only: reads one queue straight through a client's MQClientAPI, as a reader with no consumer
 * behind it (no suspend, no offset commit, every tag).
 */
import { PullSysFlag } from '@rocketry/broker/protocol';
import type { MQClientAPI, PullResponse } from './mq-client-api';

export interface ReadQueueRequest {
  topic: string;
  queueId: number;
  offset: number;
  /** maxMsgNums; 32 by default. */
  max?: number;
  /** Consumer group named in the request; 'spec-reader' by default. */
  group?: string;
}

export function readQueue(api: MQClientAPI, addr: string, q: ReadQueueRequest, timeoutMs = 5000): Promise<PullResponse> {
  return api.pullMessage(
    addr,
    {
      consumerGroup: q.group ?? 'spec-reader',
      topic: q.topic,
      queueId: q.queueId,
      queueOffset: q.offset,
      maxMsgNums: q.max ?? 32,
      sysFlag: PullSysFlag.SUBSCRIPTION,
      commitOffset: 0,
      suspendTimeoutMillis: 0,
      subscription: '*',
      subVersion: 0,
    },
    timeoutMs,
  );
}
