import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildBrokerSettings, buildNamesrvSettings, buildStartSettings, parseFlushFlag, parsePortFlag } from './server-settings';

describe('server settings', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rocketry-srvset-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('start: defaults put the store and kv config under ./data', () => {
    const s = buildStartSettings({});
    expect(s.dataDir).toBe(path.resolve('data'));
    expect(s.broker.storePathRootDir).toBe(path.resolve('data', 'store'));
    expect(s.namesrv.kvConfigPath).toBe(path.resolve('data', 'namesrv', 'kvConfig.json'));
    expect(s.broker.listenPort).toBe(10911);
    expect(s.namesrv.listenPort).toBe(9876);
    expect(s.broker.brokerIP1).toBe('127.0.0.1');
    expect(s.broker.flushDiskType).toBe('ASYNC_FLUSH');
  });

  it('start: defaults < config file < --set < explicit flags', () => {
    const conf = path.join(dir, 'broker.conf');
    fs.writeFileSync(
      conf,
      [
        'brokerName=from-file',
        'brokerClusterName=FileCluster',
        'listenPort=20000',
        'flushDiskType=SYNC_FLUSH',
        `storePathRootDir=${path.join(dir, 'file-store')}`,
        'scanNotActiveBrokerInterval=777',
      ].join('\n'),
    );
    const fromFile = buildStartSettings({ config: conf });
    expect(fromFile.broker.brokerName).toBe('from-file');
    expect(fromFile.broker.storePathRootDir).toBe(path.join(dir, 'file-store'));
    expect(fromFile.broker.listenPort).toBe(20000);
    expect(fromFile.namesrv.scanNotActiveBrokerInterval).toBe(777);

    const withSet = buildStartSettings({ config: conf, set: ['brokerName=from-set', 'listenPort=20001', 'namesrv.listenPort=9999'] });
    expect(withSet.broker.brokerName).toBe('from-set');
    expect(withSet.broker.brokerClusterName).toBe('FileCluster');
    expect(withSet.broker.listenPort).toBe(20001);
    expect(withSet.namesrv.listenPort).toBe(9999);

    const withFlags = buildStartSettings({
      config: conf,
      set: ['listenPort=20001', 'namesrv.listenPort=9999'],
      brokerPort: '0',
      namesrvPort: '0',
      flush: 'async',
      dataDir: path.join(dir, 'flag-data'),
      host: '127.0.0.2',
    });
    expect(withFlags.broker.listenPort).toBe(0);
    expect(withFlags.namesrv.listenPort).toBe(0);
    expect(withFlags.broker.flushDiskType).toBe('ASYNC_FLUSH');
    expect(withFlags.broker.storePathRootDir).toBe(path.join(dir, 'flag-data', 'store'));
    expect(withFlags.namesrv.kvConfigPath).toBe(path.join(dir, 'flag-data', 'namesrv', 'kvConfig.json'));
    expect(withFlags.broker.listenHost).toBe('127.0.0.2');
    expect(withFlags.broker.brokerIP1).toBe('127.0.0.2');
    expect(withFlags.namesrv.listenHost).toBe('127.0.0.2');
  });

  it('start: a wildcard --host listens everywhere but keeps the advertised address', () => {
    const s = buildStartSettings({ host: '0.0.0.0' });
    expect(s.broker.listenHost).toBe('0.0.0.0');
    expect(s.broker.brokerIP1).toBe('127.0.0.1');
  });

  it('start: validation errors surface as SettingsError messages', () => {
    expect(() => buildStartSettings({ set: ['flushDiskType=SOMETIMES'] })).toThrow(/flushDiskType must be ASYNC_FLUSH or SYNC_FLUSH/);
    expect(() => buildStartSettings({ set: ['maxMessageSize=abc'] })).toThrow(/maxMessageSize must be a number/);
    expect(() => buildStartSettings({ set: ['noSuchSetting=1'] })).toThrow(/unknown broker or NameServer setting "noSuchSetting"/);
    expect(() => buildStartSettings({ brokerPort: '70000' })).toThrow(/--broker-port must be a port number/);
    expect(() => buildStartSettings({ flush: 'maybe' })).toThrow(/--flush must be async or sync/);
  });

  it('broker: cluster/name/id/namesrv flags override the file', () => {
    const conf = path.join(dir, 'b.json');
    fs.writeFileSync(conf, JSON.stringify({ brokerName: 'json-name', brokerId: 3, namesrvAddr: '10.0.0.1:9876' }));
    const { broker } = buildBrokerSettings({
      config: conf,
      namesrv: '127.0.0.1:1;127.0.0.1:2',
      cluster: 'C2',
      id: '1',
      port: '0',
      dataDir: dir,
    });
    expect(broker.brokerName).toBe('json-name');
    expect(broker.brokerId).toBe(1);
    expect(broker.brokerClusterName).toBe('C2');
    expect(broker.namesrvAddr).toBe('127.0.0.1:1;127.0.0.1:2');
    expect(broker.listenPort).toBe(0);
    expect(broker.storePathRootDir).toBe(path.join(dir, 'store'));
    expect(() => buildBrokerSettings({ namesrv: 'nonsense' })).toThrow(/not host:port/);
    expect(() => buildBrokerSettings({ set: ['kvConfigPath=x'] })).toThrow(/unknown broker setting/);
  });

  it('namesrv: --port and --set', () => {
    const { namesrv } = buildNamesrvSettings({ port: '0', set: ['brokerChannelExpiredTime=5000'], dataDir: dir });
    expect(namesrv.listenPort).toBe(0);
    expect(namesrv.brokerChannelExpiredTime).toBe(5000);
    expect(namesrv.kvConfigPath).toBe(path.join(dir, 'namesrv', 'kvConfig.json'));
    expect(() => buildNamesrvSettings({ set: ['brokerName=x'] })).toThrow(/unknown namesrv setting/);
  });

  it('flag parsers', () => {
    expect(parseFlushFlag('SYNC')).toBe('SYNC_FLUSH');
    expect(parseFlushFlag('async_flush')).toBe('ASYNC_FLUSH');
    expect(parsePortFlag('--port', '0')).toBe(0);
    expect(() => parsePortFlag('--port', '-1')).toThrow();
    expect(() => parsePortFlag('--port', '1.5')).toThrow();
  });
});
