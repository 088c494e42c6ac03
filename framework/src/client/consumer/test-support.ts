/** Fakes shared by the consumer specs. */
import type { MessageExt } from '../message';

export function fakeMessage(queueOffset: number, over: Partial<MessageExt> = {}): MessageExt {
  return {
    topic: 'T',
    tags: undefined,
    keys: [],
    body: Buffer.from(`m${queueOffset}`),
    properties: {},
    msgId: `id-${queueOffset}`,
    offsetMsgId: `off-${queueOffset}`,
    queueId: 0,
    queueOffset,
    commitLogOffset: 1000 + queueOffset,
    bornTimestamp: 0,
    storeTimestamp: 0,
    bornHost: '127.0.0.1:1',
    storeHost: '127.0.0.1:10911',
    reconsumeTimes: 0,
    sysFlag: 0,
    flag: 0,
    bodyCrc: 0,
    preparedTransactionOffset: 0,
    ...over,
  };
}

/** A promise with its resolve exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Lets pending promise callbacks run. */
export async function flush(turns = 10): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}
