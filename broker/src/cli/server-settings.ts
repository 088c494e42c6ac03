/**
 * Turns CLI flags into validated BrokerSettings / NamesrvSettings.
 * Precedence, lowest first: config.ts defaults < CLI defaults (data dir) < config file < --set < explicit flags.
 */
import path from 'node:path';
import {
  defaultBrokerSettings,
  defaultNamesrvSettings,
  resolveBrokerSettings,
  resolveNamesrvSettings,
  SettingsError,
  type BrokerSettings,
  type NamesrvSettings,
} from '../config';
import { loadConfigFile, parseSetOptions, splitSettings, type RawSettings } from './config-loader';

export const DEFAULT_DATA_DIR = './data';

/** Flags shared by `start`, `namesrv` and `broker`; undefined = not given on the command line. */
export interface ServerFlags {
  host?: string;
  dataDir?: string;
  config?: string;
  set?: string[];
}

export interface StartFlags extends ServerFlags {
  namesrvPort?: string;
  brokerPort?: string;
  flush?: string;
}

export interface BrokerFlags extends ServerFlags {
  namesrv?: string;
  cluster?: string;
  name?: string;
  id?: string;
  port?: string;
  flush?: string;
}

export interface NamesrvFlags extends ServerFlags {
  port?: string;
}

export function parseFlushFlag(value: string): 'ASYNC_FLUSH' | 'SYNC_FLUSH' {
  const v = value.trim().toLowerCase();
  if (v === 'async' || v === 'async_flush') return 'ASYNC_FLUSH';
  if (v === 'sync' || v === 'sync_flush') return 'SYNC_FLUSH';
  throw new SettingsError(`--flush must be async or sync, got "${value}"`);
}

export function parsePortFlag(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new SettingsError(`${flag} must be a port number 0-65535 (0 = any free port), got "${value}"`);
  }
  return n;
}

/** True for wildcard listen addresses, which cannot be advertised to clients. */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

function dataDirLayer(dataDir: string): { broker: RawSettings; namesrv: RawSettings } {
  const root = path.resolve(dataDir);
  return {
    broker: { storePathRootDir: path.join(root, 'store') },
    namesrv: { kvConfigPath: path.join(root, 'namesrv', 'kvConfig.json') },
  };
}

function fileAndSetLayers(flags: ServerFlags): { broker: RawSettings; namesrv: RawSettings } {
  const fromFile = flags.config ? splitSettings(loadConfigFile(flags.config)) : { broker: {}, namesrv: {} };
  const fromSet = splitSettings(parseSetOptions(flags.set ?? []));
  return {
    broker: { ...fromFile.broker, ...fromSet.broker },
    namesrv: { ...fromFile.namesrv, ...fromSet.namesrv },
  };
}

function hostLayer(host: string | undefined): { broker: RawSettings; namesrv: RawSettings } {
  if (host === undefined) return { broker: {}, namesrv: {} };
  const broker: RawSettings = { listenHost: host };
  if (!isWildcardHost(host)) broker.brokerIP1 = host;
  return { broker, namesrv: { listenHost: host } };
}

function absolutePaths<T extends { storePathRootDir?: string; kvConfigPath?: string }>(s: T): T {
  const out = { ...s };
  if (out.storePathRootDir !== undefined) out.storePathRootDir = path.resolve(out.storePathRootDir);
  if (out.kvConfigPath !== undefined) out.kvConfigPath = path.resolve(out.kvConfigPath);
  return out;
}

export interface StartSettings {
  broker: BrokerSettings;
  namesrv: NamesrvSettings;
  /** Absolute data dir (shown in the ready line). */
  dataDir: string;
}

/** Settings for `rocketry start` (NameServer + broker in one process). */
export function buildStartSettings(flags: StartFlags): StartSettings {
  const dataDir = path.resolve(flags.dataDir ?? DEFAULT_DATA_DIR);
  const defaults = dataDirLayer(dataDir);
  const layers = fileAndSetLayers(flags);
  const explicit = flags.dataDir !== undefined ? dataDirLayer(flags.dataDir) : { broker: {}, namesrv: {} };
  const host = hostLayer(flags.host);
  const brokerFlags: RawSettings = { ...explicit.broker, ...host.broker };
  if (flags.brokerPort !== undefined) brokerFlags.listenPort = parsePortFlag('--broker-port', flags.brokerPort);
  if (flags.flush !== undefined) brokerFlags.flushDiskType = parseFlushFlag(flags.flush);
  const namesrvFlags: RawSettings = { ...explicit.namesrv, ...host.namesrv };
  if (flags.namesrvPort !== undefined) namesrvFlags.listenPort = parsePortFlag('--namesrv-port', flags.namesrvPort);

  const broker = resolveBrokerSettings({ ...defaults.broker, ...layers.broker, ...brokerFlags }, defaultBrokerSettings());
  const namesrv = resolveNamesrvSettings({ ...defaults.namesrv, ...layers.namesrv, ...namesrvFlags }, defaultNamesrvSettings());
  return { broker: absolutePaths(broker), namesrv: absolutePaths(namesrv), dataDir };
}

/** Settings for `rocketry namesrv`. Broker-only keys in the file or --set are rejected. */
export function buildNamesrvSettings(flags: NamesrvFlags): { namesrv: NamesrvSettings; dataDir: string } {
  const dataDir = path.resolve(flags.dataDir ?? DEFAULT_DATA_DIR);
  const raw: RawSettings = { ...dataDirLayer(dataDir).namesrv };
  const fromFile = flags.config ? loadConfigFile(flags.config) : {};
  Object.assign(raw, stripPrefix(fromFile, 'namesrv.'), stripPrefix(parseSetOptions(flags.set ?? []), 'namesrv.'));
  if (flags.dataDir !== undefined) Object.assign(raw, dataDirLayer(flags.dataDir).namesrv);
  if (flags.host !== undefined) raw.listenHost = flags.host;
  if (flags.port !== undefined) raw.listenPort = parsePortFlag('--port', flags.port);
  return { namesrv: absolutePaths(resolveNamesrvSettings(raw)), dataDir };
}

/** Settings for `rocketry broker`. NameServer-only keys are rejected. */
export function buildBrokerSettings(flags: BrokerFlags): { broker: BrokerSettings; dataDir: string } {
  const dataDir = path.resolve(flags.dataDir ?? DEFAULT_DATA_DIR);
  const raw: RawSettings = { ...dataDirLayer(dataDir).broker };
  const fromFile = flags.config ? loadConfigFile(flags.config) : {};
  Object.assign(raw, stripPrefix(fromFile, 'broker.'), stripPrefix(parseSetOptions(flags.set ?? []), 'broker.'));
  if (flags.dataDir !== undefined) Object.assign(raw, dataDirLayer(flags.dataDir).broker);
  Object.assign(raw, hostLayer(flags.host).broker);
  if (flags.namesrv !== undefined) raw.namesrvAddr = flags.namesrv;
  if (flags.cluster !== undefined) raw.brokerClusterName = flags.cluster;
  if (flags.name !== undefined) raw.brokerName = flags.name;
  if (flags.id !== undefined) raw.brokerId = flags.id;
  if (flags.port !== undefined) raw.listenPort = parsePortFlag('--port', flags.port);
  if (flags.flush !== undefined) raw.flushDiskType = parseFlushFlag(flags.flush);
  return { broker: absolutePaths(resolveBrokerSettings(raw)), dataDir };
}

function stripPrefix(raw: RawSettings, prefix: string): RawSettings {
  const out: RawSettings = {};
  for (const [k, v] of Object.entries(raw)) out[k.startsWith(prefix) ? k.slice(prefix.length) : k] = v;
  return out;
}
