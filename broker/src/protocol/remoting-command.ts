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
 * serType 0 = JSON header, 1 = ROCKETMQ binary header (see writeBinaryHeader).
 * Decoding accepts both; replies are written in the request's type (ali-ons only sends, and can only read, JSON).
 */

import { ProtocolError } from './protocol-error';

export const LENGTH_FIELD_BYTES = 4;
/** serType byte + uint24 header length. */
export const HEADER_LENGTH_FIELD_BYTES = 4;
/** Both fields ahead of the header. */
const FRAME_PREFIX_BYTES = LENGTH_FIELD_BYTES + HEADER_LENGTH_FIELD_BYTES;
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
  /** Header serialization: what the peer used (decoded frames) or what to write (JSON when unset). */
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

/** A reply to `request`, serialized like it (RocketMQ answers a ROCKETMQ-header request in kind). */
export function createResponse(
  request: Pick<RemotingCommand, 'opaque'> & Partial<Pick<RemotingCommand, 'serializeType'>>,
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
    serializeType: request.serializeType,
  };
}

// ---------------------------------------------------------------------------------------------
// Encode

/** Characters a JSON string cannot carry raw (plus lone surrogates, which JSON.stringify escapes). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be escaped
const JSON_ESCAPE_RE = /["\\\u0000-\u001f\ud800-\udfff]/;

function jsonString(s: string): string {
  return JSON_ESCAPE_RE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/**
 * JSON header text exactly as fastjson writes it: sorted keys, nulls left out, string extFields.
 * Built as text (no intermediate objects): it is on every request and reply.
 */
export function encodeJsonHeaderText(cmd: RemotingCommand): string {
  let s = `{"code":${cmd.code}`;
  const ext = cmd.extFields;
  if (ext) {
    const keys = Object.keys(ext);
    let sorted = true;
    for (let i = 1; i < keys.length && sorted; i++) sorted = keys[i - 1]! < keys[i]!;
    if (!sorted) keys.sort();
    let first = true;
    for (const k of keys) {
      const v = ext[k];
      if (v === undefined || v === null) continue;
      s += `${first ? ',"extFields":{' : ','}${jsonString(k)}:${jsonString(typeof v === 'string' ? v : String(v))}`;
      first = false;
    }
    if (!first) s += '}';
  }
  s += `,"flag":${cmd.flag},"language":${jsonString(cmd.language)},"opaque":${cmd.opaque}`;
  if (cmd.remark !== undefined && cmd.remark !== null) s += `,"remark":${jsonString(cmd.remark)}`;
  return `${s},"serializeTypeCurrentRPC":"JSON","version":${cmd.version}}`;
}

/** Bytes of `s` as UTF-8 written at `pos`; ASCII (every header name, most values) without a native call. */
function writeUtf8(buf: Buffer, s: string, pos: number): number {
  const n = s.length;
  if (n > 64) return buf.write(s, pos, 'utf8');
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return buf.write(s, pos, 'utf8');
    buf[pos + i] = c;
  }
  return n;
}

/**
 * ROCKETMQ binary header (RocketMQSerializable):
 *   code int16 | language int8 | version int16 | opaque int32 | flag int32
 *   | remarkLen int32 + utf8 | extLen int32 + { keyLen int16, key, valLen int32, val }*
 * written after `reserve` free leading bytes (room for the frame prefix) and followed by `trailer`
 * (a small body sent inline) when given.
 */
export function writeBinaryHeader(cmd: RemotingCommand, reserve = 0, trailer?: Buffer): Buffer {
  const ext = cmd.extFields ?? {};
  // UTF-8 takes at most 3 bytes per UTF-16 unit: size for the worst case, return the used part.
  let bound = reserve + 21 + 3 * (cmd.remark?.length ?? 0);
  for (const k in ext) {
    const v = ext[k];
    if (v !== undefined && v !== null) bound += 6 + 3 * (k.length + String(v).length);
  }
  const buf = Buffer.allocUnsafe(bound + (trailer?.length ?? 0));
  let p = buf.writeInt16BE(cmd.code, reserve);
  p = buf.writeUInt8(LanguageCode[cmd.language] ?? LanguageCode.OTHER!, p);
  p = buf.writeInt16BE(cmd.version, p);
  p = buf.writeInt32BE(cmd.opaque, p);
  p = buf.writeInt32BE(cmd.flag, p);
  const remarkLen = cmd.remark ? writeUtf8(buf, cmd.remark, p + 4) : 0;
  buf.writeInt32BE(remarkLen, p);
  p += 4 + remarkLen;
  const extLenAt = p;
  p += 4;
  for (const k in ext) {
    const v = ext[k];
    if (v === undefined || v === null) continue;
    const kl = writeUtf8(buf, k, p + 2);
    buf.writeInt16BE(kl, p);
    p += 2 + kl;
    const vl = writeUtf8(buf, typeof v === 'string' ? v : String(v), p + 4);
    buf.writeInt32BE(vl, p);
    p += 4 + vl;
  }
  buf.writeInt32BE(p - extLenAt - 4, extLenAt);
  if (trailer) p += trailer.copy(buf, p);
  return buf.subarray(0, p);
}

/**
 * Encodes a frame as `[head, body]`: head = length field, serialize-type word, header and (when
 * shorter than `separateBodyFromBytes`) the body itself; a body at least that long is returned apart,
 * uncopied, so large ones (pull replies, batches) go to the socket as their own chunk.
 */
export function encodeCommandParts(
  cmd: RemotingCommand,
  serializeType: SerializeTypeValue = SerializeType.JSON,
  separateBodyFromBytes = Number.POSITIVE_INFINITY,
): [Buffer, Buffer | undefined] {
  const body = cmd.body && cmd.body.length > 0 ? cmd.body : undefined;
  const inlineBytes = body && body.length < separateBodyFromBytes ? body.length : 0;
  let head: Buffer;
  let headerLen: number;
  if (serializeType === SerializeType.ROCKETMQ) {
    head = writeBinaryHeader(cmd, FRAME_PREFIX_BYTES, inlineBytes > 0 ? body : undefined);
    headerLen = head.length - FRAME_PREFIX_BYTES - inlineBytes;
  } else {
    const text = encodeJsonHeaderText(cmd);
    headerLen = Buffer.byteLength(text, 'utf8');
    head = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + headerLen + inlineBytes);
    head.write(text, FRAME_PREFIX_BYTES, 'utf8');
    if (inlineBytes > 0) body!.copy(head, FRAME_PREFIX_BYTES + headerLen);
  }
  head.writeInt32BE(HEADER_LENGTH_FIELD_BYTES + headerLen + (body?.length ?? 0), 0);
  head.writeUInt32BE(((serializeType & 0xff) << 24) | (headerLen & 0x00ffffff), LENGTH_FIELD_BYTES);
  return [head, inlineBytes > 0 ? undefined : body];
}

/** Encodes a whole frame, including the leading length field, as one buffer. */
export function encodeCommand(cmd: RemotingCommand, serializeType: SerializeTypeValue = SerializeType.JSON): Buffer {
  return encodeCommandParts(cmd, serializeType)[0];
}

// ---------------------------------------------------------------------------------------------
// Decode

function asInt(value: unknown, field: string): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new FrameError(`invalid header field ${field}: ${String(value)}`);
  return n;
}

/** In place (the object is fresh from JSON.parse): numbers/booleans become strings, nulls go. */
function normaliseExtFields(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new FrameError('extFields is not an object');
  const ext = raw as Record<string, unknown>;
  for (const k in ext) {
    const v = ext[k];
    if (typeof v === 'string') continue;
    if (v === undefined || v === null) delete ext[k];
    else if (typeof v === 'object') throw new FrameError(`extFields.${k} is not a scalar`);
    else ext[k] = String(v);
  }
  return ext as Record<string, string>;
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

const ASCII_CHARS = Array.from({ length: 0x80 }, (_, c) => String.fromCharCode(c));

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
    // SEND_MESSAGE_V2 / PULL headers use one-letter names: no native call for those.
    const key = kl === 1 && header[p]! < 0x80 ? ASCII_CHARS[header[p]!]! : header.toString('utf8', p, p + kl);
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
