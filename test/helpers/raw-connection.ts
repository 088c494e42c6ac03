/**
 * A deliberately small, independent remoting connection for tests: one socket, opaque correlation,
 * per-request timeouts, and raw byte writes (fuzzing). It reuses only the protocol codec, so it can
 * check the server without trusting our own remoting client.
 */
import net from 'node:net';
import {
  decodeCommand,
  encodeCommand,
  FrameSplitter,
  isResponse,
  type RemotingCommand,
} from '../../broker/src/protocol/remoting-command';

export class RawConnection {
  private readonly socket: net.Socket;
  private readonly splitter: FrameSplitter;
  private readonly pending = new Map<number, { resolve: (c: RemotingCommand) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private closedReason: string | undefined;
  /** Requests the server sent us (e.g. NOTIFY_CONSUMER_IDS_CHANGED), bounded. */
  readonly serverRequests: RemotingCommand[] = [];
  /** Responses that matched no pending invoke (e.g. replies to raw/fuzzed frames). */
  unmatchedResponses = 0;
  /** Response codes of those replies, bounded. */
  readonly unmatchedResponseCodes: number[] = [];
  readonly closed: Promise<string>;

  private constructor(
    socket: net.Socket,
    readonly address: string,
  ) {
    this.socket = socket;
    this.splitter = new FrameSplitter(64 * 1024 * 1024);
    let onClosed!: (reason: string) => void;
    this.closed = new Promise<string>((r) => (onClosed = r));
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = this.splitter.push(chunk);
      } catch (err) {
        this.destroy(`bad frame from server: ${(err as Error).message}`);
        return;
      }
      for (const f of frames) {
        let cmd: RemotingCommand;
        try {
          cmd = decodeCommand(f);
        } catch (err) {
          this.destroy(`undecodable frame from server: ${(err as Error).message}`);
          return;
        }
        if (isResponse(cmd)) {
          const p = this.pending.get(cmd.opaque);
          if (p) {
            this.pending.delete(cmd.opaque);
            clearTimeout(p.timer);
            p.resolve(cmd);
          } else {
            this.unmatchedResponses++;
            if (this.unmatchedResponseCodes.length < 1000) this.unmatchedResponseCodes.push(cmd.code);
          }
        } else if (this.serverRequests.length < 1000) {
          this.serverRequests.push(cmd);
        }
      }
    });
    socket.on('error', () => {
      // 'close' follows
    });
    socket.on('close', () => {
      const reason = this.closedReason ?? 'closed by peer';
      this.closedReason = reason;
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new Error(`connection to ${address} closed: ${reason}`));
      }
      this.pending.clear();
      onClosed(reason);
    });
  }

  static connect(address: string, timeoutMs = 3000): Promise<RawConnection> {
    const i = address.lastIndexOf(':');
    const host = address.slice(0, i);
    const port = Number(address.slice(i + 1));
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${address} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RawConnection(socket, address));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`connect to ${address} failed: ${err.message}`));
      });
    });
  }

  get isClosed(): boolean {
    return this.closedReason !== undefined;
  }

  invoke(cmd: RemotingCommand, timeoutMs = 5000): Promise<RemotingCommand> {
    if (this.closedReason !== undefined) return Promise.reject(new Error(`connection to ${this.address} closed: ${this.closedReason}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(cmd.opaque);
        reject(new Error(`request code ${cmd.code} to ${this.address} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(cmd.opaque, { resolve, reject, timer });
      this.socket.write(encodeCommand(cmd));
    });
  }

  oneway(cmd: RemotingCommand): void {
    if (this.closedReason === undefined) this.socket.write(encodeCommand(cmd));
  }

  /** Writes raw bytes (fuzzing). Returns false if the socket is gone. */
  writeRaw(bytes: Buffer): boolean {
    if (this.closedReason !== undefined || this.socket.destroyed) return false;
    this.socket.write(bytes);
    return true;
  }

  /** Half-closes our side (FIN) and keeps reading. */
  end(): void {
    this.socket.end();
  }

  destroy(reason = 'closed locally'): void {
    if (this.closedReason === undefined) this.closedReason = reason;
    this.socket.destroy();
  }

  /** Waits until the peer closes, or `timeoutMs` passes; returns true when closed. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      this.closed.then(() => true),
      new Promise<boolean>((res) => (timer = setTimeout(() => res(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return r;
  }
}
