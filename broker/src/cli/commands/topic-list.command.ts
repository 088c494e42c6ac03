/** `admin topicList`: GET_ALL_TOPIC_LIST_FROM_NAMESERVER, one topic per line. */
import type { AdminClient } from '../admin-client';
import type { Output } from '../output';

export async function topicListCommand(admin: AdminClient, opts: { json?: boolean }, out: Output): Promise<void> {
  const topics = await admin.topicList();
  if (opts.json) out.json({ topicList: topics });
  else for (const t of topics) out.line(t);
}
