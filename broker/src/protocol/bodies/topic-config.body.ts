/**
 * Broker → NameServer registration bodies: TopicConfig, DataVersion, TopicConfigSerializeWrapper,
 * RegisterBrokerBody (plain JSON and the compressed form).
 *
 * Compressed RegisterBrokerBody (`RegisterBrokerBody.encode(true)`), zlib-deflated stream of:
 *   int32 len + DataVersion JSON
 *   int32 topicCount, then per topic: int32 len + TopicConfig.encode() text
 *        "name read write perm filterType[ attributesJson]" (space separated; topicSysFlag/order are NOT carried)
 *   int32 len + filterServerList JSON array
 *   int32 mappingCount, then per mapping: int32 len + TopicQueueMappingInfo JSON   (5.x; absent from 4.x senders)
 */
import * as zlib from 'node:zlib';
import { PermName } from '../message-const';
import { asObject, type JsonObject, optBool, optInt, optString, reqInt, reqString, stringArray, stringMap } from './body-shape';
import { BodyError, parseLenientJson, toFastJson, toFastJsonBuffer } from './fastjson';

export const TopicFilterType = { SINGLE_TAG: 'SINGLE_TAG', MULTI_TAG: 'MULTI_TAG' } as const;

export interface TopicConfig {
  topicName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicFilterType: string;
  topicSysFlag: number;
  order: boolean;
  attributes?: Record<string, string>;
}

export interface DataVersion {
  /** 5.x only. */
  stateVersion?: number;
  timestamp: number;
  counter: number;
}

export interface TopicConfigSerializeWrapper {
  topicConfigTable: Record<string, TopicConfig>;
  dataVersion: DataVersion;
  /** 5.x static-topic fields, passed through untouched. */
  topicQueueMappingInfoMap?: Record<string, unknown>;
  topicQueueMappingDetailMap?: Record<string, unknown>;
  mappingDataVersion?: DataVersion;
}

export interface RegisterBrokerBody {
  topicConfigSerializeWrapper: TopicConfigSerializeWrapper;
  filterServerList: string[];
}

/** Java defaults (`TopicConfig` fields). */
export function newTopicConfig(topicName: string, fields: Partial<Omit<TopicConfig, 'topicName'>> = {}): TopicConfig {
  return {
    topicName,
    readQueueNums: 16,
    writeQueueNums: 16,
    perm: PermName.READ | PermName.WRITE,
    topicFilterType: TopicFilterType.SINGLE_TAG,
    topicSysFlag: 0,
    order: false,
    ...fields,
  };
}

export function decodeTopicConfig(v: unknown, path = 'topicConfig'): TopicConfig {
  const o = asObject(v, path);
  const tc: TopicConfig = {
    topicName: reqString(o, 'topicName', path),
    readQueueNums: reqInt(o, 'readQueueNums', path),
    writeQueueNums: reqInt(o, 'writeQueueNums', path),
    perm: reqInt(o, 'perm', path),
    topicFilterType: optString(o, 'topicFilterType', path) ?? TopicFilterType.SINGLE_TAG,
    topicSysFlag: optInt(o, 'topicSysFlag', path) ?? 0,
    order: optBool(o, 'order', path) ?? false,
  };
  if (o.attributes !== undefined && o.attributes !== null) tc.attributes = stringMap(o.attributes, `${path}.attributes`);
  return tc;
}

export function decodeDataVersion(v: unknown, path = 'dataVersion'): DataVersion {
  const o = asObject(v, path);
  const dv: DataVersion = { timestamp: reqInt(o, 'timestamp', path), counter: optInt(o, 'counter', path) ?? 0 };
  const sv = optInt(o, 'stateVersion', path);
  if (sv !== undefined) dv.stateVersion = sv;
  return dv;
}

export function encodeDataVersion(dv: DataVersion): Buffer {
  return toFastJsonBuffer(dv);
}

/** Same version: Java DataVersion.equals compares timestamp and counter (and stateVersion in 5.x). */
export function sameDataVersion(a: DataVersion, b: DataVersion): boolean {
  return a.timestamp === b.timestamp && a.counter === b.counter && (a.stateVersion ?? 0) === (b.stateVersion ?? 0);
}

export function decodeTopicConfigSerializeWrapper(v: unknown, path = 'topicConfigSerializeWrapper'): TopicConfigSerializeWrapper {
  const o: JsonObject = asObject(v, path);
  const table: Record<string, TopicConfig> = {};
  for (const [k, tc] of Object.entries(asObject(o.topicConfigTable ?? {}, `${path}.topicConfigTable`))) {
    table[k] = decodeTopicConfig(tc, `${path}.topicConfigTable.${k}`);
  }
  const w: TopicConfigSerializeWrapper = {
    topicConfigTable: table,
    dataVersion: o.dataVersion === undefined || o.dataVersion === null ? { timestamp: 0, counter: 0 } : decodeDataVersion(o.dataVersion, `${path}.dataVersion`),
  };
  if (o.topicQueueMappingInfoMap) w.topicQueueMappingInfoMap = asObject(o.topicQueueMappingInfoMap, `${path}.topicQueueMappingInfoMap`);
  if (o.topicQueueMappingDetailMap) w.topicQueueMappingDetailMap = asObject(o.topicQueueMappingDetailMap, `${path}.topicQueueMappingDetailMap`);
  if (o.mappingDataVersion) w.mappingDataVersion = decodeDataVersion(o.mappingDataVersion, `${path}.mappingDataVersion`);
  return w;
}

export function encodeTopicConfigSerializeWrapper(w: TopicConfigSerializeWrapper): Buffer {
  return toFastJsonBuffer(w);
}

/** `TopicConfig.encode()`: "name read write perm filterType" (4.x form; 4.x decoders need exactly 5 parts). */
export function encodeTopicConfigText(tc: TopicConfig): string {
  return `${tc.topicName} ${tc.readQueueNums} ${tc.writeQueueNums} ${tc.perm} ${tc.topicFilterType}`;
}

/** `TopicConfig.decode()`: 5 parts, or 6 with a 5.x attributes JSON. Returns undefined when malformed. */
export function decodeTopicConfigText(text: string): TopicConfig | undefined {
  const parts = text.split(' ');
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop(); // Java split drops trailing empties
  if (parts.length < 5) return undefined;
  const [name, r, w, p, filter] = parts as [string, string, string, string, string];
  const nums = [r, w, p].map((x) => (/^-?\d+$/.test(x) ? Number(x) : NaN));
  if (nums.some((n) => Number.isNaN(n)) || (filter !== TopicFilterType.SINGLE_TAG && filter !== TopicFilterType.MULTI_TAG)) return undefined;
  const tc = newTopicConfig(name, { readQueueNums: nums[0]!, writeQueueNums: nums[1]!, perm: nums[2]!, topicFilterType: filter });
  if (parts.length >= 6) {
    try {
      tc.attributes = stringMap(JSON.parse(parts.slice(5).join(' ')), 'attributes');
    } catch {
      // Java logs and ignores bad attributes.
    }
  }
  return tc;
}

export function encodeRegisterBrokerBody(body: RegisterBrokerBody, compressed = false): Buffer {
  if (!compressed) return toFastJsonBuffer(body);
  const parts: Buffer[] = [];
  const pushBlock = (b: Buffer) => {
    const len = Buffer.allocUnsafe(4);
    len.writeInt32BE(b.length, 0);
    parts.push(len, b);
  };
  const pushInt = (n: number) => {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(n, 0);
    parts.push(b);
  };
  const w = body.topicConfigSerializeWrapper;
  pushBlock(encodeDataVersion(w.dataVersion));
  const topics = Object.values(w.topicConfigTable);
  pushInt(topics.length);
  for (const tc of topics) pushBlock(Buffer.from(encodeTopicConfigText(tc), 'utf8'));
  pushBlock(Buffer.from(toFastJson(body.filterServerList ?? []), 'utf8'));
  // 5.x decoders read a mapping count; 4.x ignore trailing bytes, so always write it.
  const mappings = Object.values(w.topicQueueMappingInfoMap ?? {});
  pushInt(mappings.length);
  for (const m of mappings) pushBlock(Buffer.from(toFastJson(m), 'utf8'));
  return zlib.deflateSync(Buffer.concat(parts), { level: zlib.constants.Z_BEST_COMPRESSION });
}

export interface DecodeRegisterBodyOptions {
  /** Bound for the inflated size (a bomb guard). Default 64 MiB. */
  maxInflatedBytes?: number;
}

/** Decodes either form. Throws BodyError on malformed input. */
export function decodeRegisterBrokerBody(data: Buffer, compressed: boolean, opts: DecodeRegisterBodyOptions = {}): RegisterBrokerBody {
  if (!compressed) {
    const o = asObject(parseLenientJson(data), 'registerBrokerBody');
    return {
      topicConfigSerializeWrapper: decodeTopicConfigSerializeWrapper(o.topicConfigSerializeWrapper ?? {}, 'registerBrokerBody.topicConfigSerializeWrapper'),
      filterServerList: stringArray(o.filterServerList, 'registerBrokerBody.filterServerList'),
    };
  }
  let raw: Buffer;
  try {
    raw = zlib.inflateSync(data, { maxOutputLength: opts.maxInflatedBytes ?? 64 * 1024 * 1024 });
  } catch (err) {
    throw new BodyError(`compressed register body does not inflate: ${(err as Error).message}`);
  }
  let p = 0;
  const readInt = (what: string): number => {
    if (p + 4 > raw.length) throw new BodyError(`compressed register body truncated at ${what}`);
    const n = raw.readInt32BE(p);
    p += 4;
    if (n < 0) throw new BodyError(`negative ${what}: ${n}`);
    return n;
  };
  const readBlock = (what: string): string => {
    const n = readInt(`${what} length`);
    if (p + n > raw.length) throw new BodyError(`compressed register body truncated in ${what}`);
    const s = raw.toString('utf8', p, p + n);
    p += n;
    return s;
  };
  const dataVersion = decodeDataVersion(parseLenientJson(readBlock('dataVersion')));
  const topicCount = readInt('topic count');
  const topicConfigTable: Record<string, TopicConfig> = {};
  for (let i = 0; i < topicCount; i++) {
    const text = readBlock(`topic config ${i}`);
    const tc = decodeTopicConfigText(text);
    if (!tc) throw new BodyError(`bad topic config text: ${JSON.stringify(text.slice(0, 200))}`);
    topicConfigTable[tc.topicName] = tc;
  }
  const filterServerList = stringArray(parseLenientJson(readBlock('filterServerList')), 'filterServerList');
  const wrapper: TopicConfigSerializeWrapper = { topicConfigTable, dataVersion };
  if (p < raw.length) {
    const mappingCount = readInt('mapping count');
    const map: Record<string, unknown> = {};
    for (let i = 0; i < mappingCount; i++) {
      const info = asObject(parseLenientJson(readBlock(`mapping ${i}`)), `mapping[${i}]`);
      map[String(info.topic ?? i)] = info;
    }
    if (mappingCount > 0) wrapper.topicQueueMappingInfoMap = map;
  }
  return { topicConfigSerializeWrapper: wrapper, filterServerList };
}

/** TopicConfigSerializeWrapper for topics.json-style persistence or GET_ALL_TOPIC_CONFIG. */
export function decodeTopicConfigSerializeWrapperBody(body: Buffer | string): TopicConfigSerializeWrapper {
  return decodeTopicConfigSerializeWrapper(parseLenientJson(body));
}
