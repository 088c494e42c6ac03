import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestCode } from '../../protocol/request-code';
import { ResponseCode } from '../../protocol/response-code';
import { recordsOf, startTestBroker, type TestBroker } from '../broker.test-support';

let broker: TestBroker | undefined;
afterEach(async () => {
  await broker?.stop();
  broker = undefined;
});

/** Deterministic PRNG so a failure reproduces (seed printed in the test name). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return s / 0x100000000;
  };
}

const CODES = [10, 11, 12, 14, 15, 17, 21, 29, 30, 31, 32, 33, 202, 203, 208, 310, 320, 361];
const KEYS = [
  'topic', 'queueId', 'queueOffset', 'maxMsgNums', 'sysFlag', 'commitOffset', 'suspendTimeoutMillis', 'subscription', 'subVersion',
  'consumerGroup', 'offset', 'key', 'maxNum', 'beginTimestamp', 'endTimestamp', 'timestamp', 'readQueueNums', 'writeQueueNums',
  'perm', 'topicFilterType', 'defaultTopic', 'producerGroup', 'defaultTopicQueueNums', 'bornTimestamp', 'flag', 'properties',
  'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'l', '_UNIQUE_KEY_QUERY', 'setZeroIfNotFound', 'expressionType',
];
const VALUES = ['0', '1', '-1', '2147483648', '99999999999999999999', 'abc', '', '../../etc', 'T', '%RETRY%G', 'SCHEDULE_TOPIC_XXXX', '*', '||', 'true', 'SQL92', '1e3', ' 5 '];

describe('processors under junk input', () => {
  const seed = 20240611;
  it(`answers every junk request and keeps serving (seed ${seed})`, async () => {
    broker = await startTestBroker();
    await broker.call(RequestCode.UPDATE_AND_CREATE_TOPIC, {
      topic: 'T', defaultTopic: 'TBW102', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG',
    });
    const next = rng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    for (let n = 0; n < 400; n++) {
      const ext: Record<string, string> = {};
      const count = Math.floor(next() * 12);
      for (let k = 0; k < count; k++) ext[pick(KEYS)] = pick(VALUES);
      const body = next() < 0.3 ? Buffer.from(Array.from({ length: Math.floor(next() * 64) }, () => Math.floor(next() * 256))) : undefined;
      // Suspended pulls would wait; junk must be answered at once.
      ext.suspendTimeoutMillis = '0';
      const r = await broker.call(pick(CODES), ext, body, 5000);
      expect(typeof r.code).toBe('number');
    }
    // Still healthy, and nothing was created outside the store root.
    expect((await broker.send('T', 'after junk', {}, { queueId: 1 })).code).toBe(ResponseCode.SUCCESS);
    const all = recordsOf(await broker.pull('T', 1, 0));
    expect(all.at(-1)?.body.toString()).toBe('after junk');
    const cq = path.join(broker.dir, 'consumequeue');
    for (const topic of fs.existsSync(cq) ? fs.readdirSync(cq) : []) expect(topic).toMatch(/^[%|a-zA-Z0-9_-]+$/);
    expect(fs.existsSync(path.join(broker.dir, '..', 'etc'))).toBe(false);
  });
});
