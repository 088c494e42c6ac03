/** `admin dlqInspect -g -i`: one dead letter with its recorded failure reason, properties and body. */
import type { AdminClient } from '../admin-client';
import { formatTimestamp, type Output } from '../output';
import { formatKeyValues } from '../table';
import { DlqAdmin } from './dlq-admin';
import { deadLetterJson } from './dlq-list.command';
import { bodyPreview } from './message-view';

export async function dlqInspectCommand(admin: AdminClient, opts: { group: string; msgId: string; json?: boolean }, out: Output): Promise<void> {
  const d = await new DlqAdmin(admin).inspect(opts.group, opts.msgId);
  if (opts.json) {
    out.json(deadLetterJson(d));
    return;
  }
  out.line(
    formatKeyValues([
      ['DLQ Group', d.group],
      ['MsgId', d.msgId],
      ['Offset MsgId', d.offsetMsgId],
      ['Origin MsgId', d.originMsgId ?? '-'],
      ['Original Topic', d.originalTopic ?? '-'],
      ['Tags', d.tags ?? '-'],
      ['Keys', d.keys.join(' ') || '-'],
      ['Broker / QID / Offset', `${d.brokerName} / ${d.queueId} / ${d.queueOffset}`],
      ['Reconsume Times', d.reconsumeTimes],
      ['Failure Reason', d.reason ?? '(not recorded: dead-lettered by send-back or another client)'],
      ['Listener', d.listener ?? '-'],
      ['Dead At', formatTimestamp(d.deadAt ?? d.storeTimestamp)],
      ['Born Timestamp', formatTimestamp(d.bornTimestamp)],
      ['Properties', JSON.stringify(d.properties)],
      ['Body Length', d.body.length],
      ['Message Body', bodyPreview(d.body)],
    ]),
  );
}
