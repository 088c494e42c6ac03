import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readFixture } from '../fixtures/ali-ons-fixtures';
import {
  BodyError,
  decodeClusterInfo,
  decodeConsumeStats,
  decodeConsumerListBody,
  decodeHeartbeatData,
  decodeKVTable,
  decodeLockBatchRequestBody,
  decodeLockBatchResponseBody,
  decodeRegisterBrokerBody,
  decodeTopicConfigText,
  decodeTopicList,
  decodeTopicRouteData,
  decodeTopicStatsTable,
  encodeClusterInfo,
  encodeConsumeStats,
  encodeConsumerListBody,
  encodeKVTable,
  encodeLockBatchRequestBody,
  encodeLockBatchResponseBody,
  encodeRegisterBrokerBody,
  encodeTopicConfigText,
  encodeTopicList,
  encodeTopicRouteData,
  encodeTopicStatsTable,
  newTopicConfig,
  parseLenientJson,
  quoteBareIntKeys,
  type RegisterBrokerBody,
  toFastJson,
  type TopicRouteData,
  useStandardRouteJson,
} from './index';

const require = createRequire(import.meta.url);

const route: TopicRouteData = {
  queueDatas: [{ brokerName: 'broker-a', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicSysFlag: 0 }],
  brokerDatas: [{ cluster: 'DefaultCluster', brokerName: 'broker-a', brokerAddrs: { '0': '127.0.0.1:10911', '1': '127.0.0.1:10921' } }],
  filterServerTable: {},
};

/** Hand-derived: what the Java namesrv writes for each requester (fastjson, sorted, compact). */
const ROUTE_OLD =
  '{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"},"brokerName":"broker-a","cluster":"DefaultCluster"}],' +
  '"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}';
const ROUTE_STANDARD = ROUTE_OLD.replace('{0:', '{"0":').replace(',1:', ',"1":');

describe('fastjson writer', () => {
  it('sorts keys, leaves out null/undefined, writes no whitespace', () => {
    expect(toFastJson({ b: 1, a: 'x', n: null, u: undefined, arr: [3, null, { z: true, y: false }] })).toBe(
      '{"a":"x","arr":[3,null,{"y":false,"z":true}],"b":1}',
    );
  });

  it('unquotedIntKeys: everywhere, or only under named properties', () => {
    expect(toFastJson({ m: { 0: 'a', x: 'b' } }, { unquotedIntKeys: true })).toBe('{"m":{0:"a","x":"b"}}');
    expect(toFastJson({ m: { 0: 'a' }, n: { 0: 'b' } }, { unquotedIntKeys: new Set(['n']) })).toBe('{"m":{"0":"a"},"n":{0:"b"}}');
  });

  it('asciiOnly escapes non-ASCII', () => {
    expect(toFastJson({ t: 'é' }, { asciiOnly: true })).toBe('{"t":"\\u00e9"}');
    expect(JSON.parse(toFastJson({ t: 'é😀' }, { asciiOnly: true }))).toEqual({ t: 'é😀' });
  });

  it('lenient reader quotes bare int keys outside strings only', () => {
    expect(quoteBareIntKeys('{0:"a",-1 : "b","s":"{0:x,1:y}",arr:[1, 2]}')).toBe('{"0":"a","-1" : "b","s":"{0:x,1:y}",arr:[1, 2]}');
    expect(parseLenientJson('{"k":{0:"a\\"{1:"}}')).toEqual({ k: { 0: 'a"{1:' } });
    expect(() => parseLenientJson('{nope')).toThrow(BodyError);
  });
});

describe('parseLenientJson', () => {
  it('parses standard JSON like JSON.parse', () => {
    const text = '{"a":[1,2.5,-3e2,"x\\"y\\u00e9",true,false,null],"b":{}, "c" : [ ] }';
    expect(parseLenientJson(text)).toEqual(JSON.parse(text));
  });

  it('accepts fastjson unquoted integer keys (ClusterInfo / old route dialect)', () => {
    expect(parseLenientJson('{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"}}')).toEqual({
      brokerAddrs: { '0': '127.0.0.1:10911', '1': '127.0.0.1:10921' },
    });
  });

  it('turns object keys (TopicStatsTable / ConsumeStats) into their JSON text', () => {
    const parsed = parseLenientJson(
      '{"offsetTable":{{"brokerName":"b","queueId":1,"topic":"T"}:{"maxOffset":5,"minOffset":0}}}',
    ) as { offsetTable: Record<string, unknown> };
    const [key, value] = Object.entries(parsed.offsetTable)[0]!;
    expect(JSON.parse(key)).toEqual({ brokerName: 'b', queueId: 1, topic: 'T' });
    expect(value).toEqual({ maxOffset: 5, minOffset: 0 });
    // both quirks in one body, and a "__proto__" key stays a plain property as with JSON.parse
    const mixed = parseLenientJson('{"m":{0:"a"},"o":{{"k":1}:2},"__proto__":{"x":1}}') as Record<string, unknown>;
    expect(mixed.m).toEqual({ '0': 'a' });
    expect(Object.getPrototypeOf(mixed)).toBe(Object.prototype);
    expect(Object.keys(mixed)).toEqual(['m', 'o', '__proto__']);
  });

  it('rejects broken input with a position', () => {
    expect(() => parseLenientJson('{"a":1')).toThrow(BodyError);
    expect(() => parseLenientJson('{"a":1} x')).toThrow(/trailing characters at position 8/);
    expect(() => parseLenientJson('{a:1}')).toThrow(/object key/);
    expect(() => parseLenientJson('"abc')).toThrow(/unterminated/);
    expect(() => parseLenientJson('['.repeat(100))).toThrow(/too deep/);
  });
});

describe('TopicStatsTable / ConsumeStats', () => {
  const mq = { topic: 'T', brokerName: 'a', queueId: 3 };

  it('encode writes the standard-JSON list form and decode reads it back', () => {
    const stats = { offsetTable: [{ mq, minOffset: 1, maxOffset: 9, lastUpdateTimestamp: 1700000000000 }] };
    const text = encodeTopicStatsTable(stats).toString();
    expect(JSON.parse(text)).toEqual(stats);
    expect(decodeTopicStatsTable(text)).toEqual(stats);
    const consume = { offsetTable: [{ mq, brokerOffset: 5, consumerOffset: 3, lastTimestamp: 7 }], consumeTps: 1.5 };
    expect(decodeConsumeStats(encodeConsumeStats(consume))).toEqual(consume);
  });

  it('reads Java fastjson object keys and quoted MessageQueue keys', () => {
    const fast = decodeTopicStatsTable('{"offsetTable":{{"brokerName":"a","queueId":3,"topic":"T"}:{"minOffset":1,"maxOffset":9}}}');
    expect(fast.offsetTable).toEqual([{ mq, minOffset: 1, maxOffset: 9, lastUpdateTimestamp: 0 }]);
    const java = decodeConsumeStats('{"consumeTps":1.5,"offsetTable":{{"brokerName":"a","queueId":3,"topic":"T"}:{"brokerOffset":9,"consumerOffset":4,"lastTimestamp":2,"pullOffset":9}}}');
    expect(java).toEqual({ offsetTable: [{ mq, brokerOffset: 9, consumerOffset: 4, lastTimestamp: 2 }], consumeTps: 1.5 });
    const quoted = decodeTopicStatsTable(JSON.stringify({ offsetTable: { [JSON.stringify({ topic: 'T', brokerName: 'a', queueId: 0 })]: { maxOffset: 2 } } }));
    expect(quoted.offsetTable[0]!.mq).toEqual({ topic: 'T', brokerName: 'a', queueId: 0 });
  });

  it('rejects malformed tables with a path', () => {
    expect(() => decodeConsumeStats('{"offsetTable":{"notjson":{}}}')).toThrow(/malformed MessageQueue key in consumeStats.offsetTable: notjson/);
    expect(() => decodeConsumeStats('{"offsetTable":[{"brokerOffset":1}]}')).toThrow(/consumeStats.offsetTable\[0\].mq must be an object/);
    expect(() => decodeTopicStatsTable('{"offsetTable":[{"mq":{"topic":"T","brokerName":"a","queueId":0},"maxOffset":"x"}]}')).toThrow(/maxOffset must be an integer/);
    expect(() => decodeConsumeStats('{"consumeTps":"fast"}')).toThrow(/consumeStats.consumeTps must be a number/);
  });
});

describe('TopicRouteData', () => {
  it('picks the dialect like the Java namesrv', () => {
    expect(useStandardRouteJson(121)).toBe(false);
    expect(useStandardRouteJson(317)).toBe(false);
    expect(useStandardRouteJson(400)).toBe(false);
    expect(useStandardRouteJson(401)).toBe(true);
    expect(useStandardRouteJson(121, true)).toBe(true);
  });

  it('encodes both dialects byte for byte', () => {
    expect(encodeTopicRouteData(route, { requestVersion: 121 }).toString()).toBe(ROUTE_OLD);
    expect(encodeTopicRouteData(route, { requestVersion: 479 }).toString()).toBe(ROUTE_STANDARD);
    expect(encodeTopicRouteData(route, { requestVersion: 317, acceptStandardJsonOnly: true }).toString()).toBe(ROUTE_STANDARD);
  });

  it('orderTopicConf and unknown 5.x fields', () => {
    const withOrder = { ...route, orderTopicConf: 'broker-a:4' };
    const text = encodeTopicRouteData(withOrder, { requestVersion: 401 }).toString();
    expect(text).toContain('"orderTopicConf":"broker-a:4"');
    expect(decodeTopicRouteData(text)).toEqual(withOrder);
  });

  it('both dialects decode with our reader and with ali-ons JSON2', () => {
    const JSON2 = require('JSON2') as { parse(s: string): unknown };
    for (const text of [ROUTE_OLD, ROUTE_STANDARD]) {
      expect(decodeTopicRouteData(text)).toEqual(route);
      const theirs = JSON2.parse(text) as { brokerDatas: Array<{ brokerAddrs: Record<string, string> }> };
      expect(theirs.brokerDatas[0]!.brokerAddrs['0']).toBe('127.0.0.1:10911');
    }
  });

  it('reads old topicSynFlag and validates shapes', () => {
    const old = ROUTE_STANDARD.replace('topicSysFlag', 'topicSynFlag').replace('"topicSynFlag":0', '"topicSynFlag":1');
    expect(decodeTopicRouteData(old).queueDatas[0]!.topicSysFlag).toBe(1);
    expect(() => decodeTopicRouteData('{"queueDatas":[{"brokerName":"b"}]}')).toThrow(/route.queueDatas\[0\].readQueueNums/);
    expect(() => decodeTopicRouteData('{"brokerDatas":{}}')).toThrow(/route.brokerDatas must be an array/);
    expect(() => decodeTopicRouteData('[]')).toThrow(/route must be an object/);
  });
});

describe('ClusterInfo / TopicList', () => {
  it('ClusterInfo uses unquoted brokerId keys (Java fastjson default)', () => {
    const info = {
      brokerAddrTable: { 'broker-a': { cluster: 'DefaultCluster', brokerName: 'broker-a', brokerAddrs: { '0': '127.0.0.1:10911' } } },
      clusterAddrTable: { DefaultCluster: ['broker-a'] },
    };
    const text = encodeClusterInfo(info).toString();
    expect(text).toBe(
      '{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}},"clusterAddrTable":{"DefaultCluster":["broker-a"]}}',
    );
    expect(decodeClusterInfo(text)).toEqual(info);
  });

  it('TopicList', () => {
    expect(encodeTopicList({ topicList: ['A', 'B'] }).toString()).toBe('{"topicList":["A","B"]}');
    expect(decodeTopicList('{"topicList":["A"],"brokerAddr":"x"}')).toEqual({ topicList: ['A'], brokerAddr: 'x' });
  });
});

describe('HeartbeatData', () => {
  it('rejects malformed bodies with a path', () => {
    expect(() => decodeHeartbeatData('{}')).toThrow(/heartbeat.clientID must be a string/);
    expect(() => decodeHeartbeatData('{"clientID":"c","consumerDataSet":[{"groupName":"g","subscriptionDataSet":{}}]}')).toThrow(
      /heartbeat.consumerDataSet\[0\].subscriptionDataSet must be an array/,
    );
    expect(() => decodeHeartbeatData('{"clientID":"c","consumerDataSet":[{"groupName":"g","subscriptionDataSet":[{"topic":"T","codeSet":["x"]}]}]}')).toThrow(
      /codeSet\[0\] must be an integer/,
    );
  });

  it('parses the subscription itself when the sender left tagsSet/codeSet out', () => {
    const hb = decodeHeartbeatData('{"clientID":"c","consumerDataSet":[{"groupName":"g","subscriptionDataSet":[{"topic":"T","subString":"a||b","subVersion":1}]}]}');
    expect(hb.consumerDataSet[0]!.subscriptionDataSet[0]).toMatchObject({ tagsSet: ['a', 'b'], codeSet: [97, 98], expressionType: 'TAG' });
    expect(hb.producerDataSet).toEqual([]);
  });
});

describe('TopicConfig / RegisterBrokerBody', () => {
  const body: RegisterBrokerBody = {
    topicConfigSerializeWrapper: {
      topicConfigTable: {
        TopicTest: newTopicConfig('TopicTest', { readQueueNums: 4, writeQueueNums: 4 }),
        '%RETRY%GID_TEST': newTopicConfig('%RETRY%GID_TEST', { readQueueNums: 1, writeQueueNums: 1 }),
      },
      dataVersion: { timestamp: 1700000000000, counter: 3 },
    },
    filterServerList: [],
  };

  it('JSON form is fastjson-shaped and round-trips', () => {
    const text = encodeRegisterBrokerBody(body).toString();
    expect(text.startsWith('{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":3,"timestamp":1700000000000},')).toBe(true);
    expect(text).toContain('"TopicTest":{"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4}');
    expect(decodeRegisterBrokerBody(Buffer.from(text), false)).toEqual(body);
  });

  it('decodes the compressed body produced by Java (DeflaterOutputStream)', () => {
    const javaBytes = Buffer.from(readFixture('register-broker-body.compressed.hex').trim(), 'hex');
    expect(decodeRegisterBrokerBody(javaBytes, true)).toEqual(body);
    // our compressed form inflates to exactly the stream Java wrote
    expect(zlib.inflateSync(encodeRegisterBrokerBody(body, true)).equals(zlib.inflateSync(javaBytes))).toBe(true);
  });

  it('compressed form drops topicSysFlag/order like Java, and reads 4.x bodies without the mapping count', () => {
    const tc = { ...body.topicConfigSerializeWrapper.topicConfigTable.TopicTest!, topicSysFlag: 1, order: true };
    const one: RegisterBrokerBody = { topicConfigSerializeWrapper: { topicConfigTable: { TopicTest: tc }, dataVersion: { timestamp: 1, counter: 0 } }, filterServerList: [] };
    const back = decodeRegisterBrokerBody(encodeRegisterBrokerBody(one, true), true);
    expect(back.topicConfigSerializeWrapper.topicConfigTable.TopicTest).toMatchObject({ topicSysFlag: 0, order: false });
    const raw = zlib.inflateSync(encodeRegisterBrokerBody(one, true));
    const v4 = zlib.deflateSync(raw.subarray(0, raw.length - 4));
    expect(decodeRegisterBrokerBody(v4, true).topicConfigSerializeWrapper.topicConfigTable.TopicTest!.readQueueNums).toBe(4);
  });

  it('rejects corrupt compressed bodies', () => {
    expect(() => decodeRegisterBrokerBody(Buffer.from('not zlib'), true)).toThrow(BodyError);
    const raw = zlib.inflateSync(encodeRegisterBrokerBody(body, true));
    expect(() => decodeRegisterBrokerBody(zlib.deflateSync(raw.subarray(0, 30)), true)).toThrow(/truncated/);
    const bad = Buffer.from(raw);
    bad.writeInt32BE(-1, 0);
    expect(() => decodeRegisterBrokerBody(zlib.deflateSync(bad), true)).toThrow(/negative/);
  });

  it('TopicConfig text form', () => {
    const tc = newTopicConfig('T', { readQueueNums: 8, writeQueueNums: 8, perm: 7 });
    expect(encodeTopicConfigText(tc)).toBe('T 8 8 7 SINGLE_TAG');
    expect(decodeTopicConfigText('T 8 8 7 SINGLE_TAG')).toEqual(tc);
    expect(decodeTopicConfigText('T 8 8 7 MULTI_TAG {"+a":"b"}')).toMatchObject({ topicFilterType: 'MULTI_TAG', attributes: { '+a': 'b' } });
    expect(decodeTopicConfigText('T 8 8')).toBeUndefined();
    expect(decodeTopicConfigText('T x 8 7 SINGLE_TAG')).toBeUndefined();
  });
});

describe('small bodies', () => {
  it('consumer list', () => {
    expect(encodeConsumerListBody({ consumerIdList: ['10.0.0.5@1', '10.0.0.6@2'] }).toString()).toBe('{"consumerIdList":["10.0.0.5@1","10.0.0.6@2"]}');
    expect(decodeConsumerListBody('{"consumerIdList":["a"]}')).toEqual({ consumerIdList: ['a'] });
    expect(() => decodeConsumerListBody('{"consumerIdList":[1]}')).toThrow(/consumerIdList\[0\]/);
  });

  it('lock batch request/response', () => {
    const req = { consumerGroup: 'CG', clientId: 'c1', onlyThisBroker: false, mqSet: [{ topic: 'T', brokerName: 'b', queueId: 0 }] };
    const text = encodeLockBatchRequestBody(req).toString();
    expect(text).toBe('{"clientId":"c1","consumerGroup":"CG","mqSet":[{"brokerName":"b","queueId":0,"topic":"T"}],"onlyThisBroker":false}');
    expect(decodeLockBatchRequestBody(text)).toEqual(req);
    expect(encodeLockBatchResponseBody({ lockOKMQSet: req.mqSet }).toString()).toBe('{"lockOKMQSet":[{"brokerName":"b","queueId":0,"topic":"T"}]}');
    expect(decodeLockBatchResponseBody('{"lockOKMQSet":[]}')).toEqual({ lockOKMQSet: [] });
    expect(() => decodeLockBatchRequestBody('{"consumerGroup":"CG","clientId":"c","mqSet":[{"topic":"T"}]}')).toThrow(/mqSet\[0\].brokerName/);
  });

  it('KV table', () => {
    expect(encodeKVTable({ table: { b: '2', a: '1' } }).toString()).toBe('{"table":{"a":"1","b":"2"}}');
    expect(decodeKVTable('{"table":{"T":"broker-a:4"}}')).toEqual({ table: { T: 'broker-a:4' } });
  });
});
