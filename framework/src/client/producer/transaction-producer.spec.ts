/**
 * TransactionProducer on the wire, against a scripted NameServer+broker (one RemotingServer): the
 * half message's flags and properties, END_TRANSACTION's fields for each local state, check-backs
 * routed by group and answered with echoed offsets, and the bounded check queue.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createOffsetMessageId,
  createRequest,
  createResponse,
  decodeProperties,
  decodeSendRequestHeader,
  encodeMessageRecord,
  encodeTopicRouteData,
  EndTransactionRequestHeader,
  MessageConst,
  MessageSysFlag,
  RequestCode,
  ResponseCode,
  SendMessageResponseHeader,
  CheckTransactionStateRequestHeader,
  GetRouteInfoRequestHeader,
  decodeHeartbeatData,
  type RemotingCommand,
  type SendMessageRequestHeader,
  type TopicRouteData,
} from '@rocketry/broker/protocol';
import { RemotingServer, type Channel } from '@rocketry/broker/remoting';
import { waitUntil } from '../cluster.test-support';
import { TransactionProducer, type LocalTransactionState, type TransactionCheckMessage, type TransactionListener, type TransactionMessage } from './transaction-producer';

const BROKER = 'fake-broker';
const PHYS_BASE = 100_000;

interface SentHalf {
  header: SendMessageRequestHeader;
  body: Buffer;
  properties: Record<string, string>;
}

interface EndSeen {
  header: EndTransactionRequestHeader;
  remark: string | undefined;
}

/** One port that answers as NameServer and broker, recording sends and END_TRANSACTIONs. */
class FakeBroker {
  readonly server = new RemotingServer({ host: '127.0.0.1', port: 0 });
  readonly sends: SentHalf[] = [];
  readonly ends: EndSeen[] = [];
  /** producer group → channel of its latest heartbeat. */
  readonly producerChannels = new Map<string, Channel>();
  addr = '';

  async start(): Promise<void> {
    const port = await this.server.start();
    this.addr = `127.0.0.1:${port}`;
    const ok = (req: RemotingCommand) => createResponse(req, ResponseCode.SUCCESS);
    this.server.registerProcessor(RequestCode.GET_ROUTEINFO_BY_TOPIC, (req) => {
      const { topic } = GetRouteInfoRequestHeader.decode(req.extFields);
      const route: TopicRouteData = {
        filterServerTable: {},
        queueDatas: [{ brokerName: BROKER, readQueueNums: 1, writeQueueNums: 1, perm: 6, topicSysFlag: 0 }],
        brokerDatas: [{ cluster: 'C', brokerName: BROKER, brokerAddrs: { '0': this.addr } }],
      };
      void topic;
      return createResponse(req, ResponseCode.SUCCESS, undefined, undefined, encodeTopicRouteData(route, { requestVersion: req.version }));
    });
    this.server.registerProcessor(RequestCode.HEART_BEAT, (req, channel) => {
      const hb = decodeHeartbeatData(req.body!);
      for (const p of hb.producerDataSet) this.producerChannels.set(p.groupName, channel);
      return ok(req);
    });
    this.server.registerProcessor(RequestCode.UNREGISTER_CLIENT, ok);
    this.server.registerProcessor(RequestCode.SEND_MESSAGE_V2, (req) => {
      const header = decodeSendRequestHeader(req.code, req.extFields);
      const properties = decodeProperties(header.properties ?? '');
      const n = this.sends.length;
      this.sends.push({ header, body: req.body ?? Buffer.alloc(0), properties });
      const reply = SendMessageResponseHeader.encode({
        msgId: createOffsetMessageId({ host: '127.0.0.1', port: Number(this.addr.split(':')[1]) }, PHYS_BASE + n),
        queueId: 0,
        queueOffset: n,
      });
      return createResponse(req, ResponseCode.SUCCESS, undefined, reply);
    });
    this.server.registerProcessor(RequestCode.END_TRANSACTION, (req) => {
      this.ends.push({ header: EndTransactionRequestHeader.decode(req.extFields), remark: req.remark });
      return null;
    });
  }

  /** CHECK_TRANSACTION_STATE (oneway) to the producer channel of `group` about a half of `pgroup`. */
  sendCheck(channelGroup: string, pgroup: string, uniqKey: string, offsets: { queue: number; phys: number }): void {
    const channel = this.producerChannels.get(channelGroup);
    if (!channel) throw new Error(`no channel for ${channelGroup}`);
    const host = { host: '127.0.0.1', port: 1 };
    const body = encodeMessageRecord({
      queueId: 2,
      flag: 0,
      queueOffset: offsets.queue,
      physicalOffset: offsets.phys,
      sysFlag: 0,
      bornTimestamp: Date.now() - 10_000,
      bornHost: host,
      storeTimestamp: Date.now(),
      storeHost: host,
      reconsumeTimes: 0,
      preparedTransactionOffset: 0,
      body: Buffer.from('half body'),
      topic: 'RealTopic',
      properties: { [MessageConst.UNIQ_KEY]: uniqKey, [MessageConst.PGROUP]: pgroup, [MessageConst.TRAN_MSG]: 'true', [MessageConst.KEYS]: 'k1' },
    });
    const header = CheckTransactionStateRequestHeader.encode({
      topic: 'RealTopic',
      tranStateTableOffset: offsets.queue,
      commitLogOffset: offsets.phys,
      msgId: uniqKey,
      transactionId: uniqKey,
    });
    channel.invokeOneway(createRequest(RequestCode.CHECK_TRANSACTION_STATE, header, body, true));
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

describe('TransactionProducer (wire)', () => {
  const fake = new FakeBroker();
  const producers: TransactionProducer[] = [];
  let seq = 0;

  beforeAll(async () => {
    await fake.start();
  });
  afterEach(async () => {
    for (const p of producers.splice(0)) await p.shutdown();
  });
  afterAll(async () => {
    await fake.close();
  });

  async function newProducer(listener: TransactionListener, extra: Partial<ConstructorParameters<typeof TransactionProducer>[0]> = {}): Promise<TransactionProducer> {
    const p = new TransactionProducer({ namesrvAddr: fake.addr, group: `txg_${seq++}`, clientIP: '127.0.0.1', listener, ...extra });
    await p.start();
    producers.push(p);
    // Learning a broker from a route triggers the heartbeat that registers the group's channel.
    await p.fetchPublishMessageQueues('RealTopic');
    await waitUntil(() => fake.producerChannels.has(p.group), 5_000, 'heartbeat');
    return p;
  }

  const constant = (state: LocalTransactionState): TransactionListener => ({
    executeLocalTransaction: () => state,
    checkLocalTransaction: () => state,
  });

  it('sends a PREPARED half with TRAN_MSG/PGROUP/UNIQ_KEY, runs the local transaction, then END COMMIT with the reply offsets', async () => {
    const seen: Array<{ msg: TransactionMessage; arg: unknown }> = [];
    const p = await newProducer({
      executeLocalTransaction: (msg, arg) => {
        seen.push({ msg, arg });
        // The half is stored before the local transaction runs.
        expect(fake.sends.some((s) => s.properties[MessageConst.UNIQ_KEY] === msg.transactionId)).toBe(true);
        return 'COMMIT';
      },
      checkLocalTransaction: () => 'UNKNOWN',
    });
    const before = fake.sends.length;
    const r = await p.sendMessageInTransaction({ topic: 'RealTopic', tags: 'T', keys: ['k1'], body: 'hello', delayLevel: 3 }, { order: 7 });
    expect(r.localTransactionState).toBe('COMMIT');
    expect(r.transactionId).toMatch(/^[0-9A-F]{32}$/);
    expect(r.msgId).toBe(r.transactionId);
    const sent = fake.sends[before]!;
    expect(sent.header.sysFlag & MessageSysFlag.TRANSACTION_MASK).toBe(MessageSysFlag.TRANSACTION_PREPARED_TYPE);
    expect(sent.properties[MessageConst.TRAN_MSG]).toBe('true');
    expect(sent.properties[MessageConst.PGROUP]).toBe(p.group);
    expect(sent.properties[MessageConst.UNIQ_KEY]).toBe(r.transactionId);
    expect(sent.properties[MessageConst.DELAY]).toBeUndefined(); // cleared, as in Java
    expect(seen[0]!.arg).toEqual({ order: 7 });
    expect(seen[0]!.msg.transactionId).toBe(r.transactionId);
    await waitUntil(() => fake.ends.find((e) => e.header.msgId === r.transactionId), 5_000, 'END_TRANSACTION');
    const end = fake.ends.find((e) => e.header.msgId === r.transactionId)!.header;
    expect(end).toMatchObject({
      producerGroup: p.group,
      commitOrRollback: MessageSysFlag.TRANSACTION_COMMIT_TYPE,
      tranStateTableOffset: r.queueOffset,
      commitLogOffset: PHYS_BASE + before,
      fromTransactionCheck: false,
      topic: 'RealTopic',
    });
  });

  it('maps ROLLBACK to 12, and an exception or a non-state answer to 0 (UNKNOWN) with the exception in the remark', async () => {
    const cases: Array<{ listener: TransactionListener; type: number; state: LocalTransactionState; remark?: RegExp }> = [
      { listener: constant('ROLLBACK'), type: MessageSysFlag.TRANSACTION_ROLLBACK_TYPE, state: 'ROLLBACK' },
      {
        listener: {
          executeLocalTransaction: () => {
            throw new Error('db down');
          },
          checkLocalTransaction: () => 'UNKNOWN',
        },
        type: 0,
        state: 'UNKNOWN',
        remark: /db down/,
      },
      { listener: { executeLocalTransaction: () => 'maybe' as unknown as LocalTransactionState, checkLocalTransaction: () => 'UNKNOWN' }, type: 0, state: 'UNKNOWN' },
    ];
    for (const c of cases) {
      const p = await newProducer(c.listener);
      const r = await p.sendMessageInTransaction({ topic: 'RealTopic', body: 'x' });
      expect(r.localTransactionState).toBe(c.state);
      const end = await waitUntil(() => fake.ends.find((e) => e.header.msgId === r.transactionId), 5_000, 'END');
      expect(end.header.commitOrRollback).toBe(c.type);
      if (c.remark) expect(end.remark).toMatch(c.remark);
    }
  });

  it('answers CHECK_TRANSACTION_STATE for its group (also for halves it never sent) with fromTransactionCheck and the echoed offsets', async () => {
    const checkedA: TransactionCheckMessage[] = [];
    const checkedB: TransactionCheckMessage[] = [];
    // Two groups on ONE client instance: the check is routed by the half's PGROUP.
    const a = await newProducer(
      { executeLocalTransaction: () => 'COMMIT', checkLocalTransaction: (m) => (checkedA.push(m), 'COMMIT') },
      { instanceName: `shared_${seq}` },
    );
    const b = await newProducer(
      { executeLocalTransaction: () => 'COMMIT', checkLocalTransaction: (m) => (checkedB.push(m), 'ROLLBACK') },
      { instanceName: `shared_${seq - 1}` },
    );
    expect(a.clientInstance).toBe(b.clientInstance);
    fake.sendCheck(a.group, b.group, 'AAAABBBBCCCCDDDDEEEEFFFF00001111', { queue: 41, phys: 987_654 });
    const end = await waitUntil(() => fake.ends.find((e) => e.header.msgId === 'AAAABBBBCCCCDDDDEEEEFFFF00001111'), 5_000, 'check END');
    expect(checkedA).toHaveLength(0);
    expect(checkedB).toHaveLength(1);
    expect(checkedB[0]!.transactionId).toBe('AAAABBBBCCCCDDDDEEEEFFFF00001111');
    expect(checkedB[0]!.topic).toBe('RealTopic');
    expect(checkedB[0]!.body.toString()).toBe('half body');
    expect(end.header).toMatchObject({
      producerGroup: b.group,
      tranStateTableOffset: 41,
      commitLogOffset: 987_654,
      commitOrRollback: MessageSysFlag.TRANSACTION_ROLLBACK_TYPE,
      fromTransactionCheck: true,
    });
    // A group nobody here produces for: no answer.
    const endsBefore = fake.ends.length;
    fake.sendCheck(a.group, 'nobody_group', 'AAAABBBBCCCCDDDDEEEEFFFF00002222', { queue: 1, phys: 2 });
    fake.sendCheck(a.group, a.group, 'AAAABBBBCCCCDDDDEEEEFFFF00003333', { queue: 3, phys: 4 });
    await waitUntil(() => fake.ends.find((e) => e.header.msgId === 'AAAABBBBCCCCDDDDEEEEFFFF00003333'), 5_000, 'second END');
    expect(fake.ends.slice(endsBefore).map((e) => e.header.msgId)).toEqual(['AAAABBBBCCCCDDDDEEEEFFFF00003333']);
  });

  it('runs at most checkConcurrency checks at once and drops beyond checkRequestHoldMax waiting', async () => {
    let running = 0;
    let maxRunning = 0;
    const release: Array<() => void> = [];
    const p = await newProducer(
      {
        executeLocalTransaction: () => 'COMMIT',
        checkLocalTransaction: async (): Promise<LocalTransactionState> => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await new Promise<void>((r) => release.push(r));
          running--;
          return 'COMMIT';
        },
      },
      { checkConcurrency: 2, checkRequestHoldMax: 1 },
    );
    const ids = Array.from({ length: 5 }, (_, i) => `CCCCDDDDEEEEFFFF000011112222000${i}`);
    for (const [i, id] of ids.entries()) fake.sendCheck(p.group, p.group, id, { queue: i, phys: i });
    await waitUntil(() => running === 2 && p.droppedChecks === 2, 5_000, '2 running, 2 dropped');
    while (release.length > 0 || running > 0) {
      release.splice(0).forEach((r) => r());
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitUntil(() => ids.filter((id) => fake.ends.some((e) => e.header.msgId === id)).length === 3, 5_000, '3 answered');
    expect(maxRunning).toBe(2);
    expect(p.droppedChecks).toBe(2);
  });
});
