import { describe, expect, it } from 'vitest';
import type { PutMessageRequest, PutMessageResult } from '../store/types';
import { applyDelayRouting, delayLevelOf, putResultToResponseCode } from './message-routing';

const msg = (over: Partial<PutMessageRequest> = {}): PutMessageRequest => ({
  topic: 'T', queueId: 3, flag: 0, body: Buffer.from('x'), properties: {}, sysFlag: 0, bornTimestamp: 0,
  bornHost: { host: '127.0.0.1', port: 1 }, reconsumeTimes: 0, preparedTransactionOffset: 0, ...over,
});

describe('applyDelayRouting', () => {
  it('parks NOT/COMMIT messages with DELAY > 0, clamping the level', () => {
    const parked = applyDelayRouting(msg({ properties: { DELAY: '20', TAGS: 'a' } }), 18);
    expect(parked).toMatchObject({ topic: 'SCHEDULE_TOPIC_XXXX', queueId: 17 });
    expect(parked.properties).toEqual({ DELAY: '18', TAGS: 'a', REAL_TOPIC: 'T', REAL_QID: '3' });
    expect(applyDelayRouting(msg({ sysFlag: 0x8, properties: { DELAY: '1' } }), 18).topic).toBe('SCHEDULE_TOPIC_XXXX');
  });

  it('leaves other messages alone', () => {
    for (const m of [
      msg(),
      msg({ properties: { DELAY: '0' } }),
      msg({ properties: { DELAY: 'x' } }),
      msg({ sysFlag: 0x4, properties: { DELAY: '2' } }),
      msg({ sysFlag: 0xc, properties: { DELAY: '2' } }),
      msg({ topic: 'SCHEDULE_TOPIC_XXXX', properties: { DELAY: '2' } }),
    ]) {
      expect(applyDelayRouting(m, 18)).toBe(m);
    }
    expect(delayLevelOf({ DELAY: '-3' })).toBe(0);
  });
});

describe('putResultToResponseCode', () => {
  const r = (status: PutMessageResult['status'], reason?: string): PutMessageResult => ({ status, appended: [], reason });
  it('maps store outcomes to wire codes', () => {
    expect(putResultToResponseCode(r('PUT_OK')).code).toBe(0);
    expect(putResultToResponseCode(r('FLUSH_DISK_TIMEOUT')).code).toBe(10);
    const full = putResultToResponseCode(r('SERVICE_NOT_AVAILABLE', 'disk full'));
    expect(full).toEqual({ code: 14, remark: 'service not available now: disk full' });
    expect(putResultToResponseCode(r('MESSAGE_ILLEGAL')).code).toBe(13);
    expect(putResultToResponseCode(r('PROPERTIES_SIZE_EXCEEDED')).code).toBe(13);
    expect(putResultToResponseCode(r('UNKNOWN_ERROR')).code).toBe(1);
  });
});
