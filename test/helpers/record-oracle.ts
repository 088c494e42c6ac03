/**
 * An independent reader for stored/pulled message records (remoting-protocol.md §3.1), used as a test
 * oracle: it does not share code with the broker's codec, so a codec bug cannot hide itself.
 *
 *   0 TOTALSIZE 4 | 4 MAGIC 4 | 8 BODYCRC 4 | 12 QUEUEID 4 | 16 FLAG 4 | 20 QUEUEOFFSET 8 | 28 PHYSOFFSET 8
 *   36 SYSFLAG 4 | 40 BORNTS 8 | 48 BORNHOST 8/20 | STORETS 8 | STOREHOST 8/20 | RECONSUME 4 | PREPARED 8
 *   BODY 4+n | TOPIC 1+t (V1) / 2+t (V2) | PROPERTIES 2+p
 */
import zlib from 'node:zlib';

export const MAGIC_V1 = 0xdaa320a7 | 0;
export const MAGIC_V2 = 0xdaa320ab | 0;
export const MAGIC_BLANK = 0xcbd43194 | 0;

export interface OracleRecord {
  totalSize: number;
  magic: number;
  bodyCrc: number;
  queueId: number;
  flag: number;
  queueOffset: number;
  physicalOffset: number;
  sysFlag: number;
  bornTimestamp: number;
  bornHost: string;
  storeTimestamp: number;
  storeHost: string;
  reconsumeTimes: number;
  body: Buffer;
  topic: string;
  properties: Record<string, string>;
  /** crc32(body) & 0x7fffffff equals BODYCRC. */
  crcOk: boolean;
  /** Offset message id (storeHost ip + port + physical offset), uppercase hex. */
  offsetMsgId: string;
}

function readHost(buf: Buffer, p: number, v6: boolean): { text: string; raw: Buffer; next: number } {
  const ipLen = v6 ? 16 : 4;
  const ip = buf.subarray(p, p + ipLen);
  const port = buf.readInt32BE(p + ipLen);
  const text = v6
    ? `[${Array.from({ length: 8 }, (_, i) => ip.readUInt16BE(i * 2).toString(16)).join(':')}]:${port}`
    : `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]}:${port}`;
  const raw = Buffer.alloc(ipLen + 4);
  ip.copy(raw, 0);
  raw.writeInt32BE(port, ipLen);
  return { text, raw, next: p + ipLen + 4 };
}

export function parseProperties(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of s.split('\u0002')) {
    const i = item.indexOf('\u0001');
    if (i <= 0) continue;
    const v = item.slice(i + 1);
    if (v.length > 0) out[item.slice(0, i)] = v;
  }
  return out;
}

export function crc32Positive(body: Buffer): number {
  return zlib.crc32(body) & 0x7fffffff;
}

/** Decodes one record at `start`; throws on anything malformed. */
export function decodeRecord(buf: Buffer, start = 0): OracleRecord {
  const need = (n: number) => {
    if (n > buf.length) throw new Error(`record at ${start} truncated (need ${n - start}, have ${buf.length - start})`);
  };
  need(start + 8);
  const totalSize = buf.readInt32BE(start);
  const magic = buf.readInt32BE(start + 4);
  if (magic !== MAGIC_V1 && magic !== MAGIC_V2) throw new Error(`bad magic 0x${(magic >>> 0).toString(16)} at ${start}`);
  if (totalSize < 91) throw new Error(`bad total size ${totalSize} at ${start}`);
  need(start + totalSize);
  const r = buf.subarray(start, start + totalSize);
  const sysFlag = r.readInt32BE(36);
  let p = 48;
  const born = readHost(r, p, (sysFlag & 0x10) !== 0);
  p = born.next;
  const storeTimestamp = Number(r.readBigInt64BE(p));
  p += 8;
  const store = readHost(r, p, (sysFlag & 0x20) !== 0);
  p = store.next;
  const reconsumeTimes = r.readInt32BE(p);
  p += 4 + 8;
  const bodyLen = r.readInt32BE(p);
  p += 4;
  if (bodyLen < 0 || p + bodyLen > totalSize) throw new Error(`bad body length ${bodyLen}`);
  const body = Buffer.from(r.subarray(p, p + bodyLen));
  p += bodyLen;
  let topicLen: number;
  if (magic === MAGIC_V1) {
    topicLen = r.readUInt8(p);
    p += 1;
  } else {
    topicLen = r.readInt16BE(p);
    p += 2;
  }
  const topic = r.toString('utf8', p, p + topicLen);
  p += topicLen;
  const propLen = r.readInt16BE(p);
  p += 2;
  if (propLen < 0 || p + propLen > totalSize) throw new Error(`bad properties length ${propLen}`);
  const properties = parseProperties(r.toString('utf8', p, p + propLen));
  p += propLen;
  if (p !== totalSize) throw new Error(`record at ${start}: fields end at ${p}, TOTALSIZE says ${totalSize}`);
  const bodyCrc = r.readInt32BE(8);
  const physicalOffset = Number(r.readBigInt64BE(28));
  const id = Buffer.alloc(store.raw.length + 8);
  store.raw.copy(id, 0);
  id.writeBigInt64BE(BigInt(physicalOffset), store.raw.length);
  return {
    totalSize,
    magic,
    bodyCrc,
    queueId: r.readInt32BE(12),
    flag: r.readInt32BE(16),
    queueOffset: Number(r.readBigInt64BE(20)),
    physicalOffset,
    sysFlag,
    bornTimestamp: Number(r.readBigInt64BE(40)),
    bornHost: born.text,
    storeTimestamp,
    storeHost: store.text,
    reconsumeTimes,
    body,
    topic,
    properties,
    crcOk: crc32Positive(body) === bodyCrc,
    offsetMsgId: id.toString('hex').toUpperCase(),
  };
}

/** Decodes concatenated records (a pull/query body); throws on trailing garbage. */
export function decodeRecords(buf: Buffer): OracleRecord[] {
  const out: OracleRecord[] = [];
  let p = 0;
  while (p < buf.length) {
    const rec = decodeRecord(buf, p);
    out.push(rec);
    p += rec.totalSize;
  }
  return out;
}
