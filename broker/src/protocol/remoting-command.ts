/**
 * RemotingCommand: the one frame type of the RocketMQ remoting protocol.
 *
 * Wire frame (big-endian):
 *
 *   0          4         5              8              8+H            8+H+B
 *   +----------+---------+--------------+--------------+--------------+
 *   | length   | serType | headerLen H  | header       | body         |
 *   | int32    | uint8   | uint24       | JSON/binary  | opaque bytes |
 *   +----------+---------+--------------+--------------+--------------+
 *   length = 4 + H + B (it does not count itself)
 *
 * serType 0 = JSON header, 1 = ROCKETMQ binary header (see encodeBinaryHeader).
 * Decoding accepts both; we always answer in JSON (ali-ons cannot read binary headers).
 */

import { ProtocolError } from './protocol-error';

export const LENGTH_FIELD_BYTES = 4;
/** serType byte + uint24 header length. */
export const HEADER_LENGTH_FIELD_BYTES = 4;
/** Netty's default `com.rocketmq.remoting.frameMaxLength`. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

export const RPC_TYPE_RESPONSE = 0x1;
export const RPC_TYPE_ONEWAY = 0x2;

export const SerializeType = { JSON: 0, ROCKETMQ: 1 } as const;
export type SerializeTypeValue = (typeof SerializeType)[keyof typeof SerializeType];

/** LanguageCode.java ordinals, used by the binary header. */
export const LanguageCode: Record<string, number> = {
  JAVA: 0, CPP: 1, DOTNET: 2, PYTHON: 3, DELPHI: 4, ERLANG: 5, RUBY: 6, OTHER: 7, HTTP: 8, GO: 9, PHP: 10,
  OMS: 11, RUST: 12, NODE_JS: 13,
};
const languageByCode = Object.fromEntries(Object.entries(LanguageCode).map(([k, v]) => [v, k])) as Record<number, string>;

/** MQVersion.Version ordinal we announce: V4_9_4 (401) gets standard JSON routes and full broker features. */
export const ROCKETRY_PROTOCOL_VERSION = 401;

export interface RemotingCommand {
  code: number;
  language: string;
  version: number;
  opaque: number;
  flag: number;
  remark?: string;
  /** Always string values on our side; decode turns ali-ons' numbers/booleans into strings. */
  extFields: Record<string, string>;
  body?: Buffer;
  /** Serialization the peer used for this frame (decode only). */
  serializeType?: SerializeTypeValue;
}

export class FrameError extends ProtocolError {
  constructor(message: string) {
    super('FRAME_INVALID', message);
    this.name = 'FrameError';
  }
}

export function isResponse(cmd: RemotingCommand): boolean {
  return (cmd.flag & RPC_TYPE_RESPONSE) !== 0;
}
export function isOneway(cmd: RemotingCommand): boolean {
  return (cmd.flag & RPC_TYPE_ONEWAY) !== 0;
}

let nextOpaque = 1;
/** Process-wide request ids; wraps inside int32. */
export function newOpaque(): number {
  const id = nextOpaque;
  nextOpaque = nextOpaque >= 0x7fffffff ? 1 : nextOpaque + 1;
  return id;
}

/** Turns any header object into string-only extFields; null/undefined fields are left out. */
export function toExtFields(header: object | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const [k, v] of Object.entries(header)) {
    if (v === undefined || v === null) continue;
    out[k] = typeof v === 'string' ? v : String(v);
  }
  return out;
}

export function createRequest(code: number, header?: object, body?: Buffer, oneway = false): RemotingCommand {
  return {
    code,
    language: 'JAVA',
    version: ROCKETRY_PROTOCOL_VERSION,
    opaque: newOpaque(),
    flag: oneway ? RPC_TYPE_ONEWAY : 0,
    extFields: toExtFields(header),
    body,
  };
}

export function createResponse(
  request: Pick<RemotingCommand, 'opaque'>,
  code: number,
  remark?: string,
  header?: object,
  body?: Buffer,
): RemotingCommand {
  return {
    code,
    language: 'JAVA',
    version: ROCKETRY_PROTOCOL_VERSION,
    opaque: request.opaque,
    flag: RPC_TYPE_RESPONSE,
    remark,
    extFields: toExtFields(header),
    body,
  };
}

// ---------------------------------------------------------------------------------------------
// Encode

/** JSON header exactly as fastjson writes it: sorted keys, nulls left out, string extFields. */
export function encodeJsonHeader(cmd: RemotingCommand): Buffer {
  const header: Record<string, unknown> = { code: cmd.code };
  const ext = cmd.extFields;
  if (ext && Object.keys(ext).length > 0) {
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(ext).sort()) sorted[k] = String(ext[k]);
    header.extFields = sorted;
  }
  header.flag = cmd.flag;
  header.language = cmd.language;
  header.opaque = cmd.opaque;
  if (cmd.remark !== undefined && cmd.remark !== null) header.remark = cmd.remark;
  header.serializeTypeCurrentRPC = 'JSON';
  header.version = cmd.version;
  return Buffer.from(JSON.stringify(header), 'utf8');
}

/**
 * ROCKETMQ binary header (RocketMQSerializable):
 *   code int16 | language int8 | version int16 | opaque int32 | flag int32
 *   | remarkLen int32 + utf8 | extLen int32 + { keyLen int16, key, valLen int32, val }*
 */
export function encodeBinaryHeader(cmd: RemotingCommand): Buffer {
  const remark = cmd.remark ? Buffer.from(cmd.remark, 'utf8') : undefined;
  const entries: Array<[Buffer, Buffer]> = [];
  let extLen = 0;
  for (const [k, v] of Object.entries(cmd.extFields ?? {})) {
    if (v === undefined || v === null) continue;
    const kb = Buffer.from(k, 'utf8');
    const vb = Buffer.from(String(v), 'utf8');
    entries.push([kb, vb]);
    extLen += 2 + kb.length + 4 + vb.length;
  }
  const buf = Buffer.alloc(2 + 1 + 2 + 4 + 4 + 4 + (remark?.length ?? 0) + 4 + extLen);
  let p = buf.writeInt16BE(cmd.code, 0);
  p = buf.writeUInt8(LanguageCode[cmd.language] ?? LanguageCode.OTHER!, p);
  p = buf.writeInt16BE(cmd.version, p);
  p = buf.writeInt32BE(cmd.opaque, p);
  p = buf.writeInt32BE(cmd.flag, p);
  p = buf.writeInt32BE(remark?.length ?? 0, p);
  if (remark) p += remark.copy(buf, p);
  p = buf.writeInt32BE(extLen, p);
  for (const [kb, vb] of entries) {
    p = buf.writeInt16BE(kb.length, p);
    p += kb.copy(buf, p);
    p = buf.writeInt32BE(vb.length, p);
    p += vb.copy(buf, p);
  }
  return buf;
}

/** Encodes a whole frame, including the leading length field. */
export function encodeCommand(cmd: RemotingCommand, serializeType: SerializeTypeValue = SerializeType.JSON): Buffer {
  const header = serializeType === SerializeType.ROCKETMQ ? encodeBinaryHeader(cmd) : encodeJsonHeader(cmd);
  const bodyLen = cmd.body?.length ?? 0;
  const frame = Buffer.allocUnsafe(LENGTH_FIELD_BYTES + HEADER_LENGTH_FIELD_BYTES + header.length + bodyLen);
  frame.writeInt32BE(HEADER_LENGTH_FIELD_BYTES + header.length + bodyLen, 0);
  frame.writeUInt32BE(((serializeType & 0xff) << 24) | (header.length & 0x00ffffff), 4);
  header.copy(frame, 8);
  if (cmd.body && bodyLen > 0) cmd.body.copy(frame, 8 + header.length);
  return frame;
}

// ---------------------------------------------------------------------------------------------
// Decode

function asInt(value: unknown, field: string): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new FrameError(`invalid header field ${field}: ${String(value)}`);
  return n;
}

function normaliseExtFields(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new FrameError('extFields is not an object');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (v === undefined || v === null) continue;
    if (typeof v === 'object') throw new FrameError(`extFields.${k} is not a scalar`);
    out[k] = String(v);
  }
  return out;
}

export function decodeJsonHeader(header: Buffer): Omit<RemotingCommand, 'body'> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(header.toString('utf8'));
  } catch (err) {
    throw new FrameError(`header is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new FrameError('header is not a JSON object');
  const h = parsed as Record<string, unknown>;
  const remark = h.remark;
  return {
    code: asInt(h.code, 'code'),
    language: typeof h.language === 'string' ? h.language : 'OTHER',
    version: h.version === undefined ? 0 : asInt(h.version, 'version'),
    opaque: asInt(h.opaque ?? 0, 'opaque'),
    flag: h.flag === undefined ? 0 : asInt(h.flag, 'flag'),
    remark: remark === undefined || remark === null ? undefined : String(remark),
    extFields: normaliseExtFields(h.extFields),
    serializeType: SerializeType.JSON,
  };
}

export function decodeBinaryHeader(header: Buffer): Omit<RemotingCommand, 'body'> {
  const need = (p: number, n: number) => {
    if (p + n > header.length) throw new FrameError('binary header truncated');
  };
  need(0, 21);
  const code = header.readInt16BE(0);
  const language = languageByCode[header.readUInt8(2)] ?? 'OTHER';
  const version = header.readInt16BE(3);
  const opaque = header.readInt32BE(5);
  const flag = header.readInt32BE(9);
  let p = 13;
  const remarkLen = header.readInt32BE(p);
  p += 4;
  if (remarkLen < 0) throw new FrameError('negative remark length');
  need(p, remarkLen);
  const remark = remarkLen > 0 ? header.toString('utf8', p, p + remarkLen) : undefined;
  p += remarkLen;
  need(p, 4);
  const extLen = header.readInt32BE(p);
  p += 4;
  if (extLen < 0) throw new FrameError('negative extFields length');
  need(p, extLen);
  const end = p + extLen;
  const extFields: Record<string, string> = {};
  while (p < end) {
    need(p, 2);
    const kl = header.readInt16BE(p);
    p += 2;
    if (kl < 0) throw new FrameError('negative key length');
    need(p, kl);
    const key = header.toString('utf8', p, p + kl);
    p += kl;
    need(p, 4);
    const vl = header.readInt32BE(p);
    p += 4;
    if (vl < 0) throw new FrameError('negative value length');
    need(p, vl);
    const value = header.toString('utf8', p, p + vl);
    p += vl;
    if (kl > 0 && vl > 0) extFields[key] = value;
  }
  if (p !== end) throw new FrameError('extFields length mismatch');
  return { code, language, version, opaque, flag, remark, extFields, serializeType: SerializeType.ROCKETMQ };
}

/**
 * Decodes one frame WITHOUT its leading length field (what a length-prefixed splitter hands over).
 * Throws FrameError on anything malformed; the caller closes the connection.
 */
export function decodeCommand(frame: Buffer): RemotingCommand {
  if (frame.length < HEADER_LENGTH_FIELD_BYTES) throw new FrameError(`frame too short: ${frame.length} bytes`);
  const serializeType = frame.readUInt8(0);
  const headerLen = frame.readUIntBE(1, 3);
  if (headerLen > frame.length - HEADER_LENGTH_FIELD_BYTES) {
    throw new FrameError(`header length ${headerLen} exceeds frame (${frame.length} bytes)`);
  }
  const header = frame.subarray(HEADER_LENGTH_FIELD_BYTES, HEADER_LENGTH_FIELD_BYTES + headerLen);
  let cmd: RemotingCommand;
  if (serializeType === SerializeType.JSON) cmd = decodeJsonHeader(header);
  else if (serializeType === SerializeType.ROCKETMQ) cmd = decodeBinaryHeader(header);
  else throw new FrameError(`unknown serialize type ${serializeType}`);
  const bodyStart = HEADER_LENGTH_FIELD_BYTES + headerLen;
  if (bodyStart < frame.length) cmd.body = frame.subarray(bodyStart);
  return cmd;
}

/**
 * Splits a byte stream into frames. Bounded: a declared length above `maxFrameBytes` or below the
 * minimum throws FrameError before any allocation.
 */
export class FrameSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  /** Feeds bytes; returns complete frames (without the length field). */
  push(chunk: Buffer): Buffer[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const frames: Buffer[] = [];
    while (this.pendingBytes >= LENGTH_FIELD_BYTES) {
      const head = this.peekLength();
      if (head < HEADER_LENGTH_FIELD_BYTES || head > this.maxFrameBytes) {
        throw new FrameError(`invalid frame length ${head} (limit ${this.maxFrameBytes})`);
      }
      if (this.pendingBytes < LENGTH_FIELD_BYTES + head) break;
      const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
      frames.push(all.subarray(LENGTH_FIELD_BYTES, LENGTH_FIELD_BYTES + head));
      const rest = all.subarray(LENGTH_FIELD_BYTES + head);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
    }
    return frames;
  }

  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  private peekLength(): number {
    const first = this.pending[0]!;
    if (first.length >= LENGTH_FIELD_BYTES) return first.readInt32BE(0);
    const joined = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [joined];
    return joined.readInt32BE(0);
  }
}
