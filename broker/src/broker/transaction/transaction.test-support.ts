/**
 * Spec helpers for transactions: a raw-protocol transactional producer (its own connection, registered
 * through HEART_BEAT, recording every CHECK_TRANSACTION_STATE the broker sends it) and bounded waits.
 */
import { silentLogger } from '../../common/logger';
import { encodeProperties } from '../../protocol/message-record';
import { createRequest, type RemotingCommand } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import { RemotingClient } from '../../remoting/remoting-client';

export const COMMIT = 8;
export const ROLLBACK = 12;
export const UNKNOWN = 0;

/** What a producer needs to END a half (the send reply, or a check-back header). */
export interface HalfRef {
  tranStateTableOffset: number;
  commitLogOffset: number;
  msgId: string;
}

export class RawTxProducer {
  readonly client = new RemotingClient({ logger: silentLogger });
  readonly checks: RemotingCommand[] = [];

  constructor(
    readonly addr: string,
    readonly group: string,
    readonly clientId: string,
  ) {
    this.client.registerProcessor(RequestCode.CHECK_TRANSACTION_STATE, (request) => {
      this.checks.push(request);
      return null;
    });
  }

  async heartbeat(): Promise<RemotingCommand> {
    const body = Buffer.from(JSON.stringify({ clientID: this.clientId, producerDataSet: [{ groupName: this.group }], consumerDataSet: [] }));
    return this.client.invoke(this.addr, createRequest(RequestCode.HEART_BEAT, undefined, body), 3000);
  }

  /** SEND_MESSAGE_V2 with TRAN_MSG=true, PGROUP and the PREPARED sysFlag, like the Java producer. */
  async sendHalf(topic: string, body: string, opts: { queueId?: number; uniqKey?: string; properties?: Record<string, string>; group?: string } = {}): Promise<RemotingCommand> {
    const properties: Record<string, string> = {
      TRAN_MSG: 'true',
      PGROUP: opts.group ?? this.group,
      ...(opts.uniqKey ? { UNIQ_KEY: opts.uniqKey } : {}),
      WAIT: 'true',
      ...opts.properties,
    };
    const ext = {
      a: opts.group ?? this.group,
      b: topic,
      c: 'TBW102',
      d: 4,
      e: opts.queueId ?? 0,
      f: 0x4,
      g: Date.now(),
      h: 0,
      i: encodeProperties(properties),
      j: 0,
      k: false,
    };
    return this.client.invoke(this.addr, createRequest(RequestCode.SEND_MESSAGE_V2, ext, Buffer.from(body)), 3000);
  }

  private endHeader(ref: HalfRef, state: number, fromCheck: boolean, group: string): Record<string, string | number | boolean> {
    return {
      producerGroup: group,
      tranStateTableOffset: ref.tranStateTableOffset,
      commitLogOffset: ref.commitLogOffset,
      commitOrRollback: state,
      fromTransactionCheck: fromCheck,
      msgId: ref.msgId,
      transactionId: ref.msgId,
    };
  }

  /** Two-way END (to see the broker's answer). */
  end(ref: HalfRef, state: number, opts: { fromCheck?: boolean; group?: string } = {}): Promise<RemotingCommand> {
    const req = createRequest(RequestCode.END_TRANSACTION, this.endHeader(ref, state, opts.fromCheck ?? false, opts.group ?? this.group));
    return this.client.invoke(this.addr, req, 3000);
  }

  /** Oneway END, as the Java client sends it. */
  endOneway(ref: HalfRef, state: number, opts: { fromCheck?: boolean } = {}): Promise<void> {
    const req = createRequest(RequestCode.END_TRANSACTION, this.endHeader(ref, state, opts.fromCheck ?? false, this.group), undefined, true);
    return this.client.invokeOneway(this.addr, req);
  }

  close(): void {
    this.client.close();
  }
}

/** The END reference of a send reply (tranStateTableOffset = queueOffset, commitLogOffset from the offset msgId). */
export function refOfSendReply(reply: RemotingCommand, uniqKey: string, commitLogOffset: number): HalfRef {
  return { tranStateTableOffset: Number(reply.extFields.queueOffset), commitLogOffset, msgId: uniqKey };
}

/** The END reference of a CHECK_TRANSACTION_STATE request. */
export function refOfCheck(check: RemotingCommand): HalfRef {
  return {
    tranStateTableOffset: Number(check.extFields.tranStateTableOffset),
    commitLogOffset: Number(check.extFields.commitLogOffset),
    msgId: check.extFields.msgId ?? '',
  };
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
