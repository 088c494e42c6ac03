/**
 * Load generator on our own RemotingClient + protocol: SEND_MESSAGE_V2 with N requests in flight
 * over a few connections, and PULL_MESSAGE draining queues. Bounded by message count and by time.
 */
import { encodeBatchBody } from '../../broker/src/protocol/batch-body';
import { decodeMessageRecords, encodeProperties } from '../../broker/src/protocol/message-record';
import { createRequest, type RemotingCommand } from '../../broker/src/protocol/remoting-command';
import { RequestCode } from '../../broker/src/protocol/request-code';
import { ResponseCode, responseCodeName } from '../../broker/src/protocol/response-code';
import { RemotingClient } from '../../broker/src/remoting/remoting-client';
import { summarize, type LatencySummary } from './stats';

export const BENCH_PRODUCER_GROUP = 'rocketry_bench_producer';
export const BENCH_CONSUMER_GROUP = 'rocketry_bench_consumer';
/** Stop recording error texts after this many (the count keeps going). */
const MAX_ERROR_SAMPLES = 10;

/** A pool of independent connections to one broker (RemotingClient holds one per address). */
export class ConnectionPool {
  readonly clients: RemotingClient[];
  constructor(size: number) {
    this.clients = Array.from({ length: Math.max(1, size) }, () => new RemotingClient({ maxInFlightRequests: 65_536 }));
  }
  pick(i: number): RemotingClient {
    return this.clients[i % this.clients.length]!;
  }
  close(): void {
    for (const c of this.clients) c.close();
  }
}

async function expectSuccess(client: RemotingClient, addr: string, cmd: RemotingCommand, timeoutMs: number): Promise<RemotingCommand> {
  const reply = await client.invoke(addr, cmd, timeoutMs);
  if (reply.code !== ResponseCode.SUCCESS) {
    throw new Error(`request ${cmd.code} to ${addr}: ${responseCodeName(reply.code)} ${reply.remark ?? ''}`);
  }
  return reply;
}

export async function createTopic(client: RemotingClient, brokerAddr: string, topic: string, queueNums: number): Promise<void> {
  await expectSuccess(
    client,
    brokerAddr,
    createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, {
      topic,
      defaultTopic: 'TBW102',
      readQueueNums: queueNums,
      writeQueueNums: queueNums,
      perm: 6,
      topicFilterType: 'SINGLE_TAG',
      topicSysFlag: 0,
      order: false,
    }),
    10_000,
  );
}

export interface PutOptions {
  pool: ConnectionPool;
  brokerAddr: string;
  topic: string;
  queueNums: number;
  bodyBytes: number;
  /** Requests in flight at once. */
  concurrency: number;
  totalMessages: number;
  maxDurationMs: number;
  requestTimeoutMs?: number;
  /** >1: SEND_BATCH_MESSAGE with this many messages per request (latency is then per batch). */
  batchSize?: number;
}

export interface PutResult {
  sent: number;
  errors: number;
  errorSamples: string[];
  elapsedMs: number;
  /** Per-send latency in ms; the first `sent` entries are valid. */
  latenciesMs: Float64Array;
  /** Highest queue offset + 1 acknowledged per queue (what the pull phase must reach). */
  maxOffsetByQueue: number[];
  /** Batch sends: highest CommitLog offset named by a reply's offset msgId (start of that record), or -1. */
  maxPhysicalOffset?: number;
}

/** CommitLog offset from an offset msgId (host 4/16 B + port 4 B + offset 8 B, hex); -1 if unreadable. */
export function physicalOffsetOfMsgId(msgId: string): number {
  if (!/^[0-9A-Fa-f]{32}$|^[0-9A-Fa-f]{56}$/.test(msgId)) return -1;
  return Number.parseInt(msgId.slice(-16), 16);
}

/** Sends `totalMessages` (or until `maxDurationMs`) with `concurrency` senders, each one request at a time. */
export async function runPut(opts: PutOptions): Promise<PutResult> {
  if ((opts.batchSize ?? 1) > 1) return runBatchPut(opts);
  const body = Buffer.alloc(opts.bodyBytes, 0x61);
  const properties = encodeProperties({ WAIT: 'true' });
  const latenciesMs = new Float64Array(opts.totalMessages);
  const maxOffsetByQueue = new Array<number>(opts.queueNums).fill(0);
  const errorSamples: string[] = [];
  const timeoutMs = opts.requestTimeoutMs ?? 10_000;
  let next = 0;
  let sent = 0;
  let errors = 0;
  const start = performance.now();
  const deadline = start + opts.maxDurationMs;

  const sender = async (senderId: number) => {
    const client = opts.pool.pick(senderId);
    while (next < opts.totalMessages && performance.now() < deadline) {
      const seq = next++;
      const queueId = seq % opts.queueNums;
      const cmd = createRequest(
        RequestCode.SEND_MESSAGE_V2,
        {
          a: BENCH_PRODUCER_GROUP,
          b: opts.topic,
          c: 'TBW102',
          d: opts.queueNums,
          e: queueId,
          f: 0,
          g: Date.now(),
          h: 0,
          i: properties,
          j: 0,
          k: false,
        },
        body,
      );
      const t0 = performance.now();
      try {
        const reply = await client.invoke(opts.brokerAddr, cmd, timeoutMs);
        if (reply.code !== ResponseCode.SUCCESS) throw new Error(`${responseCodeName(reply.code)} ${reply.remark ?? ''}`);
        latenciesMs[sent++] = performance.now() - t0;
        const q = Number(reply.extFields.queueId);
        const off = Number(reply.extFields.queueOffset);
        if (Number.isInteger(q) && q >= 0 && q < maxOffsetByQueue.length && off + 1 > maxOffsetByQueue[q]!) maxOffsetByQueue[q] = off + 1;
      } catch (err) {
        errors++;
        if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, i) => sender(i)));
  return { sent, errors, errorSamples, elapsedMs: performance.now() - start, latenciesMs, maxOffsetByQueue };
}

export interface PullOptions {
  pool: ConnectionPool;
  brokerAddr: string;
  topic: string;
  /** Offset to reach per queue (exclusive). */
  targetOffsetByQueue: number[];
  batchSize: number;
  maxDurationMs: number;
  requestTimeoutMs?: number;
}

export interface PullResult {
  pulled: number;
  bytes: number;
  requests: number;
  errors: number;
  errorSamples: string[];
  elapsedMs: number;
}

/** Counts back-to-back records in a pull body by walking TOTALSIZE fields (no full decode). */
export function countRecords(body: Buffer | undefined): number {
  if (!body) return 0;
  let n = 0;
  let p = 0;
  while (p + 4 <= body.length) {
    const size = body.readInt32BE(p);
    if (size <= 0 || p + size > body.length) break;
    n++;
    p += size;
  }
  return n;
}

/** One puller per queue, each with one request in flight, until every queue reaches its target. */
export async function runPull(opts: PullOptions): Promise<PullResult> {
  const timeoutMs = opts.requestTimeoutMs ?? 10_000;
  const start = performance.now();
  const deadline = start + opts.maxDurationMs;
  const errorSamples: string[] = [];
  let pulled = 0;
  let bytes = 0;
  let requests = 0;
  let errors = 0;

  const puller = async (queueId: number) => {
    const client = opts.pool.pick(queueId);
    const target = opts.targetOffsetByQueue[queueId] ?? 0;
    let offset = 0;
    while (offset < target && performance.now() < deadline) {
      const cmd = createRequest(RequestCode.PULL_MESSAGE, {
        consumerGroup: BENCH_CONSUMER_GROUP,
        topic: opts.topic,
        queueId,
        queueOffset: offset,
        maxMsgNums: opts.batchSize,
        sysFlag: 0x4, // SUBSCRIPTION only: no commit, no suspend (the backlog is already there)
        commitOffset: 0,
        suspendTimeoutMillis: 0,
        subscription: '*',
        subVersion: 0,
        expressionType: 'TAG',
      });
      requests++;
      try {
        const reply = await client.invoke(opts.brokerAddr, cmd, timeoutMs);
        const nextOffset = Number(reply.extFields.nextBeginOffset);
        if (reply.code === ResponseCode.SUCCESS) {
          pulled += countRecords(reply.body);
          bytes += reply.body?.length ?? 0;
        } else if (reply.code !== ResponseCode.PULL_RETRY_IMMEDIATELY && reply.code !== ResponseCode.PULL_NOT_FOUND) {
          throw new Error(`${responseCodeName(reply.code)} ${reply.remark ?? ''}`);
        }
        if (!Number.isFinite(nextOffset) || nextOffset <= offset) {
          if (reply.code === ResponseCode.PULL_NOT_FOUND) break; // nothing more stored than we saw
          throw new Error(`pull made no progress at offset ${offset} (code ${reply.code})`);
        }
        offset = nextOffset;
      } catch (err) {
        errors++;
        if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push((err as Error).message);
        if (errors > 100) return;
      }
    }
  };
  await Promise.all(opts.targetOffsetByQueue.map((_, q) => puller(q)));
  return { pulled, bytes, requests, errors, errorSamples, elapsedMs: performance.now() - start };
}

/** Message count rounded to whole batches. */
function batchCount(total: number, batchSize: number): number {
  return Math.ceil(total / batchSize);
}

/**
 * SEND_BATCH_MESSAGE (320): `batchSize` messages per request, `concurrency` requests in flight.
 * `sent` counts messages; `latenciesMs` holds one entry per batch.
 */
async function runBatchPut(opts: PutOptions): Promise<PutResult> {
  const batchSize = opts.batchSize ?? 1;
  const body = Buffer.alloc(opts.bodyBytes, 0x61);
  const batchBody = encodeBatchBody(Array.from({ length: batchSize }, () => ({ flag: 0, body, properties: {} })));
  const properties = encodeProperties({ WAIT: 'true' });
  const batches = batchCount(opts.totalMessages, batchSize);
  const latenciesMs = new Float64Array(batches);
  const maxOffsetByQueue = new Array<number>(opts.queueNums).fill(0);
  const errorSamples: string[] = [];
  const timeoutMs = opts.requestTimeoutMs ?? 10_000;
  let next = 0;
  let okBatches = 0;
  let errors = 0;
  let maxPhysicalOffset = -1;
  const start = performance.now();
  const deadline = start + opts.maxDurationMs;
  const sender = async (senderId: number) => {
    const client = opts.pool.pick(senderId);
    while (next < batches && performance.now() < deadline && errors <= 100) {
      const seq = next++;
      const queueId = seq % opts.queueNums;
      const cmd = createRequest(
        RequestCode.SEND_BATCH_MESSAGE,
        { a: BENCH_PRODUCER_GROUP, b: opts.topic, c: 'TBW102', d: opts.queueNums, e: queueId, f: 0, g: Date.now(), h: 0, i: properties, j: 0, k: false, m: true },
        batchBody,
      );
      const t0 = performance.now();
      try {
        const reply = await client.invoke(opts.brokerAddr, cmd, timeoutMs);
        if (reply.code !== ResponseCode.SUCCESS) throw new Error(`${responseCodeName(reply.code)} ${reply.remark ?? ''}`);
        latenciesMs[okBatches++] = performance.now() - t0;
        const q = Number(reply.extFields.queueId);
        const off = Number(reply.extFields.queueOffset);
        if (Number.isInteger(q) && q >= 0 && q < maxOffsetByQueue.length && off + batchSize > maxOffsetByQueue[q]!) maxOffsetByQueue[q] = off + batchSize;
        const ids = (reply.extFields.msgId ?? '').split(',');
        const phys = physicalOffsetOfMsgId(ids[ids.length - 1] ?? '');
        if (phys > maxPhysicalOffset) maxPhysicalOffset = phys;
      } catch (err) {
        errors++;
        if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, i) => sender(i)));
  const elapsedMs = performance.now() - start;
  return { sent: okBatches * batchSize, errors, errorSamples, elapsedMs, latenciesMs: latenciesMs.subarray(0, okBatches), maxOffsetByQueue, maxPhysicalOffset };
}

/** GET_MAX_OFFSET per queue (the consume-queue view: what a consumer can reach now). */
export async function queryMaxOffsets(client: RemotingClient, brokerAddr: string, topic: string, queueNums: number): Promise<number[]> {
  const out: number[] = [];
  for (let q = 0; q < queueNums; q++) {
    const reply = await expectSuccess(client, brokerAddr, createRequest(RequestCode.GET_MAX_OFFSET, { topic, queueId: q }), 10_000);
    out.push(Number(reply.extFields.offset));
  }
  return out;
}

/** Waits (bounded) until the queues' max offsets add up to `expected` (dispatch may lag the append). */
export async function waitDispatched(client: RemotingClient, brokerAddr: string, topic: string, queueNums: number, expected: number, timeoutMs: number): Promise<number[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const offsets = await queryMaxOffsets(client, brokerAddr, topic, queueNums);
    const total = offsets.reduce((a, b) => a + b, 0);
    if (total >= expected || performance.now() > deadline) return offsets;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface EndToEndOptions {
  pool: ConnectionPool;
  brokerAddr: string;
  topic: string;
  queueNums: number;
  bodyBytes: number;
  /** Offered load, messages per second (open loop). */
  ratePerSec: number;
  durationMs: number;
  /** Sends in flight at most; beyond it the generator falls behind (counted, not queued). */
  maxInFlight?: number;
  /** After the last send, how long the consumers may take to see everything. */
  drainTimeoutMs?: number;
}

export interface EndToEndResult {
  offered: number;
  sent: number;
  sendErrors: number;
  /** Sends skipped because `maxInFlight` was reached (the broker could not keep up). */
  behind: number;
  received: number;
  elapsedMs: number;
  /** Send time (written into the body) to the consumer's receipt, ms. */
  endToEnd: LatencySummary;
  /** Send call round trip, ms. */
  send: LatencySummary;
  errorSamples: string[];
}

/** Wall clock with sub-millisecond resolution, the same in producer and consumer (one process). */
const nowMs = () => performance.timeOrigin + performance.now();

/**
 * End-to-end latency at a fixed offered rate: an open-loop producer stamps the send time into the
 * first 8 bytes of each body; one long-polling puller per queue (suspend on, like a push consumer)
 * reads the stamp back. Producer and consumers share this process, hence one clock.
 */
export async function runEndToEnd(opts: EndToEndOptions): Promise<EndToEndResult> {
  const maxInFlight = opts.maxInFlight ?? 1024;
  const total = Math.floor((opts.ratePerSec * opts.durationMs) / 1000);
  const sendLat = new Float64Array(total);
  const e2eLat = new Float64Array(total);
  const errorSamples: string[] = [];
  const properties = encodeProperties({ WAIT: 'true' });
  let sent = 0;
  let sendErrors = 0;
  let behind = 0;
  let issued = 0;
  let inFlight = 0;
  let received = 0;
  let producing = true;
  let stopConsumers = false;
  const client = opts.pool.pick(0);

  const sendOne = async (seq: number) => {
    const body = Buffer.alloc(opts.bodyBytes, 0x61);
    body.writeDoubleBE(nowMs(), 0);
    const cmd = createRequest(
      RequestCode.SEND_MESSAGE_V2,
      { a: BENCH_PRODUCER_GROUP, b: opts.topic, c: 'TBW102', d: opts.queueNums, e: seq % opts.queueNums, f: 0, g: Date.now(), h: 0, i: properties, j: 0, k: false },
      body,
    );
    const t0 = performance.now();
    inFlight++;
    try {
      const reply = await client.invoke(opts.brokerAddr, cmd, 10_000);
      if (reply.code !== ResponseCode.SUCCESS) throw new Error(`${responseCodeName(reply.code)} ${reply.remark ?? ''}`);
      sendLat[sent++] = performance.now() - t0;
    } catch (err) {
      sendErrors++;
      if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push((err as Error).message);
    } finally {
      inFlight--;
    }
  };

  const puller = async (queueId: number) => {
    const pc = opts.pool.pick(queueId + 1);
    let offset = 0;
    while (!stopConsumers) {
      const cmd = createRequest(RequestCode.PULL_MESSAGE, {
        consumerGroup: `${BENCH_CONSUMER_GROUP}_e2e`,
        topic: opts.topic,
        queueId,
        queueOffset: offset,
        maxMsgNums: 32,
        sysFlag: 0x2 | 0x4, // SUSPEND + SUBSCRIPTION: long polling, like a push consumer
        commitOffset: 0,
        suspendTimeoutMillis: 1000,
        subscription: '*',
        subVersion: 0,
        expressionType: 'TAG',
      });
      try {
        const reply = await pc.invoke(opts.brokerAddr, cmd, 5_000);
        const at = nowMs();
        if (reply.code === ResponseCode.SUCCESS && reply.body) {
          for (const r of decodeMessageRecords(reply.body)) {
            if (received < e2eLat.length) e2eLat[received] = at - r.body.readDoubleBE(0);
            received++;
          }
        }
        const nextOffset = Number(reply.extFields.nextBeginOffset);
        if (Number.isFinite(nextOffset) && nextOffset > offset) offset = nextOffset;
      } catch (err) {
        if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push(`pull: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  const pullers = Array.from({ length: opts.queueNums }, (_, q) => puller(q));

  const start = performance.now();
  const sends: Array<Promise<void>> = [];
  while (producing) {
    const elapsed = performance.now() - start;
    const due = Math.min(total, Math.floor((elapsed * opts.ratePerSec) / 1000));
    while (issued < due) {
      if (inFlight >= maxInFlight) {
        behind += due - issued;
        issued = due;
        break;
      }
      sends.push(sendOne(issued++));
    }
    if (issued >= total) producing = false;
    else await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(sends);
  const sendDoneAt = performance.now();
  const drainDeadline = sendDoneAt + (opts.drainTimeoutMs ?? 15_000);
  while (received < sent && performance.now() < drainDeadline) await new Promise((r) => setTimeout(r, 5));
  stopConsumers = true;
  await Promise.all(pullers);
  return {
    offered: total,
    sent,
    sendErrors,
    behind,
    received,
    elapsedMs: sendDoneAt - start,
    endToEnd: summarize(e2eLat, Math.min(received, e2eLat.length)),
    send: summarize(sendLat, sent),
    errorSamples,
  };
}
