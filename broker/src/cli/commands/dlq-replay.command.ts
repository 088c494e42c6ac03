/** `admin dlqReplay -g [-i] [--purge]`: send dead letters back to their original topic (RETRY_TOPIC). */
import type { AdminClient } from '../admin-client';
import { CliError } from '../cli-error';
import type { Output } from '../output';
import { formatTable } from '../table';
import { DlqAdmin } from './dlq-admin';

export async function dlqReplayCommand(admin: AdminClient, opts: { group: string; msgId?: string; purge?: boolean; json?: boolean }, out: Output): Promise<void> {
  const r = await new DlqAdmin(admin).replay(opts.group, { msgId: opts.msgId, purge: opts.purge });
  if (opts.json) out.json(r);
  else {
    if (r.outcomes.length > 0) {
      out.line(
        formatTable(
          ['#MsgId', '#Original Topic', '#Replayed', '#New Offset MsgId / Error'],
          r.outcomes.map((o) => [o.msgId, o.originalTopic ?? '-', o.replayed, o.replayed ? (o.newOffsetMsgId ?? '') : (o.error ?? '')]),
        ),
      );
    }
    out.line(`replayed ${r.replayed}, failed ${r.failed}${opts.purge ? `, purged ${r.purged}` : ''} (group ${r.group})`);
    if (!opts.purge && r.replayed > 0) out.line(`the dead letters stay listed until purged: rocketry admin dlqPurge -g ${r.group}`);
  }
  if (r.failed > 0) throw new CliError(`${r.failed} dead letter(s) of ${r.group} could not be replayed`);
}
