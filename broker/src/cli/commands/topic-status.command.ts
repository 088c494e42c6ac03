/** `admin topicStatus`: GET_TOPIC_STATS_INFO to every master of the topic's route; min/max offsets per queue. */
import { decodeTopicStatsTable } from '../../protocol/bodies';
import { validateTopicName } from '../../protocol/message-const';
import { createRequest } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import { decodeReply, masterAddresses, type AdminClient } from '../admin-client';
import { usageError } from '../cli-error';
import { formatTimestamp, type Output } from '../output';
import { formatTable } from '../table';

export interface TopicQueueStatus {
  brokerName: string;
  queueId: number;
  minOffset: number;
  maxOffset: number;
  lastUpdateTimestamp: number;
}

export async function topicStatusCommand(admin: AdminClient, opts: { topic: string; json?: boolean }, out: Output): Promise<void> {
  const bad = validateTopicName(opts.topic, 255);
  if (bad) throw usageError(`-t: ${bad}`);
  const route = await admin.topicRoute(opts.topic);
  const rows: TopicQueueStatus[] = [];
  for (const { addr } of masterAddresses(route.brokerDatas)) {
    const reply = await admin.broker(addr, createRequest(RequestCode.GET_TOPIC_STATS_INFO, { topic: opts.topic }));
    for (const { mq, minOffset, maxOffset, lastUpdateTimestamp } of decodeReply(reply.body, 'TopicStatsTable', decodeTopicStatsTable).offsetTable) {
      rows.push({ brokerName: mq.brokerName, queueId: mq.queueId, minOffset, maxOffset, lastUpdateTimestamp });
    }
  }
  rows.sort((a, b) => a.brokerName.localeCompare(b.brokerName) || a.queueId - b.queueId);
  if (opts.json) {
    out.json({ topic: opts.topic, queues: rows });
    return;
  }
  out.line(
    formatTable(
      ['#Broker Name', '#QID', '#Min Offset', '#Max Offset', '#Last Updated'],
      rows.map((r) => [r.brokerName, r.queueId, r.minOffset, r.maxOffset, formatTimestamp(r.lastUpdateTimestamp)]),
    ),
  );
}
