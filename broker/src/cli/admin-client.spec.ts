import { describe, expect, it } from 'vitest';
import { SettingsError } from '../config';
import { RemotingConnectError } from '../remoting/errors';
import { decodeClusterInfo, decodeConsumeStats } from '../protocol/bodies';
import { decodeReply, decodeTopicRoute, masterAddresses, resolveNamesrvList } from './admin-client';
import { CliError, describeError, ExitCode } from './cli-error';
import { bodyPreview } from './commands/message-view';
import { matchesKey } from './commands/query-msg-by-key.command';
import { validateUpdateTopic } from './commands/update-topic.command';
import type { MessageRecord } from '../protocol/message-record';

const buf = (s: string) => Buffer.from(s, 'utf8');

describe('admin body readers', () => {
  it('reads a route in both JSON dialects and picks masters', () => {
    const standard = decodeTopicRoute(
      buf('{"brokerDatas":[{"brokerAddrs":{"0":"10.0.0.2:10911","1":"10.0.0.3:10911"},"brokerName":"b","cluster":"C"},{"brokerAddrs":{"0":"10.0.0.1:10911"},"brokerName":"a","cluster":"C"}],"queueDatas":[{"brokerName":"a","perm":6,"readQueueNums":4,"writeQueueNums":4,"topicSysFlag":0}]}'),
    );
    const fastjson = decodeTopicRoute(buf('{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"a","cluster":"C"}],"queueDatas":[{"brokerName":"a","perm":6,"readQueueNums":4,"writeQueueNums":4,"topicSynFlag":0}]}'));
    expect(masterAddresses(standard.brokerDatas)).toEqual([
      { brokerName: 'a', addr: '10.0.0.1:10911' },
      { brokerName: 'b', addr: '10.0.0.2:10911' },
    ]);
    expect(fastjson.brokerDatas[0]!.brokerAddrs).toEqual({ '0': '10.0.0.1:10911' });
    expect(fastjson.queueDatas[0]).toEqual({ brokerName: 'a', perm: 6, readQueueNums: 4, writeQueueNums: 4, topicSysFlag: 0 });
    // --json prints the body as received
    expect((fastjson.raw as { queueDatas: unknown[] }).queueDatas[0]).toMatchObject({ topicSynFlag: 0 });
  });

  it('reads ClusterInfo with unquoted broker ids', () => {
    const info = decodeReply(buf('{"brokerAddrTable":{"a":{"brokerAddrs":{0:"1.2.3.4:10911"},"brokerName":"a","cluster":"C"}},"clusterAddrTable":{"C":["a"]}}'), 'ClusterInfo', decodeClusterInfo);
    expect(info.clusterAddrTable).toEqual({ C: ['a'] });
    expect(info.brokerAddrTable.a!.brokerAddrs).toEqual({ '0': '1.2.3.4:10911' });
  });

  it('turns empty and malformed bodies into one readable CliError', () => {
    const list = decodeReply(buf('{"offsetTable":[{"mq":{"topic":"T","brokerName":"a","queueId":1},"brokerOffset":5,"consumerOffset":3}],"consumeTps":0}'), 'X', decodeConsumeStats);
    expect(list.offsetTable).toEqual([{ mq: { topic: 'T', brokerName: 'a', queueId: 1 }, brokerOffset: 5, consumerOffset: 3, lastTimestamp: 0 }]);
    expect(() => decodeReply(buf('{"offsetTable":{"notjson":{}}}'), 'X', decodeConsumeStats)).toThrow(/^malformed X in reply: malformed MessageQueue key/);
    expect(() => decodeReply(buf('{"offsetTable":[{"brokerOffset":1}]}'), 'X', decodeConsumeStats)).toThrow(CliError);
    expect(() => decodeReply(buf('{"offsetTable":[{"brokerOffset":1}]}'), 'X', decodeConsumeStats)).toThrow(/malformed X in reply: .*offsetTable\[0\]\.mq must be an object/);
    expect(() => decodeReply(buf('{"a":'), 'X', decodeConsumeStats)).toThrow(/malformed X in reply: body is not valid JSON/);
    expect(() => decodeReply(undefined, 'X', decodeConsumeStats)).toThrow(/empty X/);
    expect(() => decodeTopicRoute(Buffer.alloc(0))).toThrow(/empty TopicRouteData/);
  });

  it('resolves -n, then NAMESRV_ADDR, then the default', () => {
    expect(resolveNamesrvList('a:1;b:2', undefined)).toEqual(['a:1', 'b:2']);
    expect(resolveNamesrvList(undefined, 'c:3')).toEqual(['c:3']);
    expect(resolveNamesrvList(undefined, undefined)).toEqual(['127.0.0.1:9876']);
    expect(() => resolveNamesrvList('nonsense', undefined)).toThrow(/-n must be a NameServer address list/);
  });
});

describe('command helpers', () => {
  it('validates updateTopic arguments like mqadmin', () => {
    const base = { topic: 'T', clusterName: 'C', readQueueNums: 8, writeQueueNums: 8, perm: 6, order: false };
    expect(() => validateUpdateTopic(base)).not.toThrow();
    expect(() => validateUpdateTopic({ ...base, brokerAddr: 'x:1' })).toThrow(/exactly one of -b/);
    expect(() => validateUpdateTopic({ ...base, clusterName: undefined })).toThrow(/exactly one of -b/);
    expect(() => validateUpdateTopic({ ...base, topic: 'bad topic' })).toThrow(/illegal characters/);
    expect(() => validateUpdateTopic({ ...base, writeQueueNums: 0 })).toThrow(/-w must be/);
    expect(() => validateUpdateTopic({ ...base, perm: 5 })).toThrow(/-p must be/);
  });

  it('matches keys exactly within the space-separated KEYS property', () => {
    const r = { topic: 'T', properties: { KEYS: 'k1 order-42', UNIQ_KEY: 'ABC' } } as unknown as MessageRecord;
    expect(matchesKey(r, 'T', 'order-42', false)).toBe(true);
    expect(matchesKey(r, 'T', 'order-4', false)).toBe(false);
    expect(matchesKey(r, 'U', 'k1', false)).toBe(false);
    expect(matchesKey(r, 'T', 'ABC', true)).toBe(true);
  });

  it('previews text bodies as text and binary bodies as hex, cut at the limit', () => {
    expect(bodyPreview(Buffer.from('hello'))).toBe('hello');
    expect(bodyPreview(Buffer.from([0, 1, 2]))).toBe('hex:000102');
    expect(bodyPreview(Buffer.from('abcdef'), 3)).toBe('abc ... (6 bytes, first 3 shown)');
  });
});

describe('error policy', () => {
  it('maps errors to one message and an exit code', () => {
    expect(describeError(new SettingsError('bad'))).toEqual({ message: 'bad', exitCode: ExitCode.USAGE });
    expect(describeError(new CliError('x'))).toEqual({ message: 'x', exitCode: ExitCode.FAILURE });
    expect(describeError(new RemotingConnectError('h:1', 'refused')).exitCode).toBe(ExitCode.FAILURE);
    const inUse = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE', address: '0.0.0.0', port: 10911 });
    expect(describeError(inUse)).toEqual({ message: 'address already in use: 0.0.0.0:10911', exitCode: ExitCode.FAILURE });
  });
});
