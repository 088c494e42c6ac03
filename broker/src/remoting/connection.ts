/**
 * Connection: one TCP socket speaking remoting frames, used by both the server and the client.
 *
 * - Reading: a bounded FrameSplitter cuts the stream into frames; responses (flag bit 0) settle the
 *   pending request with the same opaque, everything else goes to `onRequest`. Any malformed frame
 *   destroys this connection only (RocketMQ's NettyDecoder does the same).
 * - Writing: frames are queued and written once per event-loop turn (setImmediate), so a burst of
 *   responses becomes one socket write.
 * - Timeouts: no timer per request. Pending requests carry a deadline; one timer per connection is
 *   armed for the earliest known deadline and a scan rejects everything that is due.
 */
import * as net from 'node:net';
import { silentLogger, type Logger } from '../common/logger';
import {
  DEFAULT_MAX_FRAME_BYTES,
  FrameSplitter,
  RPC_TYPE_ONEWAY,
  RPC_TYPE_RESPONSE,
  SerializeType,
  decodeCommand,
  encodeCommandParts,
  isResponse,
  newOpaque,
  type RemotingCommand,
  type SerializeTypeValue,
} from '../protocol/remoting-command';
import { ConnectionClosedError, RemotingTimeoutError, TooManyRequestsError } from './errors';
import type { Channel, ChannelListener } from './types';

export const DEFAULT_MAX_IN_FLIGHT_REQUESTS = 65_536;
/** Timeouts may fire up to this late; it bounds how often the deadline scan runs. */
const TIMEOUT_SCAN_SLACK_MS = 10;
/** After a graceful close, a peer that does not finish the FIN exchange is destroyed. */
const CLOSE_GRACE_MS = 1_000;
/** Batches above this are written with cork/uncork (writev) instead of one concatenated copy. */
const CONCAT_LIMIT_BYTES = 256 * 1024;
/** Bodies from this size on (pull replies) are queued as their own chunk: never copied before the socket. */
const SEPARATE_CHUNK_MIN_BYTES = 8 * 1024;
const KEEPALIVE_INITIAL_DELAY_MS = 30_000;

export interface ConnectionOptions {
  maxFrameBytes?: number;
  /** Bound on this side's outstanding requests; beyond it invoke rejects with TooManyRequestsError. */
  maxInFlightRequests?: number;
  logger?: Logger;
  /** Requests (and oneway requests) from the peer. */
  onRequest?: (request: RemotingCommand, connection: Connection) => void;
  /**
   * Stop reading while the socket cannot write (the peer does not read our responses), so requests
   * cannot pile up unanswered. Server side only: if both ends paused, they could deadlock.
   */
  pauseReadingOnBackpressure?: boolean;
  /** Header serialization of requests this side sends without one set. Default JSON (the Java client's default). */
  serializeType?: SerializeTypeValue;
}

interface PendingRequest {
  resolve: (response: RemotingCommand) => void;
  reject: (err: Error) => void;
  deadline: number;
  timeoutMs: number;
  code: number;
}

export interface ConnectionStats {
  framesWritten: number;
  /** Socket write calls (one per flushed batch, or one corked batch). */
  socketWrites: number;
  framesRead: number;
}

let nextConnectionSeq = 1;

/** `::ffff:1.2.3.4` → `1.2.3.4`. */
export function normaliseHost(host: string | undefined): string {
  if (!host) return 'unknown';
  return host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host;
}

/** A frame as one buffer, or as its head plus a large body that is never copied before the socket. */
function encodeFrame(cmd: RemotingCommand, serializeType: SerializeTypeValue): [Buffer, Buffer | undefined] {
  return encodeCommandParts(cmd, cmd.serializeType ?? serializeType, SEPARATE_CHUNK_MIN_BYTES);
}

export class Connection implements Channel {
  readonly id: string;
  readonly remoteHost: string;
  readonly remotePort: number;
  readonly remoteAddress: string;
  readonly localAddress: string;
  lastActiveAt = Date.now();
  /** Requests from the peer now being processed here (maintained by the processor table). */
  processingRequests = 0;
  readonly stats: ConnectionStats = { framesWritten: 0, socketWrites: 0, framesRead: 0 };

  private closedFlag = false;
  private readonly splitter: FrameSplitter;
  private readonly maxInFlightRequests: number;
  private readonly logger: Logger;
  private readonly pauseOnBackpressure: boolean;
  private readonly serializeType: SerializeTypeValue;
  private readonly onRequest: ((request: RemotingCommand, connection: Connection) => void) | undefined;
  private readonly pending = new Map<number, PendingRequest>();
  private timeoutTimer: NodeJS.Timeout | undefined;
  private timeoutTimerAt = Number.POSITIVE_INFINITY;
  private writeQueue: Buffer[] = [];
  private writeQueueBytes = 0;
  private writeQueueFrames = 0;
  private flushScheduled = false;
  private readonly closeListeners: ChannelListener[] = [];
  private readonly flushBound = () => this.flush();

  constructor(
    readonly socket: net.Socket,
    options: ConnectionOptions = {},
  ) {
    this.remoteHost = normaliseHost(socket.remoteAddress);
    this.remotePort = socket.remotePort ?? 0;
    this.remoteAddress = `${this.remoteHost}:${this.remotePort}`;
    this.localAddress = `${normaliseHost(socket.localAddress)}:${socket.localPort ?? 0}`;
    this.id = `${this.remoteAddress}#${nextConnectionSeq++}`;
    this.splitter = new FrameSplitter(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    this.maxInFlightRequests = options.maxInFlightRequests ?? DEFAULT_MAX_IN_FLIGHT_REQUESTS;
    this.logger = options.logger ?? silentLogger;
    this.onRequest = options.onRequest;
    this.pauseOnBackpressure = options.pauseReadingOnBackpressure ?? false;
    this.serializeType = options.serializeType ?? SerializeType.JSON;

    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_INITIAL_DELAY_MS);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // Half-close from the peer: we never keep half-open connections.
    socket.on('end', () => this.close('peer closed the connection'));
    socket.on('error', (err: Error) => {
      this.logger.debug({ peer: this.remoteAddress, err: err.message }, 'socket error');
      this.finish(`socket error: ${err.message}`);
    });
    socket.on('close', () => this.finish('connection closed'));
    if (options.pauseReadingOnBackpressure) {
      socket.on('drain', () => {
        if (!this.closedFlag) socket.resume();
      });
    }
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Requests sent from this side still waiting for a response. */
  get pendingRequests(): number {
    return this.pending.size;
  }

  /** Runs once when the connection closes; at once if it already has. */
  onClose(listener: ChannelListener): void {
    if (this.closedFlag) {
      listener(this);
      return;
    }
    this.closeListeners.push(listener);
  }

  write(cmd: RemotingCommand): void {
    if (this.closedFlag) {
      this.logger.debug({ peer: this.remoteAddress, code: cmd.code, opaque: cmd.opaque }, 'write on closed connection dropped');
      return;
    }
    this.enqueue(...encodeFrame(cmd, this.serializeType));
  }

  invoke(cmd: RemotingCommand, timeoutMs: number): Promise<RemotingCommand> {
    if (this.closedFlag) return Promise.reject(new ConnectionClosedError(this.remoteAddress, 'connection already closed'));
    if (this.pending.size >= this.maxInFlightRequests) {
      return Promise.reject(new TooManyRequestsError(this.remoteAddress, this.maxInFlightRequests));
    }
    let request = cmd;
    if (this.pending.has(request.opaque) || (request.flag & (RPC_TYPE_ONEWAY | RPC_TYPE_RESPONSE)) !== 0) {
      // A reused command object: give it its own opaque so two waiters never share one slot.
      request = { ...cmd, opaque: this.pending.has(cmd.opaque) ? newOpaque() : cmd.opaque, flag: cmd.flag & ~(RPC_TYPE_ONEWAY | RPC_TYPE_RESPONSE) };
    }
    const [frame, largeBody] = encodeFrame(request, this.serializeType);
    const deadline = Date.now() + timeoutMs;
    return new Promise<RemotingCommand>((resolve, reject) => {
      this.pending.set(request.opaque, { resolve, reject, deadline, timeoutMs, code: request.code });
      if (deadline < this.timeoutTimerAt) this.armTimeoutScan(deadline);
      this.enqueue(frame, largeBody);
    });
  }

  invokeOneway(cmd: RemotingCommand): void {
    const request = (cmd.flag & RPC_TYPE_ONEWAY) !== 0 ? cmd : { ...cmd, flag: (cmd.flag | RPC_TYPE_ONEWAY) & ~RPC_TYPE_RESPONSE };
    this.write(request);
  }

  /** Graceful close: queued frames are flushed, then FIN; pending requests are rejected now. */
  close(reason = 'closed locally'): void {
    if (this.closedFlag) return;
    this.flush();
    this.finish(reason);
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** Hard close (reset), for protocol violations. */
  destroy(reason: string): void {
    this.finish(reason);
    this.socket.destroy();
  }

  // -------------------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.closedFlag) return;
    this.lastActiveAt = Date.now();
    let frames: Buffer[];
    try {
      frames = this.splitter.push(chunk);
    } catch (err) {
      this.onMalformed(err);
      return;
    }
    for (const frame of frames) {
      let cmd: RemotingCommand;
      try {
        cmd = decodeCommand(frame);
      } catch (err) {
        this.onMalformed(err);
        return;
      }
      this.stats.framesRead++;
      if (isResponse(cmd)) this.settle(cmd);
      else if (this.onRequest) {
        try {
          this.onRequest(cmd, this);
        } catch (err) {
          this.logger.error({ peer: this.remoteAddress, code: cmd.code, err }, 'request handler threw');
        }
      } else {
        this.logger.debug({ peer: this.remoteAddress, code: cmd.code }, 'request dropped: no handler');
      }
      if (this.closedFlag) return;
    }
  }

  private onMalformed(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.logger.warn({ peer: this.remoteAddress, err: message }, 'malformed frame, closing connection');
    this.destroy(`malformed frame: ${message}`);
  }

  private settle(response: RemotingCommand): void {
    const entry = this.pending.get(response.opaque);
    if (!entry) {
      this.logger.debug({ peer: this.remoteAddress, opaque: response.opaque, code: response.code }, 'response without a waiting request (timed out?)');
      return;
    }
    this.pending.delete(response.opaque);
    entry.resolve(response);
  }

  private armTimeoutScan(at: number): void {
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    this.timeoutTimerAt = at;
    this.timeoutTimer = setTimeout(() => this.scanTimeouts(), Math.max(0, at - Date.now()));
    this.timeoutTimer.unref();
  }

  private scanTimeouts(): void {
    this.timeoutTimer = undefined;
    this.timeoutTimerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [opaque, entry] of this.pending) {
      if (entry.deadline <= now) {
        this.pending.delete(opaque);
        entry.reject(new RemotingTimeoutError(this.remoteAddress, entry.timeoutMs, entry.code));
      } else if (entry.deadline < next) {
        next = entry.deadline;
      }
    }
    if (next !== Number.POSITIVE_INFINITY && !this.closedFlag) this.armTimeoutScan(Math.max(next, now + TIMEOUT_SCAN_SLACK_MS));
  }

  /** Queues one frame: whole, or as its head and a large body kept as a separate chunk. */
  private enqueue(frame: Buffer, largeBody?: Buffer): void {
    this.writeQueue.push(frame);
    this.writeQueueBytes += frame.length;
    this.writeQueueFrames++;
    this.lastActiveAt = Date.now();
    if (largeBody) {
      // A large frame goes now, with what is queued before it, in one writev and uncopied: the peer
      // starts on it while this side still prepares the next one, instead of both sides taking turns.
      this.socket.cork();
      if (this.flush()) this.writeChunk(largeBody);
      this.socket.uncork();
      return;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushBound);
    }
  }

  /** Writes the queued frames (one socket write); false when the socket can no longer be written. */
  private flush(): boolean {
    this.flushScheduled = false;
    const chunks = this.writeQueue;
    if (this.socket.destroyed || !this.socket.writable) {
      this.writeQueue = [];
      this.writeQueueBytes = 0;
      this.writeQueueFrames = 0;
      return false;
    }
    if (chunks.length === 0) return true;
    const bytes = this.writeQueueBytes;
    this.stats.framesWritten += this.writeQueueFrames;
    this.stats.socketWrites++;
    this.writeQueue = [];
    this.writeQueueBytes = 0;
    this.writeQueueFrames = 0;
    if (chunks.length === 1 || bytes > CONCAT_LIMIT_BYTES) {
      this.socket.cork();
      for (const c of chunks) this.writeChunk(c);
      this.socket.uncork();
    } else {
      this.writeChunk(Buffer.concat(chunks, bytes));
    }
    return true;
  }

  private writeChunk(chunk: Buffer): void {
    if (!this.socket.write(chunk) && this.pauseOnBackpressure) this.socket.pause();
  }

  /** Marks closed, rejects pending requests and runs the close listeners, exactly once. */
  private finish(reason: string): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    this.timeoutTimer = undefined;
    this.writeQueue = [];
    this.writeQueueBytes = 0;
    this.writeQueueFrames = 0;
    if (this.pending.size > 0) {
      const entries = [...this.pending.values()];
      this.pending.clear();
      for (const entry of entries) entry.reject(new ConnectionClosedError(this.remoteAddress, reason));
    }
    const listeners = this.closeListeners.splice(0);
    for (const listener of listeners) {
      try {
        listener(this);
      } catch (err) {
        this.logger.error({ peer: this.remoteAddress, err }, 'close listener threw');
      }
    }
  }
}
