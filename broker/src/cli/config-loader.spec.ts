import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SettingsError } from '../config';
import { loadConfigFile, parseJsonSettings, parseProperties, parseSetOptions, splitSettings } from './config-loader';

describe('parseProperties', () => {
  it('reads key=value and key: value lines, skipping comments and blanks', () => {
    const text = [
      '# broker.conf',
      '! also a comment',
      '',
      'brokerClusterName = DefaultCluster',
      'brokerName=broker-a',
      'listenPort: 10911',
      '  flushDiskType=SYNC_FLUSH  ',
      'messageDelayLevel=1s 5s 10s',
      'namesrvAddr=127.0.0.1:9876;127.0.0.1:9877',
    ].join('\n');
    expect(parseProperties(text)).toEqual({
      brokerClusterName: 'DefaultCluster',
      brokerName: 'broker-a',
      listenPort: '10911',
      flushDiskType: 'SYNC_FLUSH',
      messageDelayLevel: '1s 5s 10s',
      namesrvAddr: '127.0.0.1:9876;127.0.0.1:9877',
    });
  });

  it('handles CRLF line ends and lets later keys win', () => {
    expect(parseProperties('a=1\r\nb=2\r\na=3\r\n')).toEqual({ a: '3', b: '2' });
  });

  it('rejects a line without a separator, naming the line', () => {
    expect(() => parseProperties('a=1\nnonsense\n', 'x.conf')).toThrow(/x\.conf:2: expected key=value/);
    expect(() => parseProperties('=value')).toThrow(SettingsError);
  });
});

describe('parseJsonSettings', () => {
  it('keeps scalar types', () => {
    expect(parseJsonSettings('{"listenPort":1,"autoCreateTopicEnable":false,"brokerName":"b"}')).toEqual({
      listenPort: 1,
      autoCreateTopicEnable: false,
      brokerName: 'b',
    });
  });
  it('rejects invalid JSON, arrays and nested values', () => {
    expect(() => parseJsonSettings('{nope')).toThrow(/not valid JSON/);
    expect(() => parseJsonSettings('[1]')).toThrow(/JSON object/);
    expect(() => parseJsonSettings('{"a":{"b":1}}')).toThrow(/"a" must be/);
  });
});

describe('parseSetOptions', () => {
  it('splits on the first = only', () => {
    expect(parseSetOptions(['a=1', 'messageDelayLevel=1s 2s', 'x=y=z'])).toEqual({ a: '1', messageDelayLevel: '1s 2s', x: 'y=z' });
  });
  it('rejects entries without a key', () => {
    expect(() => parseSetOptions(['novalue'])).toThrow(/--set expects key=value/);
    expect(() => parseSetOptions(['=1'])).toThrow(SettingsError);
  });
});

describe('splitSettings', () => {
  it('sends broker keys to the broker and namesrv-only keys to the NameServer', () => {
    const split = splitSettings({ brokerName: 'b', listenPort: '1', scanNotActiveBrokerInterval: '100', maxFrameBytes: '2048' });
    expect(split.broker).toEqual({ brokerName: 'b', listenPort: '1', maxFrameBytes: '2048' });
    expect(split.namesrv).toEqual({ scanNotActiveBrokerInterval: '100', maxFrameBytes: '2048' });
  });
  it('honours explicit namesrv./broker. prefixes', () => {
    const split = splitSettings({ 'namesrv.listenPort': '9877', 'broker.listenPort': '10920' });
    expect(split.namesrv).toEqual({ listenPort: '9877' });
    expect(split.broker).toEqual({ listenPort: '10920' });
  });
  it('rejects unknown keys with a hint', () => {
    expect(() => splitSettings({ brokername: 'x' })).toThrow(/unknown broker or NameServer setting "brokername" \(did you mean brokerName/);
    expect(() => splitSettings({ 'namesrv.brokerName': 'x' })).toThrow(/unknown NameServer setting/);
    expect(() => splitSettings({ 'broker.kvConfigPath': 'x' })).toThrow(/unknown broker setting/);
  });
});

describe('loadConfigFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rocketry-cfg-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads properties and .json files by extension', () => {
    const conf = path.join(dir, 'broker.conf');
    fs.writeFileSync(conf, 'brokerName=from-conf\n');
    const json = path.join(dir, 'broker.JSON');
    fs.writeFileSync(json, '{"brokerName":"from-json","brokerId":1}');
    expect(loadConfigFile(conf)).toEqual({ brokerName: 'from-conf' });
    expect(loadConfigFile(json)).toEqual({ brokerName: 'from-json', brokerId: 1 });
  });

  it('reports a missing file or a directory clearly', () => {
    expect(() => loadConfigFile(path.join(dir, 'missing.conf'))).toThrow(/does not exist/);
    expect(() => loadConfigFile(dir)).toThrow(/is not a file/);
  });
});
