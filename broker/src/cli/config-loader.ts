/**
 * Reads settings sources for the CLI: RocketMQ-style `key=value` properties files (broker.conf /
 * namesrv.conf), JSON files, and repeated `--set key=value`. Everything stays raw here (strings, or
 * JSON scalars); `config.ts` coerces and validates. Keys are split between broker and NameServer by
 * the names each settings type holds, so one file can configure `rocketry start`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { defaultBrokerSettings, defaultNamesrvSettings, SettingsError } from '../config';

export type RawValue = string | number | boolean;
export type RawSettings = Record<string, RawValue>;

/** Bound on config file size: a settings file is small; anything bigger is a mistake. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/**
 * Java-properties subset that broker.conf files use: `key=value` or `key: value` per line, `#` and `!`
 * comments, blank lines, surrounding whitespace trimmed. Later keys win. Throws SettingsError with the
 * line number on a line that has no separator.
 */
export function parseProperties(text: string, source = 'properties'): RawSettings {
  const out: RawSettings = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const sep = line.search(/[=:]/);
    if (sep <= 0) throw new SettingsError(`${source}:${i + 1}: expected key=value, got "${line}"`);
    const key = line.slice(0, sep).trim();
    const value = line.slice(sep + 1).trim();
    if (key === '') throw new SettingsError(`${source}:${i + 1}: empty key`);
    out[key] = value;
  }
  return out;
}

/** A flat JSON object of scalars: `{"brokerName":"b","listenPort":10911,"autoCreateTopicEnable":true}`. */
export function parseJsonSettings(text: string, source = 'json'): RawSettings {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new SettingsError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SettingsError(`${source}: expected a JSON object of settings`);
  }
  const out: RawSettings = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new SettingsError(`${source}: setting "${key}" must be a string, number or boolean`);
    }
    out[key] = value;
  }
  return out;
}

/** Loads a `.json` file as JSON, anything else as properties. */
export function loadConfigFile(file: string): RawSettings {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new SettingsError(`config file ${file} does not exist`);
  }
  if (!stat.isFile()) throw new SettingsError(`config file ${file} is not a file`);
  if (stat.size > MAX_CONFIG_FILE_BYTES) throw new SettingsError(`config file ${file} is larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
  const text = fs.readFileSync(file, 'utf8');
  return path.extname(file).toLowerCase() === '.json' ? parseJsonSettings(text, file) : parseProperties(text, file);
}

/** `--set key=value` entries (repeatable); the value may itself contain `=`. */
export function parseSetOptions(entries: readonly string[]): RawSettings {
  const out: RawSettings = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new SettingsError(`--set expects key=value, got "${entry}"`);
    out[entry.slice(0, eq).trim()] = entry.slice(eq + 1).trim();
  }
  return out;
}

export interface SplitSettings {
  broker: RawSettings;
  namesrv: RawSettings;
}

/** Keys both settings types hold that a combined `start` sends to both processes' halves. */
const SHARED_KEYS = new Set(['maxFrameBytes']);

/**
 * Splits one raw map between broker and NameServer. `namesrv.<key>` / `broker.<key>` target one side
 * explicitly; an unprefixed key goes to the broker when the broker has it (so `listenPort` means the
 * broker port, as in broker.conf), else to the NameServer. Unknown keys throw with the known names.
 */
export function splitSettings(raw: RawSettings): SplitSettings {
  const brokerKeys = new Set(Object.keys(defaultBrokerSettings()));
  const namesrvKeys = new Set(Object.keys(defaultNamesrvSettings()));
  const out: SplitSettings = { broker: {}, namesrv: {} };
  for (const [fullKey, value] of Object.entries(raw)) {
    const [side, key] = targetOf(fullKey);
    if (side === 'namesrv' || (side === undefined && !brokerKeys.has(key) && namesrvKeys.has(key))) {
      if (!namesrvKeys.has(key)) throw unknownKey(fullKey, namesrvKeys, 'NameServer');
      out.namesrv[key] = value;
      continue;
    }
    if (!brokerKeys.has(key)) {
      if (side === 'broker') throw unknownKey(fullKey, brokerKeys, 'broker');
      throw unknownKey(fullKey, new Set([...brokerKeys, ...namesrvKeys]), 'broker or NameServer');
    }
    out.broker[key] = value;
    if (side === undefined && SHARED_KEYS.has(key) && namesrvKeys.has(key)) out.namesrv[key] = value;
  }
  return out;
}

function targetOf(fullKey: string): [side: 'broker' | 'namesrv' | undefined, key: string] {
  if (fullKey.startsWith('namesrv.')) return ['namesrv', fullKey.slice('namesrv.'.length)];
  if (fullKey.startsWith('broker.')) return ['broker', fullKey.slice('broker.'.length)];
  return [undefined, fullKey];
}

function unknownKey(key: string, known: Set<string>, kind: string): SettingsError {
  const near = [...known].filter((k) => k.toLowerCase() === key.toLowerCase() || k.toLowerCase().includes(key.toLowerCase()));
  const hint = near.length > 0 ? ` (did you mean ${near.slice(0, 3).join(', ')}?)` : '';
  return new SettingsError(`unknown ${kind} setting "${key}"${hint}`);
}
