/**
 * A tiny recording TCP proxy for the remoting protocol: clients connect to `addr`, bytes are forwarded
 * to `target` unchanged, and every frame in both directions is split, decoded with our codec and kept.
 *
 * The NameServer proxy can rewrite GET_ROUTEINFO_BY_TOPIC replies (broker address → a broker proxy), so
 * a real client's broker traffic also flows through a recorder. Only the body text changes; the header
 * bytes are copied as they came and the length field is recomputed.
 */
import net from 'node:net';
import { decodeCommand, FrameSplitter, isResponse, RequestCode, type RemotingCommand } from '@rocketry/broker/protocol';

export type Direction = 'c2s' | 's2c';

export interface RecordedFrame {
  /** Connection number within this proxy. */
  conn: number;
  dir: Direction;
  /** The whole frame, including its 4-byte length field. */
  frame: Buffer;
  cmd: RemotingCommand;
  /** For replies: the request code they answer (matched by opaque on the same connection). */
  requestCode?: number;
  /** Label of the scenario running when the frame passed. */
  label: string;
}

const MAX_FRAMES = 20_000;

export class RecordingProxy {
  readonly frames: RecordedFrame[] = [];
  label = '';
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private connSeq = 0;

  private constructor(
    private readonly target: { host: string; port: number },
    private readonly rewriteRouteFrom?: string,
    private rewriteRouteTo?: string,
  ) {
    this.server = net.createServer((client) => this.onClient(client));
  }

  static async start(target: string, rewrite?: { from: string; to: string }): Promise<RecordingProxy> {
    const [host, port] = target.split(':');
    const proxy = new RecordingProxy({ host: host!, port: Number(port) }, rewrite?.from, rewrite?.to);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get addr(): string {
    const a = this.server.address();
    return `127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  }

  private onClient(client: net.Socket): void {
    const conn = ++this.connSeq;
    const upstream = net.connect(this.target.port, this.target.host);
    this.sockets.add(client).add(upstream);
    const requestCodes = new Map<number, number>();
    const c2s = new FrameSplitter();
    const s2c = new FrameSplitter();
    const record = (dir: Direction, payload: Buffer): Buffer => {
      const frame = Buffer.alloc(4 + payload.length);
      frame.writeInt32BE(payload.length, 0);
      payload.copy(frame, 4);
      let cmd = decodeCommand(Buffer.from(payload));
      let out = frame;
      const fromClient = dir === 'c2s';
      // A request travels in either direction (the broker also asks clients); the reply goes back the other way.
      let requestCode: number | undefined;
      if (!isResponse(cmd)) requestCodes.set(cmd.opaque * 2 + (fromClient ? 0 : 1), cmd.code);
      else requestCode = requestCodes.get(cmd.opaque * 2 + (fromClient ? 1 : 0));
      if (requestCode === RequestCode.GET_ROUTEINFO_BY_TOPIC && this.rewriteRouteFrom && this.rewriteRouteTo && cmd.body) {
        const text = cmd.body.toString('utf8').split(this.rewriteRouteFrom).join(this.rewriteRouteTo);
        const headerBytes = 4 + payload.readUIntBE(1, 3);
        const rewritten = Buffer.concat([payload.subarray(0, headerBytes), Buffer.from(text, 'utf8')]);
        out = Buffer.alloc(4 + rewritten.length);
        out.writeInt32BE(rewritten.length, 0);
        rewritten.copy(out, 4);
        cmd = decodeCommand(Buffer.from(rewritten));
      }
      if (this.frames.length < MAX_FRAMES) {
        this.frames.push({ conn, dir, frame: Buffer.from(frame), cmd, label: this.label, ...(requestCode !== undefined ? { requestCode } : {}) });
      }
      return out;
    };
    client.on('data', (chunk: Buffer) => {
      for (const payload of c2s.push(chunk)) upstream.write(record('c2s', payload));
    });
    upstream.on('data', (chunk: Buffer) => {
      for (const payload of s2c.push(chunk)) client.write(record('s2c', payload));
    });
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('close', closeBoth).on('error', closeBoth);
    upstream.on('close', closeBoth).on('error', closeBoth);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
