import { isIPv6 } from 'node:net';
import * as zlib from 'node:zlib';
import { MessageSysFlag } from './message-const';
import { ProtocolError } from './protocol-error';

/**
 * CONTRACT (owned by the protocol module). Stored / pulled message record, §3.1 of remoting-protocol.md.
 *
 *  off  size  field
 *   0    4    TOTALSIZE            whole record incl. this field
 *   4    4    MAGICCODE            V1 0xDAA320A7 | V2 0xDAA320AB | BLANK 0xCBD43194
 *   8    4    BODYCRC              crc32(body) & 0x7fffffff
 *  12    4    QUEUEID
 *  16    4    FLAG
 *  20    8    QUEUEOFFSET
 *  28    8    PHYSICALOFFSET
 *  36    4    SYSFLAG
 *  40    8    BORNTIMESTAMP
 *  48   8/20  BORNHOST             ipv4: 4 ip + 4 port; ipv6 (sysFlag 0x10): 16 ip + 4 port
 *   .    8    STORETIMESTAMP
 *   .   8/20  STOREHOST            ipv6 when sysFlag 0x20
 *   .    4    RECONSUMETIMES
 *   .    8    PREPAREDTRANSACTIONOFFSET
 *   .   4+n   BODY                 int32 len + bytes
 *   .   1+t   TOPIC                V1: uint8 len; V2: int16 len
 *   .   2+p   PROPERTIES           int16 len + "k\u0001v\u0002..."
 */

export interface HostAddress {
  /** Dotted IPv4 or IPv6 text. IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is normalised to IPv4. */
  host: string;
  port: number;
}

/** Everything a record carries; offsets are JS numbers (CommitLog offsets stay far below 2^53). */
export interface MessageRecord {
  /** Bytes of the record as stored (set by decode / encode). */
  totalSize: number;
  magic: number;
  bodyCrc: number;
  queueId: number;
  flag: number;
  queueOffset: number;
  physicalOffset: number;
  sysFlag: number;
  bornTimestamp: number;
  bornHost: HostAddress;
  storeTimestamp: number;
  storeHost: HostAddress;
  reconsumeTimes: number;
  preparedTransactionOffset: number;
  body: Buffer;
  topic: string;
  properties: Record<string, string>;
}

// =============================================================================================
// Codec

/** Magic codes as unsigned 32-bit numbers (Java's signed ints -626843481 / -626843477 / -875286124). */
export const MESSAGE_MAGIC_CODE_V1 = 0xdaa320a7;
export const MESSAGE_MAGIC_CODE_V2 = 0xdaa320ab;
export const BLANK_MAGIC_CODE = 0xcbd43194;

/**
 * Fixed field offsets. Everything up to BORNHOST is at a fixed position; later fields move by 12
 * bytes for each IPv6 host (see storeTimestampPosition / the sysFlag bits).
 */
export const RecordOffset = {
  TOTALSIZE: 0,
  MAGICCODE: 4,
  BODYCRC: 8,
  QUEUEID: 12,
  FLAG: 16,
  QUEUEOFFSET: 20,
  PHYSICALOFFSET: 28,
  SYSFLAG: 36,
  BORNTIMESTAMP: 40,
  BORNHOST: 48,
  /** Only with an IPv4 born host. */
  STORETIMESTAMP_V4: 56,
  /** Only with IPv4 born and store hosts. */
  STOREHOST_V4: 64,
  RECONSUMETIMES_V4: 72,
  PREPAREDTRANSACTIONOFFSET_V4: 76,
  BODYLENGTH_V4: 84,
} as const;

const IPV4_HOST_BYTES = 4 + 4;
const IPV6_HOST_BYTES = 16 + 4;

/**
 * Fixed part of a V1 record with IPv4 hosts, i.e. the size with empty body/topic/properties:
 * 4 total + 4 magic + 4 crc + 4 qid + 4 flag + 8 qoff + 8 phys + 4 sysflag + 8 born + 8 bornhost
 * + 8 store + 8 storehost + 4 reconsume + 8 prepared + 4 bodylen + 1 topiclen + 2 propslen = 91.
 */
export const RECORD_FIXED_BYTES_V1_IPV4 = 91;
const FIXED_BEFORE_HOSTS = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8; // 48
const FIXED_BETWEEN_HOSTS = 8; // STORETIMESTAMP
const FIXED_AFTER_HOSTS = 4 + 8 + 4 + 2; // reconsume + prepared + bodylen + propslen (topic len added per version)
if (FIXED_BEFORE_HOSTS !== RecordOffset.BORNHOST) throw new Error('record layout: fixed prefix mismatch');
if (FIXED_BEFORE_HOSTS + 2 * IPV4_HOST_BYTES + FIXED_BETWEEN_HOSTS + FIXED_AFTER_HOSTS + 1 !== RECORD_FIXED_BYTES_V1_IPV4) {
  throw new Error('record layout: V1/IPv4 fixed size mismatch');
}
/** Smallest record any version can be (V1, IPv4 hosts, empty everything). */
export const MIN_RECORD_BYTES = RECORD_FIXED_BYTES_V1_IPV4;
/** A BLANK (end-of-file) record is at least TOTALSIZE + MAGICCODE (`END_FILE_MIN_BLANK_LENGTH`). */
export const BLANK_RECORD_MIN_BYTES = 8;
/** Properties length is an int16 (`PROPERTIES_SIZE_EXCEEDED` above it). */
export const MAX_PROPERTIES_BYTES = 32767;
/** Topics longer than this (in bytes) force a V2 record (1-byte topic length in V1). */
export const MAX_V1_TOPIC_BYTES = 127;

export const NAME_VALUE_SEPARATOR = '\u0001';
export const PROPERTY_SEPARATOR = '\u0002';

/** Byte position of STORETIMESTAMP inside a record with the given sysFlag. */
export function storeTimestampPosition(sysFlag: number): number {
  return RecordOffset.BORNHOST + ((sysFlag & MessageSysFlag.BORNHOST_V6) !== 0 ? IPV6_HOST_BYTES : IPV4_HOST_BYTES);
}

/** Byte position of STOREHOST inside a record with the given sysFlag. */
export function storeHostPosition(sysFlag: number): number {
  return storeTimestampPosition(sysFlag) + 8;
}

// ---------------------------------------------------------------------------------------------
// int64 helpers: exact for |v| < 2^53 without BigInt allocation.

const TWO_32 = 0x1_0000_0000;

/** Big-endian int32 by plain byte stores: the record writers' hot path (no range checks; callers pass int32s). */
function putInt32(buf: Buffer, value: number, pos: number): number {
  buf[pos] = value >>> 24;
  buf[pos + 1] = value >>> 16;
  buf[pos + 2] = value >>> 8;
  buf[pos + 3] = value;
  return pos + 4;
}

export function writeInt64(buf: Buffer, value: number, pos: number): number {
  const hi = Math.floor(value / TWO_32);
  putInt32(buf, hi | 0, pos);
  return putInt32(buf, (value - hi * TWO_32) >>> 0, pos + 4);
}

export function readInt64(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos) * TWO_32 + buf.readUInt32BE(pos + 4);
}

// ---------------------------------------------------------------------------------------------
// Properties

/**
 * `k\u0001v\u0002` per entry, trailing separator kept (as Java 4.x and ali-ons write it).
 * null/undefined values are skipped like Java's `messageProperties2String`.
 */
export function encodeProperties(properties: Record<string, string | undefined | null> | undefined): string {
  if (!properties) return '';
  let out = '';
  for (const key in properties) {
    const value = properties[key];
    if (value === undefined || value === null) continue;
    out += key + NAME_VALUE_SEPARATOR + value + PROPERTY_SEPARATOR;
  }
  return out;
}

/**
 * Why `properties` cannot be stored as given, or undefined. A name holding a separator, or a value
 * holding `\u0002`, would decode from the record as different properties (e.g. inject a TAGS the
 * ConsumeQueue tagsCode was not computed from); lone surrogates do not survive UTF-8.
 */
export function propertiesProblem(properties: Record<string, string | undefined | null> | undefined): string | undefined {
  if (!properties) return undefined;
  for (const key in properties) {
    const value = properties[key];
    if (value === undefined || value === null) continue;
    if (key.includes(NAME_VALUE_SEPARATOR) || key.includes(PROPERTY_SEPARATOR)) return `property name ${JSON.stringify(key)} contains a separator character (\\u0001 or \\u0002)`;
    if (value.includes(PROPERTY_SEPARATOR)) return `property ${key} contains the separator character \\u0002`;
    // Lone UTF-16 surrogates become U+FFFD in UTF-8: the stored text would differ from the map.
    if (!key.isWellFormed() || !value.isWellFormed()) return `property ${key} is not well-formed UTF-16 (lone surrogate)`;
  }
  return undefined;
}

/** Java `string2messageProperties`: keeps only entries whose name AND value are non-empty. */
export function decodeProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const len = text.length;
  let start = 0;
  while (start < len) {
    let end = text.indexOf(PROPERTY_SEPARATOR, start);
    if (end < 0) end = len;
    const sep = text.indexOf(NAME_VALUE_SEPARATOR, start);
    if (sep > start && sep < end - 1) out[text.slice(start, sep)] = text.slice(sep + 1, end);
    start = end + 1;
  }
  return out;
}

/** Stored BODYCRC: CRC32 of the (possibly compressed) body, masked to a positive int32. */
export function computeBodyCrc(body: Uint8Array): number {
  return (zlib.crc32(body) & 0x7fffffff) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Hosts

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const hostCache = new Map<string, Buffer>();
const HOST_CACHE_MAX_ENTRIES = 4096;

export class HostAddressError extends ProtocolError {
  constructor(message: string) {
    super('HOST_INVALID', message);
    this.name = 'HostAddressError';
  }
}

function parseIpv4(text: string): Buffer | undefined {
  const m = IPV4_RE.exec(text);
  if (!m) return undefined;
  const out = Buffer.allocUnsafe(4);
  for (let i = 0; i < 4; i++) {
    const n = Number(m[i + 1]);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIpv6(text: string): Buffer | undefined {
  let s = text;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct); // zone id
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (!isIPv6(s)) return undefined;
  let tail4: Buffer | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) >= 0) {
    tail4 = parseIpv4(s.slice(lastColon + 1));
    if (!tail4) return undefined;
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const halves = s.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  const groups: string[] = halves.length > 1 ? [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail] : head;
  if (groups.length !== 8) return undefined;
  const out = Buffer.allocUnsafe(16);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(parseInt(groups[i]!, 16), i * 2);
  if (tail4) tail4.copy(out, 12);
  return out;
}

const IPV4_MAPPED_PREFIX = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

/**
 * Raw address bytes for a host: 4 bytes for IPv4 (including IPv4-mapped IPv6), 16 for IPv6.
 * Cached (bounded) because a store encodes the same few hosts for every message.
 */
export function hostToBytes(host: string): Buffer {
  const cached = hostCache.get(host);
  if (cached) return cached;
  let bytes = parseIpv4(host);
  if (!bytes) {
    const v6 = parseIpv6(host);
    if (!v6) throw new HostAddressError(`not an IP address: ${JSON.stringify(host)}`);
    bytes = v6.subarray(0, 12).equals(IPV4_MAPPED_PREFIX) ? Buffer.from(v6.subarray(12)) : v6;
  }
  if (hostCache.size >= HOST_CACHE_MAX_ENTRIES) hostCache.clear();
  hostCache.set(host, bytes);
  return bytes;
}

/** Text form of 4 or 16 address bytes (IPv6 in RFC 5952 compressed form, IPv4-mapped → IPv4). */
export function bytesToHost(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) throw new HostAddressError(`address must be 4 or 16 bytes, got ${bytes.length}`);
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, 16);
  if (b.subarray(0, 12).equals(IPV4_MAPPED_PREFIX)) return bytesToHost(b.subarray(12));
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(i * 2));
  // Longest run of zero groups (length >= 2) becomes '::'.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** True when the host must be written in the 16-byte form. */
export function isIpv6Host(host: string): boolean {
  return hostToBytes(host).length === 16;
}

/** Normalises a host string (IPv4-mapped IPv6 → IPv4, IPv6 compressed). Throws HostAddressError. */
export function normaliseHost(host: string): string {
  return bytesToHost(hostToBytes(host));
}

/** `host:port` text; IPv6 hosts are bracketed. */
export function formatHostAddress(addr: HostAddress): string {
  return addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}

/** Parses `host:port`, `[v6]:port` or a bare `v6:port` (last colon splits). */
export function parseHostAddress(text: string): HostAddress {
  const idx = text.lastIndexOf(':');
  if (idx <= 0) throw new HostAddressError(`not host:port: ${JSON.stringify(text)}`);
  let host = text.slice(0, idx);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const port = Number(text.slice(idx + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new HostAddressError(`bad port in ${JSON.stringify(text)}`);
  return { host, port };
}

// ---------------------------------------------------------------------------------------------
// Encode

/** What encodeMessageRecord needs; totalSize/magic are computed, bodyCrc computed when absent. */
export interface MessageRecordInput {
  queueId: number;
  flag: number;
  queueOffset: number;
  physicalOffset: number;
  /** Host bits (0x10 / 0x20) are recomputed from the hosts; the rest is written as given. */
  sysFlag: number;
  bornTimestamp: number;
  bornHost: HostAddress;
  storeTimestamp: number;
  storeHost: HostAddress;
  reconsumeTimes: number;
  preparedTransactionOffset: number;
  body: Buffer;
  topic: string;
  /** A map, or an already-encoded properties string (avoids re-encoding on the store's hot path). */
  properties: Record<string, string> | string;
  /** Precomputed CRC (e.g. checked on receipt); computed from body when absent. */
  bodyCrc?: number;
}

export class MessageRecordError extends ProtocolError {
  constructor(
    message: string,
    /** 'too-large' for limits a client can hit (topic/properties size); 'invalid' otherwise. */
    readonly kind: 'too-large' | 'invalid' = 'invalid',
  ) {
    super(kind === 'too-large' ? 'RECORD_TOO_LARGE' : 'RECORD_INVALID', message);
    this.name = 'MessageRecordError';
  }
}

/** Precomputed pieces so a caller can learn the size before writing (e.g. to fit a file). */
export interface PreparedRecord {
  totalSize: number;
  magic: number;
  sysFlag: number;
  bornIp: Buffer;
  storeIp: Buffer;
  topic: Buffer;
  /** Encoded properties, written in place (no intermediate buffer). */
  propertiesText: string;
  propertiesBytes: number;
  input: MessageRecordInput;
}

/** Consecutive records mostly share a topic: its bytes are encoded once. */
let lastTopicText = '';
let lastTopicBytes = Buffer.alloc(0);

function topicBytes(topic: string): Buffer {
  if (topic !== lastTopicText) {
    lastTopicBytes = Buffer.from(topic, 'utf8');
    lastTopicText = topic;
  }
  return lastTopicBytes;
}

/**
 * Validates and measures a record without writing it. Throws MessageRecordError for a topic over
 * 32767 bytes or properties over 32767 bytes, HostAddressError for an unparseable host.
 */
export function prepareMessageRecord(input: MessageRecordInput): PreparedRecord {
  const topic = topicBytes(input.topic);
  const propertiesText = typeof input.properties === 'string' ? input.properties : encodeProperties(input.properties);
  const propertiesBytes = Buffer.byteLength(propertiesText, 'utf8');
  if (propertiesBytes > MAX_PROPERTIES_BYTES) {
    throw new MessageRecordError(`properties are ${propertiesBytes} bytes, limit ${MAX_PROPERTIES_BYTES}`, 'too-large');
  }
  if (topic.length > 32767) throw new MessageRecordError(`topic is ${topic.length} bytes, limit 32767`, 'too-large');
  const bornIp = hostToBytes(input.bornHost.host);
  const storeIp = hostToBytes(input.storeHost.host);
  let sysFlag = input.sysFlag & ~(MessageSysFlag.BORNHOST_V6 | MessageSysFlag.STOREHOST_V6);
  if (bornIp.length === 16) sysFlag |= MessageSysFlag.BORNHOST_V6;
  if (storeIp.length === 16) sysFlag |= MessageSysFlag.STOREHOST_V6;
  const v2 = topic.length > MAX_V1_TOPIC_BYTES;
  const totalSize =
    FIXED_BEFORE_HOSTS +
    bornIp.length +
    4 +
    FIXED_BETWEEN_HOSTS +
    storeIp.length +
    4 +
    FIXED_AFTER_HOSTS +
    input.body.length +
    (v2 ? 2 : 1) +
    topic.length +
    propertiesBytes;
  return { totalSize, magic: v2 ? MESSAGE_MAGIC_CODE_V2 : MESSAGE_MAGIC_CODE_V1, sysFlag, bornIp, storeIp, topic, propertiesText, propertiesBytes, input };
}

/** Writes a prepared record into `target` at `pos` (must have totalSize bytes free); returns the end position. */
export function writePreparedRecord(prep: PreparedRecord, target: Buffer, pos: number): number {
  const m = prep.input;
  const start = pos;
  let p = putInt32(target, prep.totalSize, pos);
  p = putInt32(target, prep.magic, p);
  p = putInt32(target, (m.bodyCrc ?? computeBodyCrc(m.body)) | 0, p);
  p = putInt32(target, m.queueId | 0, p);
  p = putInt32(target, m.flag | 0, p);
  p = writeInt64(target, m.queueOffset, p);
  p = writeInt64(target, m.physicalOffset, p);
  p = putInt32(target, prep.sysFlag | 0, p);
  p = writeInt64(target, m.bornTimestamp, p);
  p += prep.bornIp.copy(target, p);
  p = putInt32(target, m.bornHost.port | 0, p);
  p = writeInt64(target, m.storeTimestamp, p);
  p += prep.storeIp.copy(target, p);
  p = putInt32(target, m.storeHost.port | 0, p);
  p = putInt32(target, m.reconsumeTimes | 0, p);
  p = writeInt64(target, m.preparedTransactionOffset, p);
  p = putInt32(target, m.body.length, p);
  p += m.body.copy(target, p);
  if (prep.magic === MESSAGE_MAGIC_CODE_V2) p = target.writeInt16BE(prep.topic.length, p);
  else p = target.writeUInt8(prep.topic.length, p);
  p += prep.topic.copy(target, p);
  p = target.writeInt16BE(prep.propertiesBytes, p);
  p += target.write(prep.propertiesText, p, prep.propertiesBytes, 'utf8');
  if (p - start !== prep.totalSize) throw new Error(`record size mismatch: wrote ${p - start}, expected ${prep.totalSize}`);
  return p;
}

/**
 * Encodes one CommitLog record (V1 unless the topic is over 127 bytes). One allocation.
 * Hosts decide the sysFlag host bits; IPv4-mapped IPv6 hosts are written as IPv4.
 */
export function encodeMessageRecord(input: MessageRecordInput): Buffer {
  const prep = prepareMessageRecord(input);
  const buf = Buffer.allocUnsafe(prep.totalSize);
  writePreparedRecord(prep, buf, 0);
  return buf;
}

/**
 * Patches the store-assigned fields of an encoded record in place (the store encodes before it
 * knows where the record lands). `recordStart` is where the record begins inside `buf`.
 */
export function patchRecordOffsets(
  buf: Buffer,
  recordStart: number,
  queueOffset: number,
  physicalOffset: number,
  storeTimestamp: number,
): void {
  writeInt64(buf, queueOffset, recordStart + RecordOffset.QUEUEOFFSET);
  writeInt64(buf, physicalOffset, recordStart + RecordOffset.PHYSICALOFFSET);
  const sysFlag = buf.readInt32BE(recordStart + RecordOffset.SYSFLAG);
  writeInt64(buf, storeTimestamp, recordStart + storeTimestampPosition(sysFlag));
}

/** Writes a BLANK end-of-file record: TOTALSIZE = `size`, MAGIC = BLANK; the rest is left as is. */
export function writeBlankRecord(buf: Buffer, pos: number, size: number): void {
  if (size < BLANK_RECORD_MIN_BYTES) throw new Error(`blank record needs ${BLANK_RECORD_MIN_BYTES} bytes, got ${size}`);
  buf.writeInt32BE(size, pos);
  buf.writeUInt32BE(BLANK_MAGIC_CODE, pos + 4);
}

// ---------------------------------------------------------------------------------------------
// Check / decode

/** What sits at a position of a CommitLog buffer (the recovery scan's three-way answer, plus END). */
export const RecordStatus = {
  /** A complete, well-formed record of `size` bytes. */
  VALID: 'valid',
  /** BLANK filler: the rest of the file (`size` bytes) is unused. */
  BLANK: 'blank',
  /** TOTALSIZE 0 or fewer than 8 bytes left: no more data (pre-allocated zeroes). */
  END: 'end',
  /** Torn or corrupt: bad magic, lengths that do not add up, truncated, or CRC mismatch. */
  INVALID: 'invalid',
} as const;
export type RecordStatusValue = (typeof RecordStatus)[keyof typeof RecordStatus];

export interface RecordCheck {
  status: RecordStatusValue;
  /** Record size for VALID/BLANK, else 0. */
  size: number;
  /** Why INVALID. */
  reason?: string;
}

export interface CheckRecordOptions {
  /** Recompute the body CRC (costly; recovery of the last files does it). Default false. */
  verifyCrc?: boolean;
}

const END_CHECK: RecordCheck = { status: RecordStatus.END, size: 0 };

function invalid(reason: string): RecordCheck {
  return { status: RecordStatus.INVALID, size: 0, reason };
}

/**
 * Structural check of the record at `offset` without decoding strings: sizes, magic and the
 * chain of inner lengths must add up exactly to TOTALSIZE (Java `checkMessageAndReturnSize`).
 * `end` bounds the readable bytes (defaults to buf.length).
 */
export function checkRecordAt(buf: Buffer, offset = 0, opts?: CheckRecordOptions, end = buf.length): RecordCheck {
  const remaining = end - offset;
  if (remaining < BLANK_RECORD_MIN_BYTES) return END_CHECK;
  const totalSize = buf.readInt32BE(offset);
  const magic = buf.readUInt32BE(offset + 4);
  if (totalSize === 0 && magic === 0) return END_CHECK;
  if (magic === BLANK_MAGIC_CODE) {
    if (totalSize < BLANK_RECORD_MIN_BYTES || totalSize > remaining) return invalid(`blank record size ${totalSize}`);
    return { status: RecordStatus.BLANK, size: totalSize };
  }
  if (magic !== MESSAGE_MAGIC_CODE_V1 && magic !== MESSAGE_MAGIC_CODE_V2) {
    return invalid(`bad magic 0x${magic.toString(16)}`);
  }
  if (totalSize < MIN_RECORD_BYTES) return invalid(`total size ${totalSize} below minimum`);
  if (totalSize > remaining) return invalid(`total size ${totalSize} exceeds ${remaining} readable bytes`);
  const sysFlag = buf.readInt32BE(offset + RecordOffset.SYSFLAG);
  const bornLen = (sysFlag & MessageSysFlag.BORNHOST_V6) !== 0 ? IPV6_HOST_BYTES : IPV4_HOST_BYTES;
  const storeLen = (sysFlag & MessageSysFlag.STOREHOST_V6) !== 0 ? IPV6_HOST_BYTES : IPV4_HOST_BYTES;
  const recEnd = offset + totalSize;
  let p = offset + FIXED_BEFORE_HOSTS + bornLen + FIXED_BETWEEN_HOSTS + storeLen + 4 + 8;
  if (p + 4 > recEnd) return invalid('truncated before body length');
  const bodyLen = buf.readInt32BE(p);
  p += 4;
  if (bodyLen < 0 || p + bodyLen > recEnd) return invalid(`bad body length ${bodyLen}`);
  const bodyStart = p;
  p += bodyLen;
  let topicLen: number;
  if (magic === MESSAGE_MAGIC_CODE_V2) {
    if (p + 2 > recEnd) return invalid('truncated before topic length');
    topicLen = buf.readInt16BE(p);
    p += 2;
  } else {
    if (p + 1 > recEnd) return invalid('truncated before topic length');
    topicLen = buf.readUInt8(p);
    p += 1;
  }
  if (topicLen < 0 || p + topicLen > recEnd) return invalid(`bad topic length ${topicLen}`);
  p += topicLen;
  if (p + 2 > recEnd) return invalid('truncated before properties length');
  const propsLen = buf.readInt16BE(p);
  p += 2;
  if (propsLen < 0 || p + propsLen !== recEnd) return invalid(`lengths do not add up to total size ${totalSize}`);
  if (opts?.verifyCrc) {
    const stored = buf.readInt32BE(offset + RecordOffset.BODYCRC);
    const actual = computeBodyCrc(buf.subarray(bodyStart, bodyStart + bodyLen));
    if (stored !== actual) return invalid(`body CRC mismatch: stored ${stored}, computed ${actual}`);
  }
  return { status: RecordStatus.VALID, size: totalSize };
}

export interface DecodeRecordOptions {
  /** Check the body CRC; a mismatch is a MessageRecordError. Default false. */
  verifyCrc?: boolean;
  /** Copy the body out of `buf` (default false: body is a zero-copy subarray of `buf`). */
  copyBody?: boolean;
}

export interface DecodedRecord {
  record: MessageRecord;
  size: number;
}

/**
 * Decodes the record at `offset`. Throws MessageRecordError (`kind` 'invalid') for BLANK, END or
 * INVALID positions; use checkRecordAt first when those are expected (recovery).
 */
export function decodeMessageRecord(buf: Buffer, offset = 0, opts?: DecodeRecordOptions): DecodedRecord {
  const check = checkRecordAt(buf, offset, opts);
  if (check.status !== RecordStatus.VALID) {
    throw new MessageRecordError(`no message record at ${offset}: ${check.status}${check.reason ? ` (${check.reason})` : ''}`);
  }
  return { record: decodeCheckedRecord(buf, offset, check.size, opts?.copyBody ?? false), size: check.size };
}

function readHost(buf: Buffer, p: number, v6: boolean): HostAddress {
  const n = v6 ? 16 : 4;
  return { host: bytesToHost(buf.subarray(p, p + n)), port: buf.readInt32BE(p + n) };
}

function decodeCheckedRecord(buf: Buffer, offset: number, totalSize: number, copyBody: boolean): MessageRecord {
  const magic = buf.readUInt32BE(offset + 4);
  const sysFlag = buf.readInt32BE(offset + RecordOffset.SYSFLAG);
  const bornV6 = (sysFlag & MessageSysFlag.BORNHOST_V6) !== 0;
  const storeV6 = (sysFlag & MessageSysFlag.STOREHOST_V6) !== 0;
  let p = offset + RecordOffset.BORNHOST;
  const bornHost = readHost(buf, p, bornV6);
  p += bornV6 ? IPV6_HOST_BYTES : IPV4_HOST_BYTES;
  const storeTimestamp = readInt64(buf, p);
  p += 8;
  const storeHost = readHost(buf, p, storeV6);
  p += storeV6 ? IPV6_HOST_BYTES : IPV4_HOST_BYTES;
  const reconsumeTimes = buf.readInt32BE(p);
  const preparedTransactionOffset = readInt64(buf, p + 4);
  p += 12;
  const bodyLen = buf.readInt32BE(p);
  p += 4;
  const bodyView = buf.subarray(p, p + bodyLen);
  const body = copyBody ? Buffer.from(bodyView) : bodyView;
  p += bodyLen;
  let topicLen: number;
  if (magic === MESSAGE_MAGIC_CODE_V2) {
    topicLen = buf.readInt16BE(p);
    p += 2;
  } else {
    topicLen = buf.readUInt8(p);
    p += 1;
  }
  const topic = buf.toString('utf8', p, p + topicLen);
  p += topicLen;
  const propsLen = buf.readInt16BE(p);
  p += 2;
  const properties = propsLen > 0 ? decodeProperties(buf.toString('utf8', p, p + propsLen)) : {};
  return {
    totalSize,
    magic,
    bodyCrc: buf.readInt32BE(offset + RecordOffset.BODYCRC),
    queueId: buf.readInt32BE(offset + RecordOffset.QUEUEID),
    flag: buf.readInt32BE(offset + RecordOffset.FLAG),
    queueOffset: readInt64(buf, offset + RecordOffset.QUEUEOFFSET),
    physicalOffset: readInt64(buf, offset + RecordOffset.PHYSICALOFFSET),
    sysFlag,
    bornTimestamp: readInt64(buf, offset + RecordOffset.BORNTIMESTAMP),
    bornHost,
    storeTimestamp,
    storeHost,
    reconsumeTimes,
    preparedTransactionOffset,
    body,
    topic,
    properties,
  };
}

/**
 * Decodes back-to-back records (a pull/query body) until the buffer ends or a record does not
 * check out, like Java `MessageDecoder.decodes`. Bodies are subarrays of `buf` unless copyBody.
 */
export function decodeMessageRecords(buf: Buffer, opts?: DecodeRecordOptions): MessageRecord[] {
  const out: MessageRecord[] = [];
  let p = 0;
  while (p < buf.length) {
    const check = checkRecordAt(buf, p, opts);
    if (check.status !== RecordStatus.VALID) break;
    out.push(decodeCheckedRecord(buf, p, check.size, opts?.copyBody ?? false));
    p += check.size;
  }
  return out;
}

/** Reads only the properties of a checked-valid record (cheap path for the dispatcher: TAGS, KEYS, UNIQ_KEY). */
export function readRecordProperties(buf: Buffer, offset: number): Record<string, string> {
  const totalSize = buf.readInt32BE(offset);
  const end = offset + totalSize;
  // Properties are the last field: walk back is impossible (no trailing length), so walk forward.
  const magic = buf.readUInt32BE(offset + 4);
  const sysFlag = buf.readInt32BE(offset + RecordOffset.SYSFLAG);
  let p = storeHostPosition(sysFlag) + ((sysFlag & MessageSysFlag.STOREHOST_V6) !== 0 ? IPV6_HOST_BYTES : IPV4_HOST_BYTES) + 12;
  p += offset;
  p += 4 + buf.readInt32BE(p);
  if (magic === MESSAGE_MAGIC_CODE_V2) p += 2 + buf.readInt16BE(p);
  else p += 1 + buf.readUInt8(p);
  const propsLen = buf.readInt16BE(p);
  p += 2;
  if (p + propsLen !== end) throw new MessageRecordError(`record at ${offset} is malformed`);
  return propsLen > 0 ? decodeProperties(buf.toString('utf8', p, p + propsLen)) : {};
}
