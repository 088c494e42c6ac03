/**
 * `admin queryMsgByKey -t -k`: QUERY_MESSAGE to every master of the topic's route; the IndexFile hit
 * list is re-checked here (topic and exact key match, like the Java client) because index slots collide.
 */
import { MessageConst, validateTopicName } from '../../protocol/message-const';
import { decodeMessageRecords, type MessageRecord } from '../../protocol/message-record';
import { createRequest } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import { masterAddresses, type AdminClient } from '../admin-client';
import { usageError } from '../cli-error';
import type { Output } from '../output';
import { formatTable } from '../table';
import { messageJson, SUMMARY_HEADERS, summaryRow } from './message-view';

/** mqadmin's default result cap. */
export const DEFAULT_QUERY_MAX_NUM = 64;

export interface QueryByKeyOptions {
  topic: string;
  key: string;
  maxNum?: number;
  beginTimestamp?: number;
  endTimestamp?: number;
  /** UNIQ_KEY lookup (`_UNIQUE_KEY_QUERY`), used by queryMsgById's fallback. */
  uniqueKey?: boolean;
}

export function matchesKey(r: MessageRecord, topic: string, key: string, uniqueKey: boolean): boolean {
  if (r.topic !== topic) return false;
  if (uniqueKey) return r.properties[MessageConst.UNIQ_KEY] === key;
  const keys = r.properties[MessageConst.KEYS];
  return keys !== undefined && keys.split(MessageConst.KEY_SEPARATOR).includes(key);
}

/** The records found on all brokers of the route, deduplicated and sorted by store time. */
export async function queryMessagesByKey(admin: AdminClient, opts: QueryByKeyOptions): Promise<MessageRecord[]> {
  const bad = validateTopicName(opts.topic, 255);
  if (bad) throw usageError(`-t: ${bad}`);
  if (opts.key.length === 0) throw usageError('-k: the key is empty');
  const route = await admin.topicRoute(opts.topic);
  const found = new Map<string, MessageRecord>();
  const header: Record<string, string | number> = {
    topic: opts.topic,
    key: opts.key,
    maxNum: opts.maxNum ?? DEFAULT_QUERY_MAX_NUM,
    beginTimestamp: opts.beginTimestamp ?? 0,
    endTimestamp: opts.endTimestamp ?? Number.MAX_SAFE_INTEGER,
  };
  if (opts.uniqueKey) header[MessageConst.UNIQUE_KEY_QUERY] = 'true';
  for (const { addr } of masterAddresses(route.brokerDatas)) {
    const reply = await admin.broker(addr, createRequest(RequestCode.QUERY_MESSAGE, header), [ResponseCode.QUERY_NOT_FOUND]);
    if (reply.code !== ResponseCode.SUCCESS || !reply.body) continue;
    for (const r of decodeMessageRecords(reply.body, { copyBody: true })) {
      if (matchesKey(r, opts.topic, opts.key, opts.uniqueKey ?? false)) found.set(`${addr}/${r.physicalOffset}`, r);
    }
  }
  return [...found.values()].sort((a, b) => a.storeTimestamp - b.storeTimestamp || a.queueId - b.queueId || a.queueOffset - b.queueOffset);
}

export async function queryMsgByKeyCommand(admin: AdminClient, opts: QueryByKeyOptions & { json?: boolean }, out: Output): Promise<void> {
  const records = await queryMessagesByKey(admin, opts);
  if (opts.json) {
    out.json(records.map(messageJson));
    return;
  }
  if (records.length === 0) {
    out.line(`no message with key "${opts.key}" in topic ${opts.topic}`);
    return;
  }
  out.line(formatTable(SUMMARY_HEADERS, records.map(summaryRow)));
}
