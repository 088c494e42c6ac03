/**
 * Message ids (§3.4).
 *
 * Offset msgId (`MessageDecoder.createMessageId`), uppercase hex:
 *   IPv4: ip 4 | port int32 | commitLog offset int64  = 16 bytes → 32 hex
 *   IPv6: ip 16 | port int32 | commitLog offset int64 = 28 bytes → 56 hex
 *
 * UNIQ_KEY (`MessageClientIDSetter`), uppercase hex:
 *   ip 4/16 | pid int16 | random int32  (fixed per process)
 *   | ms since start of the current month int32 | counter int16
 *   → 32 hex for IPv4, 56 for IPv6.
 */
import { randomInt } from 'node:crypto';
import type { HostAddress } from './message-record';
import { bytesToHost, hostToBytes, readInt64 } from './message-record';
import { ProtocolError } from './protocol-error';

export const OFFSET_MSG_ID_HEX_V4 = 32;
export const OFFSET_MSG_ID_HEX_V6 = 56;

export class MessageIdError extends ProtocolError {
  constructor(message: string) {
    super('MESSAGE_ID_INVALID', message);
    this.name = 'MessageIdError';
  }
}

/** `HEX_BYTE[b]`: the byte as two uppercase hex digits. */
const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).toUpperCase().padStart(2, '0'));
let lastIdHost = '';
let lastIdPort = -1;
let lastIdPrefix = '';

function hexInt32(v: number): string {
  return HEX_BYTE[(v >>> 24) & 0xff]! + HEX_BYTE[(v >>> 16) & 0xff]! + HEX_BYTE[(v >>> 8) & 0xff]! + HEX_BYTE[v & 0xff]!;
}

/** Offset message id of a stored record: storeHost + physical offset (one per stored message: kept cheap). */
export function createOffsetMessageId(storeHost: HostAddress, physicalOffset: number): string {
  if (storeHost.host !== lastIdHost || storeHost.port !== lastIdPort) {
    const ip = hostToBytes(storeHost.host);
    const prefix = Buffer.allocUnsafe(ip.length + 4);
    ip.copy(prefix, 0);
    prefix.writeInt32BE(storeHost.port | 0, ip.length);
    lastIdPrefix = prefix.toString('hex').toUpperCase();
    lastIdHost = storeHost.host;
    lastIdPort = storeHost.port;
  }
  const hi = Math.floor(physicalOffset / 0x1_0000_0000);
  return lastIdPrefix + hexInt32(hi | 0) + hexInt32((physicalOffset - hi * 0x1_0000_0000) >>> 0);
}

export interface OffsetMessageId {
  address: HostAddress;
  offset: number;
}

const HEX_RE = /^[0-9a-fA-F]+$/;

/** Parses an offset msgId (32 or 56 hex chars, any case). Throws MessageIdError. */
export function parseOffsetMessageId(msgId: string): OffsetMessageId {
  if ((msgId.length !== OFFSET_MSG_ID_HEX_V4 && msgId.length !== OFFSET_MSG_ID_HEX_V6) || !HEX_RE.test(msgId)) {
    throw new MessageIdError(`not an offset message id: ${JSON.stringify(msgId)}`);
  }
  const buf = Buffer.from(msgId, 'hex');
  const ipLen = buf.length - 12;
  return {
    address: { host: bytesToHost(buf.subarray(0, ipLen)), port: buf.readInt32BE(ipLen) },
    offset: readInt64(buf, ipLen + 4),
  };
}

/** True for a well-formed offset msgId. */
export function isOffsetMessageId(msgId: string): boolean {
  return (msgId.length === OFFSET_MSG_ID_HEX_V4 || msgId.length === OFFSET_MSG_ID_HEX_V6) && HEX_RE.test(msgId);
}

/** Start of the month containing `nowMs`, local time (as Java's Calendar in MessageClientIDSetter). */
function monthStart(nowMs: number): { start: number; next: number } {
  const d = new Date(nowMs);
  const start = new Date(d.getFullYear(), d.getMonth(), 1).getTime();
  const next = new Date(d.getFullYear(), d.getMonth() + 1, 1).getTime();
  return { start, next };
}

export interface UniqueIdGeneratorOptions {
  /** Client IP written into the prefix; default 127.0.0.1. */
  ip?: string;
  pid?: number;
  /** Replaces the classloader hash; default random. */
  salt?: number;
  now?: () => number;
}

/**
 * UNIQ_KEY generator, same layout as Java `MessageClientIDSetter`. Not thread-shared state beyond
 * this instance; one per process is enough.
 */
export class UniqueIdGenerator {
  private readonly prefixHex: string;
  private counter: number;
  private startTime = 0;
  private nextStartTime = 0;
  private readonly now: () => number;

  constructor(opts: UniqueIdGeneratorOptions = {}) {
    const ip = hostToBytes(opts.ip ?? '127.0.0.1');
    const prefix = Buffer.allocUnsafe(ip.length + 6);
    ip.copy(prefix, 0);
    prefix.writeInt16BE(((opts.pid ?? process.pid) << 16) >> 16, ip.length);
    prefix.writeInt32BE((opts.salt ?? randomInt(0, 0x7fffffff)) | 0, ip.length + 2);
    this.prefixHex = prefix.toString('hex').toUpperCase();
    this.counter = randomInt(0, 0x10000);
    this.now = opts.now ?? Date.now;
  }

  next(): string {
    const current = this.now();
    if (current >= this.nextStartTime || current < this.startTime) {
      const m = monthStart(current);
      this.startTime = m.start;
      this.nextStartTime = m.next;
    }
    const counter = this.counter;
    this.counter = (counter + 1) & 0xffff;
    return this.prefixHex + hexInt32((current - this.startTime) | 0) + HEX_BYTE[counter >>> 8]! + HEX_BYTE[counter & 0xff]!;
  }
}

let defaultGenerator: UniqueIdGenerator | undefined;
/** A UNIQ_KEY from a process-wide generator (IP 127.0.0.1 unless `configureUniqueIdGenerator` ran). */
export function createUniqueId(): string {
  defaultGenerator ??= new UniqueIdGenerator();
  return defaultGenerator.next();
}
export function configureUniqueIdGenerator(opts: UniqueIdGeneratorOptions): void {
  defaultGenerator = new UniqueIdGenerator(opts);
}

export interface ParsedUniqueId {
  host: string;
  pid: number;
  /** ms since the start of the month it was made in (the month itself is not encoded). */
  msInMonth: number;
  counter: number;
}

/** Splits a UNIQ_KEY (32 or 56 hex). Throws MessageIdError. */
export function parseUniqueId(id: string): ParsedUniqueId {
  if ((id.length !== 32 && id.length !== 56) || !HEX_RE.test(id)) throw new MessageIdError(`not a UNIQ_KEY: ${JSON.stringify(id)}`);
  const buf = Buffer.from(id, 'hex');
  const ipLen = buf.length - 12;
  return {
    host: bytesToHost(buf.subarray(0, ipLen)),
    pid: buf.readUInt16BE(ipLen),
    msInMonth: buf.readInt32BE(ipLen + 6),
    counter: buf.readUInt16BE(ipLen + 10),
  };
}
