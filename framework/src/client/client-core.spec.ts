import * as zlib from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createResponse,
  encodeMessageRecord,
  MessageSysFlag,
  RequestCode,
  ResponseCode,
  type MessageRecordInput,
  type RemotingCommand,
} from '@rocketry/broker/protocol';
import { NamesrvClient, RemotingClient, RemotingConnectError, RemotingResponseError, RemotingServer, RemotingTimeoutError } from '@rocketry/broker/remoting';
import { buildClientId, CLIENT_DEFAULTS, parseNamesrvAddrList, resolveClientConfig } from './client-options';
import { isRetriable, MQBrokerError, MQClientError, toClientError } from './errors';
import { Instrumentation } from './instrumentation';
import { buildSendProperties, decodePulledMessages, toMessageExt } from './message';
import { MQClientAPI } from './mq-client-api';
import { Producer } from './producer/producer';

function record(overrides: Partial<MessageRecordInput> = {}): MessageRecordInput {
  return {
    queueId: 1,
    flag: 0,
    queueOffset: 7,
    physicalOffset: 4096,
    sysFlag: 0,
    bornTimestamp: 1_700_000_000_000,
    bornHost: { host: '10.0.0.5', port: 50000 },
    storeTimestamp: 1_700_000_000_100,
    storeHost: { host: '127.0.0.1', port: 10911 },
    reconsumeTimes: 2,
    preparedTransactionOffset: 0,
    body: Buffer.from('payload'),
    topic: 'T',
    properties: { TAGS: 'TagA', KEYS: 'k1 k2' },
    ...overrides,
  };
}

describe('client options', () => {
  it('parses NameServer lists in every accepted form', () => {
    expect(parseNamesrvAddrList('a:1;b:2')).toEqual(['a:1', 'b:2']);
    expect(parseNamesrvAddrList(' a:1 , b:2 ;')).toEqual(['a:1', 'b:2']);
    expect(parseNamesrvAddrList(['a:1', 'b:2;c:3'])).toEqual(['a:1', 'b:2', 'c:3']);
    expect(() => resolveClientConfig({ namesrvAddr: ' ; ' })).toThrow(/names no NameServer/);
  });

  it('applies RocketMQ defaults, builds ip@instance ids and makes DEFAULT unique per client', () => {
    const cfg = resolveClientConfig({ namesrvAddr: 'h:9876', clientIP: '10.1.2.3', instanceName: 'inst' });
    expect(cfg.pollNameServerIntervalMs).toBe(30_000);
    expect(cfg.heartbeatBrokerIntervalMs).toBe(30_000);
    expect(cfg.persistConsumerOffsetIntervalMs).toBe(5_000);
    expect(cfg.mqClientApiTimeoutMs).toBe(CLIENT_DEFAULTS.mqClientApiTimeoutMs);
    expect(buildClientId(cfg)).toBe('10.1.2.3@inst');
    expect(buildClientId({ ...cfg, unitName: 'u1' })).toBe('10.1.2.3@inst@u1');
    const a = resolveClientConfig({ namesrvAddr: 'h:9876' });
    const b = resolveClientConfig({ namesrvAddr: 'h:9876' });
    expect(a.instanceName).toMatch(new RegExp(`^${process.pid}#\\d+$`));
    expect(a.instanceName).not.toBe(b.instanceName);
    expect(() => resolveClientConfig({ namesrvAddr: 'h:1', heartbeatBrokerIntervalMs: 0 })).toThrow(RangeError);
    expect(cfg.serializeType).toBe('ROCKETMQ');
    expect(() => resolveClientConfig({ namesrvAddr: 'h:1', serializeType: 'XML' as 'JSON' })).toThrow(/serializeType must be/);
  });

  it('sends requests with the configured header serialization (ROCKETMQ by default, JSON on request)', async () => {
    const seen: Array<number | undefined> = [];
    const server = new RemotingServer({ host: '127.0.0.1', port: 0 });
    server.registerProcessor(RequestCode.GET_ROUTEINFO_BY_TOPIC, (req) => {
      seen.push(req.serializeType);
      return createResponse(req, ResponseCode.TOPIC_NOT_EXIST, 'no route');
    });
    const port = await server.start();
    try {
      for (const serializeType of [undefined, 'JSON', 'ROCKETMQ'] as const) {
        const producer = new Producer({ namesrvAddr: `127.0.0.1:${port}`, group: 'ser_pg', serializeType, sendMsgTimeout: 1000 });
        await producer.start();
        await expect(producer.send({ topic: 'T', body: 'x' })).rejects.toThrow();
        await producer.shutdown();
      }
    } finally {
      await server.close();
    }
    // Two route queries per send (the topic, then the TBW102 auto-create template).
    expect(seen).toEqual([1, 1, 0, 0, 1, 1]);
  });
});

describe('errors', () => {
  it('maps remoting errors to client errors keeping code, retriable and response code', () => {
    const busy = toClientError(new RemotingResponseError(ResponseCode.SYSTEM_BUSY, 'busy', 'b:1'));
    expect(busy).toBeInstanceOf(MQBrokerError);
    expect((busy as MQBrokerError).responseCode).toBe(ResponseCode.SYSTEM_BUSY);
    expect(isRetriable(busy)).toBe(true);
    const illegal = toClientError(new RemotingResponseError(ResponseCode.MESSAGE_ILLEGAL, 'too big'));
    expect(isRetriable(illegal)).toBe(false);
    const timeout = toClientError(new RemotingTimeoutError('b:1', 100, 310));
    expect(timeout).toBeInstanceOf(MQClientError);
    expect((timeout as MQClientError).code).toBe('REMOTING_TIMEOUT');
    expect(isRetriable(timeout)).toBe(true);
    expect((toClientError(new RemotingConnectError('b:1', 'refused')) as MQClientError).code).toBe('CONNECT_FAILED');
    const bug = new TypeError('bug');
    expect(toClientError(bug)).toBe(bug);
  });
});

describe('instrumentation', () => {
  it('delivers typed events, isolates throwing listeners and supports removal', () => {
    const failures: string[] = [];
    const inst = new Instrumentation((_err, event) => failures.push(event));
    const seen: number[] = [];
    expect(inst.has('pull')).toBe(false);
    const off = inst.on('pull', (e) => seen.push(e.messageCount));
    inst.on('pull', () => {
      throw new Error('listener bug');
    });
    const mq = { topic: 'T', brokerName: 'b', queueId: 0 };
    inst.emit('pull', { consumerGroup: 'g', messageQueue: mq, status: 'FOUND', messageCount: 3, nextBeginOffset: 3, elapsedMs: 1 });
    off();
    inst.emit('pull', { consumerGroup: 'g', messageQueue: mq, status: 'FOUND', messageCount: 4, nextBeginOffset: 7, elapsedMs: 1 });
    expect(seen).toEqual([3]);
    expect(failures).toEqual(['pull', 'pull']);
  });
});

describe('message conversion', () => {
  it('builds send properties: user props, TAGS, space-joined KEYS, DELAY, UNIQ_KEY kept if present', () => {
    const props = buildSendProperties({ topic: 'T', body: 'x', tags: 'A', keys: ['k1', 'k2'], delayLevel: 3, properties: { p: 'v' } }, 'ID1');
    expect(props).toEqual({ p: 'v', TAGS: 'A', KEYS: 'k1 k2', DELAY: '3', UNIQ_KEY: 'ID1' });
    expect(buildSendProperties({ topic: 'T', body: 'x', properties: { UNIQ_KEY: 'MINE' } }, 'ID2').UNIQ_KEY).toBe('MINE');
    expect(buildSendProperties({ topic: 'T', body: 'x', waitStoreMsgOK: false }, undefined)).toEqual({ WAIT: 'false' });
  });

  it('decodes pulled records: offset msgId without UNIQ_KEY, UNIQ_KEY when present, zlib bodies inflated', () => {
    const plain = encodeMessageRecord(record());
    const body = Buffer.from('compress me '.repeat(100));
    const compressed = encodeMessageRecord(
      record({ queueOffset: 8, physicalOffset: 5000, sysFlag: MessageSysFlag.COMPRESSED, body: zlib.deflateSync(body), properties: { UNIQ_KEY: 'ABCDEF' } }),
    );
    const msgs = decodePulledMessages(Buffer.concat([plain, compressed]), 'broker-a');
    expect(msgs).toHaveLength(2);
    const [a, b] = msgs as [ReturnType<typeof toMessageExt>, ReturnType<typeof toMessageExt>];
    expect(a.msgId).toBe(a.offsetMsgId);
    expect(a.offsetMsgId).toBe('7F00000100002A9F0000000000001000');
    expect(a.tags).toBe('TagA');
    expect(a.keys).toEqual(['k1', 'k2']);
    expect(a.bornHost).toBe('10.0.0.5:50000');
    expect(a.storeHost).toBe('127.0.0.1:10911');
    expect(a.reconsumeTimes).toBe(2);
    expect(a.queueId).toBe(1);
    expect(a.commitLogOffset).toBe(4096);
    expect(a.brokerName).toBe('broker-a');
    expect(b.msgId).toBe('ABCDEF');
    expect(b.body.equals(body)).toBe(true);
    expect(b.sysFlag & MessageSysFlag.COMPRESSED).toBe(1);
  });
});

describe('MQClientAPI against a scripted server', () => {
  let server: RemotingServer;
  let remoting: RemotingClient;
  let addr: string;
  let reply: (req: RemotingCommand) => RemotingCommand | null;
  let api: MQClientAPI;

  beforeEach(async () => {
    server = new RemotingServer({ host: '127.0.0.1', port: 0 });
    server.setDefaultProcessor((req) => reply(req));
    const port = await server.start();
    addr = `127.0.0.1:${port}`;
    remoting = new RemotingClient();
    api = new MQClientAPI(remoting, new NamesrvClient(remoting, ['127.0.0.1:1', addr]), 1000);
  });

  afterEach(async () => {
    remoting.close();
    await server.close();
  });

  it('maps send replies to statuses and refusals to MQBrokerError', async () => {
    let seen: RemotingCommand | undefined;
    reply = (req) => {
      seen = req;
      return createResponse(req, ResponseCode.FLUSH_DISK_TIMEOUT, undefined, { msgId: 'OFF', queueId: 2, queueOffset: 9, MSG_REGION: 'R', TRACE_ON: 'true' });
    };
    const header = { producerGroup: 'pg', topic: 'T', defaultTopic: 'TBW102', defaultTopicQueueNums: 4, queueId: 2, sysFlag: 0, bornTimestamp: 1, flag: 0 };
    const r = await api.sendMessage(addr, header, Buffer.from('b'), 1000);
    expect(r).toEqual({ status: 'FLUSH_DISK_TIMEOUT', offsetMsgId: 'OFF', queueId: 2, queueOffset: 9, regionId: 'R', traceOn: true });
    expect(seen!.code).toBe(RequestCode.SEND_MESSAGE_V2);
    expect(seen!.extFields).toMatchObject({ a: 'pg', b: 'T', c: 'TBW102', d: '4', e: '2' });
    await api.sendMessage(addr, header, Buffer.from('b'), 1000, true);
    expect(seen!.code).toBe(RequestCode.SEND_BATCH_MESSAGE);
    expect(seen!.extFields.m).toBe('true');
    reply = (req) => createResponse(req, ResponseCode.NO_PERMISSION, 'not writeable');
    const err = await api.sendMessage(addr, header, Buffer.from('b'), 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MQBrokerError);
    expect((err as MQBrokerError).responseCode).toBe(ResponseCode.NO_PERMISSION);
    expect((err as MQBrokerError).retriable).toBe(true);
    expect((err as MQBrokerError).brokerAddr).toBe(addr);
  });

  it('maps pull codes, QUERY_NOT_FOUND, the no-consumer SYSTEM_ERROR and lock replies', async () => {
    const pullHeader = { suggestWhichBrokerId: 0, nextBeginOffset: 5, minOffset: 0, maxOffset: 5 };
    const statuses: string[] = [];
    for (const code of [ResponseCode.PULL_NOT_FOUND, ResponseCode.PULL_RETRY_IMMEDIATELY, ResponseCode.PULL_OFFSET_MOVED]) {
      reply = (req) => createResponse(req, code, undefined, pullHeader);
      const res = await api.pullMessage(
        addr,
        { consumerGroup: 'g', topic: 'T', queueId: 0, queueOffset: 5, maxMsgNums: 32, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 0, subVersion: 0 },
        1000,
      );
      statuses.push(res.status);
      expect(res.nextBeginOffset).toBe(5);
    }
    expect(statuses).toEqual(['NO_NEW_MSG', 'NO_MATCHED_MSG', 'OFFSET_ILLEGAL']);
    reply = (req) => createResponse(req, ResponseCode.QUERY_NOT_FOUND, 'not found');
    expect(await api.queryConsumerOffset(addr, { consumerGroup: 'g', topic: 'T', queueId: 0 })).toBeUndefined();
    reply = (req) => createResponse(req, ResponseCode.SUCCESS, undefined, { offset: 42 });
    expect(await api.queryConsumerOffset(addr, { consumerGroup: 'g', topic: 'T', queueId: 0 })).toBe(42);
    expect(await api.getMaxOffset(addr, 'T', 0)).toBe(42);
    reply = (req) => createResponse(req, ResponseCode.SYSTEM_ERROR, 'no consumer for this group, g');
    expect(await api.getConsumerIdListByGroup(addr, 'g')).toEqual([]);
    reply = (req) => createResponse(req, ResponseCode.SUCCESS, undefined, undefined, Buffer.from('{"consumerIdList":["a@1","b@2"]}'));
    expect(await api.getConsumerIdListByGroup(addr, 'g')).toEqual(['a@1', 'b@2']);
    reply = (req) => createResponse(req, ResponseCode.SUCCESS, undefined, undefined, Buffer.from('{"lockOKMQSet":[{"topic":"T","brokerName":"b","queueId":1}]}'));
    expect(await api.lockBatchMQ(addr, { consumerGroup: 'g', clientId: 'c', onlyThisBroker: false, mqSet: [] })).toEqual([{ topic: 'T', brokerName: 'b', queueId: 1 }]);
  });

  it('fails over to the next NameServer and treats TOPIC_NOT_EXIST as "no route"', async () => {
    reply = (req) => createResponse(req, ResponseCode.TOPIC_NOT_EXIST, 'No topic route info');
    expect(await api.getTopicRouteInfo('Nope')).toBeUndefined();
    expect(api.namesrv.preferredAddress).toBe(addr);
    reply = (req) =>
      createResponse(req, ResponseCode.SUCCESS, undefined, undefined, Buffer.from('{"brokerDatas":[{"brokerAddrs":{0:"h:1"},"brokerName":"b","cluster":"C"}],"queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":2,"writeQueueNums":2,"topicSysFlag":0}],"filterServerTable":{}}'));
    const route = await api.getTopicRouteInfo('T');
    expect(route!.brokerDatas[0]!.brokerAddrs['0']).toBe('h:1');
  });
});
