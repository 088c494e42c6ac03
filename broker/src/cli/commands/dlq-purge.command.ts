/**
 * `admin dlqPurge -g`: hide every current dead letter of the group from the DLQ tools. RocketMQ deletes
 * nothing here: the admin group's offsets move past the messages, which stay in the CommitLog until
 * retention removes them (see dlq-admin.ts).
 */
import type { AdminClient } from '../admin-client';
import type { Output } from '../output';
import { DlqAdmin } from './dlq-admin';

export async function dlqPurgeCommand(admin: AdminClient, opts: { group: string; json?: boolean }, out: Output): Promise<void> {
  const r = await new DlqAdmin(admin).purge(opts.group);
  if (opts.json) {
    out.json(r);
    return;
  }
  out.line(`purged ${r.purged} dead letter(s) of ${r.group} (admin offsets moved to the end; the broker drops the data with CommitLog retention)`);
}
