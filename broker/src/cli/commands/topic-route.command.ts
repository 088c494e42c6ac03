/** `admin topicRoute`: the TopicRouteData as JSON (what mqadmin prints), or a table of queues. */
import { validateTopicName } from '../../protocol/message-const';
import type { AdminClient } from '../admin-client';
import { usageError } from '../cli-error';
import type { Output } from '../output';
import { formatTable } from '../table';
import { permText } from './update-topic.command';

export async function topicRouteCommand(admin: AdminClient, opts: { topic: string; json?: boolean }, out: Output): Promise<void> {
  const bad = validateTopicName(opts.topic, 255);
  if (bad) throw usageError(`-t: ${bad}`);
  const route = await admin.topicRoute(opts.topic);
  if (opts.json) {
    out.json(route.raw);
    return;
  }
  out.line(
    formatTable(
      ['#Cluster', '#Broker Name', '#BID', '#Addr'],
      route.brokerDatas.flatMap((b) =>
        Object.entries(b.brokerAddrs)
          .sort(([x], [y]) => Number(x) - Number(y))
          .map(([id, addr]) => [b.cluster, b.brokerName, Number(id), addr]),
      ),
    ),
  );
  out.line('');
  out.line(
    formatTable(
      ['#Broker Name', '#Read Queues', '#Write Queues', '#Perm'],
      route.queueDatas.map((q) => [q.brokerName, q.readQueueNums, q.writeQueueNums, permText(q.perm)]),
    ),
  );
}
