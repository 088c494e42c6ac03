/**
 * SEND_BATCH_MESSAGE (320) request body (§3.7): inner messages written back to back by
 * `MessageDecoder.encodeMessage`, all big-endian:
 *
 *   off  size  field
 *    0    4    TOTALSIZE      this entry incl. the field
 *    4    4    MAGICCODE      0 (ignored)
 *    8    4    BODYCRC        0 (ignored)
 *   12    4    FLAG           user flag
 *   16   4+n   BODY           int32 len + bytes
 *    .   2+p   PROPERTIES     int16 len + "k\u0001v\u0002..." (each carries its own UNIQ_KEY/KEYS/TAGS)
 */
import { decodeProperties, encodeProperties, MAX_PROPERTIES_BYTES } from './message-record';
import { ProtocolError } from './protocol-error';

/** 4 total + 4 magic + 4 crc + 4 flag + 4 body length + 2 properties length. */
export const BATCH_ENTRY_FIXED_BYTES = 22;
if (4 + 4 + 4 + 4 + 4 + 2 !== BATCH_ENTRY_FIXED_BYTES) throw new Error('batch entry layout mismatch');

export interface BatchEntry {
  flag: number;
  /** Zero-copy view into the request body. */
  body: Buffer;
  properties: Record<string, string>;
  /** The properties exactly as sent (decodeBatchBody only). */
  propertiesText?: string;
}

export class BatchBodyError extends ProtocolError {
  constructor(message: string) {
    super('BATCH_INVALID', message);
    this.name = 'BatchBodyError';
  }
}

export interface DecodeBatchOptions {
  /** Reject bodies with more entries than this (bounded work per request). Default 100000. */
  maxEntries?: number;
}

/** Decodes a batch body; throws BatchBodyError when lengths do not add up (the broker answers MESSAGE_ILLEGAL). */
export function decodeBatchBody(buf: Buffer, opts?: DecodeBatchOptions): BatchEntry[] {
  const maxEntries = opts?.maxEntries ?? 100_000;
  const out: BatchEntry[] = [];
  let p = 0;
  while (p < buf.length) {
    if (out.length >= maxEntries) throw new BatchBodyError(`batch has more than ${maxEntries} messages`);
    const left = buf.length - p;
    if (left < BATCH_ENTRY_FIXED_BYTES) throw new BatchBodyError(`truncated batch entry at ${p}: ${left} bytes left`);
    const totalSize = buf.readInt32BE(p);
    if (totalSize < BATCH_ENTRY_FIXED_BYTES || totalSize > left) {
      throw new BatchBodyError(`bad batch entry size ${totalSize} at ${p}`);
    }
    const end = p + totalSize;
    const flag = buf.readInt32BE(p + 12);
    const bodyLen = buf.readInt32BE(p + 16);
    const bodyStart = p + 20;
    if (bodyLen < 0 || bodyStart + bodyLen + 2 > end) throw new BatchBodyError(`bad body length ${bodyLen} at ${p}`);
    const propsLenPos = bodyStart + bodyLen;
    const propsLen = buf.readInt16BE(propsLenPos);
    if (propsLen < 0 || propsLenPos + 2 + propsLen !== end) {
      throw new BatchBodyError(`batch entry at ${p}: lengths do not add up to ${totalSize}`);
    }
    const propertiesText = propsLen > 0 ? buf.toString('utf8', propsLenPos + 2, end) : '';
    out.push({
      flag,
      body: buf.subarray(bodyStart, bodyStart + bodyLen),
      properties: propertiesText ? decodeProperties(propertiesText) : {},
      propertiesText,
    });
    p = end;
  }
  return out;
}

/** Encodes a batch body (Java `MessageDecoder.encodeMessages`); one allocation, properties written in place. */
export function encodeBatchBody(entries: ReadonlyArray<Pick<BatchEntry, 'flag' | 'body' | 'properties'>>): Buffer {
  const texts: string[] = new Array<string>(entries.length);
  const textBytes: number[] = new Array<number>(entries.length);
  let total = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const text = encodeProperties(e.properties);
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > MAX_PROPERTIES_BYTES) throw new BatchBodyError(`properties are ${bytes} bytes, limit ${MAX_PROPERTIES_BYTES}`);
    texts[i] = text;
    textBytes[i] = bytes;
    total += BATCH_ENTRY_FIXED_BYTES + e.body.length + bytes;
  }
  const buf = Buffer.allocUnsafe(total);
  let p = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const bytes = textBytes[i]!;
    p = buf.writeInt32BE(BATCH_ENTRY_FIXED_BYTES + e.body.length + bytes, p);
    p = buf.writeInt32BE(0, p);
    p = buf.writeInt32BE(0, p);
    p = buf.writeInt32BE(e.flag | 0, p);
    p = buf.writeInt32BE(e.body.length, p);
    p += e.body.copy(buf, p);
    p = buf.writeInt16BE(bytes, p);
    p += buf.write(texts[i]!, p, bytes, 'utf8');
  }
  return buf;
}
