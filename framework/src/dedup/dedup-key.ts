/** The dedup key of a message: msgId (UNIQ_KEY), its KEYS, or a function of the message. */
import { createHash } from 'node:crypto';
import type { MessageExt } from '../client/message';
import { DedupKeyError } from './dedup-errors';
import type { DedupKeySource } from './dedup-options';

/** Keys longer than this are stored as `sha256:<hex>` (the DB column is varchar(200)). */
export const DEDUP_KEY_MAX_CHARS = 191;

export function dedupKeyOf(source: DedupKeySource, msg: MessageExt): string {
  let key: unknown;
  if (source === 'msgId') key = msg.msgId;
  else if (source === 'keys') key = msg.keys.join(' ');
  else {
    try {
      key = source(msg);
    } catch (err) {
      throw new DedupKeyError(`dedup key function threw: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (typeof key !== 'string' || key.length === 0) {
    const what = source === 'keys' ? 'the message has no KEYS' : source === 'msgId' ? 'the message has no msgId' : `the key function returned ${JSON.stringify(key)}`;
    throw new DedupKeyError(`no dedup key for message ${msg.msgId}: ${what}`);
  }
  return key.length > DEDUP_KEY_MAX_CHARS ? `sha256:${createHash('sha256').update(key).digest('hex')}` : key;
}
