/** `admin dlqList [-g]`: per DLQ group, the messages not purged (count, then offset, ids, keys, original topic, reconsume times, reason). */
import type { AdminClient } from '../admin-client';
import { formatTimestamp, type Output } from '../output';
import { formatTable } from '../table';
import { DlqAdmin, type DeadLetter } from './dlq-admin';

export interface DlqListOptions {
  group?: string;
  limit: number;
  json?: boolean;
}

export function deadLetterJson(d: DeadLetter): Record<string, unknown> {
  const { body, properties, ...rest } = d;
  return { ...rest, properties, bodyBytes: body.length, body: body.toString('utf8') };
}

export async function dlqListCommand(admin: AdminClient, opts: DlqListOptions, out: Output): Promise<void> {
  const groups = await new DlqAdmin(admin).list({ group: opts.group, limit: opts.limit });
  if (opts.json) {
    out.json(groups.map((g) => ({ ...g, messages: g.messages.map(deadLetterJson) })));
    return;
  }
  if (groups.length === 0) {
    out.line('no dead-letter queues (no %DLQ% topics)');
    return;
  }
  groups.forEach((g, i) => {
    if (i > 0) out.line('');
    out.line(`${g.topic}  group=${g.group}  count=${g.count}${g.messages.length < g.count ? `  (first ${g.messages.length} shown)` : ''}`);
    if (g.messages.length === 0) return;
    out.line(
      formatTable(
        ['#Broker', '#QID', '#Offset', '#MsgId', '#Keys', '#Original Topic', '#Reconsume', '#Dead At', '#Reason'],
        g.messages.map((m) => [
          m.brokerName,
          m.queueId,
          m.queueOffset,
          m.msgId,
          m.keys.join(' '),
          m.originalTopic,
          m.reconsumeTimes,
          formatTimestamp(m.deadAt ?? m.storeTimestamp),
          m.reason === undefined ? '-' : m.reason.length > 60 ? `${m.reason.slice(0, 57)}...` : m.reason,
        ]),
      ),
    );
  });
}
