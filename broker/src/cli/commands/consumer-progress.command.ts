/**
 * `admin consumerProgress -g`: GET_CONSUME_STATS to the masters that serve the group (found through the
 * route of `%RETRY%<group>`, as mqadmin does; every master of every cluster when that topic is unknown).
 */
import { decodeConsumeStats } from '../../protocol/bodies';
import { retryTopic } from '../../protocol/message-const';
import { createRequest } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import { decodeReply, masterAddresses, type AdminClient } from '../admin-client';
import { CliError, usageError } from '../cli-error';
import { formatTimestamp, type Output } from '../output';
import { formatTable } from '../table';

export interface QueueProgress {
  topic: string;
  brokerName: string;
  queueId: number;
  brokerOffset: number;
  consumerOffset: number;
  diff: number;
  lastTimestamp: number;
}

const GROUP_PATTERN = /^[%|a-zA-Z0-9_-]{1,255}$/;

export async function consumerProgressCommand(admin: AdminClient, opts: { group: string; topic?: string; json?: boolean }, out: Output): Promise<void> {
  if (!GROUP_PATTERN.test(opts.group)) throw usageError(`-g: consumer group "${opts.group}" is not a valid group name`);
  const route = await admin.topicRouteIfExists(retryTopic(opts.group));
  const masters = route ? masterAddresses(route.brokerDatas) : masterAddresses(Object.values((await admin.clusterInfo()).brokerAddrTable));
  const rows: QueueProgress[] = [];
  let consumeTps = 0;
  let answered = 0;
  for (const { addr } of masters) {
    const header = opts.topic ? { consumerGroup: opts.group, topic: opts.topic } : { consumerGroup: opts.group };
    const reply = await admin.broker(addr, createRequest(RequestCode.GET_CONSUME_STATS, header), [
      ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
      ResponseCode.CONSUMER_NOT_ONLINE,
      ResponseCode.TOPIC_NOT_EXIST,
    ]);
    if (reply.code !== ResponseCode.SUCCESS) continue;
    answered++;
    const stats = decodeReply(reply.body, 'ConsumeStats', decodeConsumeStats);
    consumeTps += stats.consumeTps;
    for (const { mq, brokerOffset, consumerOffset, lastTimestamp } of stats.offsetTable) {
      rows.push({ ...mq, brokerOffset, consumerOffset, diff: brokerOffset - consumerOffset, lastTimestamp });
    }
  }
  if (answered === 0) throw new CliError(`consumer group "${opts.group}" has no consume stats on any broker (unknown group?)`);
  rows.sort((a, b) => a.topic.localeCompare(b.topic) || a.brokerName.localeCompare(b.brokerName) || a.queueId - b.queueId);
  const diffTotal = rows.reduce((s, r) => s + r.diff, 0);
  if (opts.json) {
    out.json({ group: opts.group, consumeTps, diffTotal, queues: rows });
    return;
  }
  out.line(
    formatTable(
      ['#Topic', '#Broker Name', '#QID', '#Broker Offset', '#Consumer Offset', '#Diff', '#LastTime'],
      rows.map((r) => [r.topic, r.brokerName, r.queueId, r.brokerOffset, r.consumerOffset, r.diff, formatTimestamp(r.lastTimestamp)]),
    ),
  );
  out.line('');
  out.line(`Consume TPS: ${consumeTps.toFixed(2)}`);
  out.line(`Diff Total: ${diffTotal}`);
}
