import { describe, expect, it } from 'vitest';
import { createRequest } from '../../protocol/remoting-command';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import type { MessageStore } from '../../store/types';
import { FakeChannel } from '../client/fake-channel.test-support';
import { Perm } from '../constants';
import { TransactionalMessageService, type EndTransactionRequest } from '../transaction/transactional-message.service';
import { EndTransactionProcessor } from './end-transaction.processor';

/** A service that records what it was asked (the store is never touched by these cases). */
class RecordingService extends TransactionalMessageService {
  readonly calls: EndTransactionRequest[] = [];
  constructor() {
    super({ store: {} as MessageStore, storeHost: { host: '127.0.0.1', port: 10911 }, delayLevelsMs: [] });
  }
  override endTransaction(req: EndTransactionRequest): Promise<{ code: number; remark?: string }> {
    this.calls.push(req);
    return Promise.resolve({ code: ResponseCode.SUCCESS });
  }
}

function endRequest(commitOrRollback: number | undefined, extra: Record<string, string | number | boolean> = {}) {
  return createRequest(RequestCode.END_TRANSACTION, {
    producerGroup: 'PG',
    tranStateTableOffset: 3,
    commitLogOffset: 1234,
    ...(commitOrRollback === undefined ? {} : { commitOrRollback }),
    msgId: 'UNIQ',
    fromTransactionCheck: true,
    ...extra,
  });
}

describe('EndTransactionProcessor', () => {
  it('maps 8 to COMMIT and 12 to ROLLBACK with the header offsets', async () => {
    const service = new RecordingService();
    const processor = new EndTransactionProcessor({ transactions: service });
    expect((await processor.process(endRequest(8), new FakeChannel())).code).toBe(ResponseCode.SUCCESS);
    expect((await processor.process(endRequest(12), new FakeChannel())).code).toBe(ResponseCode.SUCCESS);
    expect(service.calls).toEqual([
      { producerGroup: 'PG', tranStateTableOffset: 3, commitLogOffset: 1234, action: 'COMMIT', fromTransactionCheck: true },
      { producerGroup: 'PG', tranStateTableOffset: 3, commitLogOffset: 1234, action: 'ROLLBACK', fromTransactionCheck: true },
    ]);
  });

  it('ignores 0 (unknown) and other states: the check asks later', async () => {
    const service = new RecordingService();
    const processor = new EndTransactionProcessor({ transactions: service });
    for (const state of [0, 4, 99]) expect((await processor.process(endRequest(state), new FakeChannel())).code).toBe(ResponseCode.SUCCESS);
    expect(service.calls).toEqual([]);
  });

  it('answers SYSTEM_ERROR for a header without its required fields, NO_PERMISSION on a read-only broker', async () => {
    const service = new RecordingService();
    const bad = await new EndTransactionProcessor({ transactions: service }).process(endRequest(undefined), new FakeChannel());
    expect(bad.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(bad.remark).toMatch(/commitOrRollback/);
    const readOnly = new EndTransactionProcessor({ transactions: service, brokerPermission: () => Perm.READ });
    expect((await readOnly.process(endRequest(8), new FakeChannel())).code).toBe(ResponseCode.NO_PERMISSION);
    expect(service.calls).toEqual([]);
  });
});
