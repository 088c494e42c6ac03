/**
 * `admin queryMsgById -i`: the offset msgId holds the store host and CommitLog offset, so
 * VIEW_MESSAGE_BY_ID goes straight to that broker. Like mqadmin, with `-t` an id that is not a
 * viewable offset id is retried as a UNIQ_KEY (client message id) through QUERY_MESSAGE.
 */
import { isOffsetMessageId, parseOffsetMessageId } from '../../protocol/message-id';
import { decodeMessageRecords, formatHostAddress, type MessageRecord } from '../../protocol/message-record';
import { createRequest } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import type { AdminClient } from '../admin-client';
import { CliError, usageError } from '../cli-error';
import type { Output } from '../output';
import { formatKeyValues } from '../table';
import { messageDetail, messageJson } from './message-view';
import { queryMessagesByKey } from './query-msg-by-key.command';

export interface QueryByIdOptions {
  msgId: string;
  topic?: string;
  json?: boolean;
}

export async function viewMessageByOffsetId(admin: AdminClient, msgId: string): Promise<MessageRecord> {
  const { address, offset } = parseOffsetMessageId(msgId);
  const addr = formatHostAddress(address);
  const reply = await admin.broker(addr, createRequest(RequestCode.VIEW_MESSAGE_BY_ID, { offset }));
  const record = reply.body ? decodeMessageRecords(reply.body, { copyBody: true })[0] : undefined;
  if (!record) throw new CliError(`broker ${addr} returned no message record for ${msgId}`);
  return record;
}

export async function findMessageById(admin: AdminClient, opts: QueryByIdOptions): Promise<MessageRecord[]> {
  const msgId = opts.msgId.trim().toUpperCase();
  if (!isOffsetMessageId(msgId)) {
    if (!opts.topic) throw usageError(`-i: "${opts.msgId}" is not a message id (32 or 56 hex characters)`);
  } else {
    try {
      return [await viewMessageByOffsetId(admin, msgId)];
    } catch (err) {
      if (!opts.topic) throw err;
    }
  }
  const records = await queryMessagesByKey(admin, { topic: opts.topic!, key: msgId, uniqueKey: true });
  if (records.length === 0) throw new CliError(`message ${msgId} not found in topic ${opts.topic}`);
  return records;
}

export async function queryMsgByIdCommand(admin: AdminClient, opts: QueryByIdOptions, out: Output): Promise<void> {
  const records = await findMessageById(admin, opts);
  if (opts.json) {
    out.json(records.length === 1 ? messageJson(records[0]!) : records.map(messageJson));
    return;
  }
  records.forEach((r, i) => {
    if (i > 0) out.line('');
    out.line(formatKeyValues(messageDetail(r)));
  });
}
