/**
 * RemotingServer: accepts TCP connections on one or more ports and serves them from one processor
 * table. Replies use the request's header serialization (JSON for ali-ons, which cannot read binary headers).
 */
import * as net from 'node:net';
import { silentLogger, type Logger } from '../common/logger';
import { DEFAULT_MAX_FRAME_BYTES } from '../protocol/remoting-command';
import { Connection } from './connection';
import { ProcessorTable } from './processor-table';
import type { Channel, ChannelListener, RemotingServerOptions, RequestProcessor } from './types';

export const DEFAULT_CHANNEL_IDLE_TIMEOUT_MS = 120_000;
/** The idle scan never runs more often than this. */
const MIN_IDLE_SCAN_INTERVAL_MS = 50;
const MAX_IDLE_SCAN_INTERVAL_MS = 10_000;

/** Upper bound on how long close() waits for in-progress requests. */
export const DEFAULT_CLOSE_DRAIN_TIMEOUT_MS = 5_000;
const DRAIN_POLL_INTERVAL_MS = 10;

export class RemotingServer {
  private readonly processors: ProcessorTable;
  private readonly logger: Logger;
  private readonly listeners: net.Server[] = [];
  private readonly connections = new Set<Connection>();
  private readonly openListeners: ChannelListener[] = [];
  private readonly closeListeners: ChannelListener[] = [];
  private readonly boundPorts: number[] = [];
  private idleTimer: NodeJS.Timeout | undefined;
  private started = false;
  private closing = false;

  constructor(private readonly options: RemotingServerOptions) {
    this.logger = options.logger ?? silentLogger;
    this.processors = new ProcessorTable({ logger: this.logger, maxInFlightRequestsPerChannel: options.maxInFlightRequestsPerChannel });
  }

  registerProcessor(code: number, processor: RequestProcessor): void {
    this.processors.register(code, processor);
  }

  /** Handles every code without its own processor (instead of REQUEST_CODE_NOT_SUPPORTED). */
  setDefaultProcessor(processor: RequestProcessor | undefined): void {
    this.processors.setDefault(processor);
  }

  onChannelOpen(listener: ChannelListener): void {
    this.openListeners.push(listener);
  }

  onChannelClose(listener: ChannelListener): void {
    this.closeListeners.push(listener);
  }

  channels(): Channel[] {
    return [...this.connections];
  }

  /** The primary port (valid after start). */
  get port(): number {
    return this.boundPorts[0] ?? 0;
  }

  /** Every bound port: the primary first, then `additionalPorts` in order. */
  get ports(): readonly number[] {
    return this.boundPorts;
  }

  /** Listens on the primary and additional ports; resolves with the bound primary port. */
  async start(): Promise<number> {
    if (this.started) throw new Error('RemotingServer already started');
    this.started = true;
    try {
      for (const port of [this.options.port, ...(this.options.additionalPorts ?? [])]) {
        this.boundPorts.push(await this.listen(port));
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    const idleMs = this.options.channelIdleTimeoutMs ?? DEFAULT_CHANNEL_IDLE_TIMEOUT_MS;
    const scanMs = Math.min(MAX_IDLE_SCAN_INTERVAL_MS, Math.max(MIN_IDLE_SCAN_INTERVAL_MS, Math.floor(idleMs / 4)));
    this.idleTimer = setInterval(() => this.closeIdle(idleMs), scanMs);
    this.idleTimer.unref();
    this.logger.info({ host: this.options.host ?? '0.0.0.0', ports: this.boundPorts }, 'remoting server listening');
    return this.port;
  }

  /**
   * Stops accepting, lets requests already being processed answer (at most `drainTimeoutMs`, so a
   * send waiting for its fsync still gets its ack), then closes every connection.
   */
  async close(drainTimeoutMs = DEFAULT_CLOSE_DRAIN_TIMEOUT_MS): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.idleTimer) clearInterval(this.idleTimer);
    const closed = this.listeners.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    const deadline = Date.now() + drainTimeoutMs;
    while (Date.now() < deadline && [...this.connections].some((conn) => conn.processingRequests > 0)) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_INTERVAL_MS));
    }
    for (const conn of [...this.connections]) conn.close('server shutting down');
    await Promise.all(closed);
  }

  private listen(port: number): Promise<number> {
    const server = net.createServer({ noDelay: true, keepAlive: true }, (socket) => this.accept(socket));
    this.listeners.push(server);
    return new Promise<number>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      server.listen({ port, host: this.options.host }, () => {
        server.off('error', onError);
        server.on('error', (err) => this.logger.error({ err }, 'listener error'));
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const conn = new Connection(socket, {
      maxFrameBytes: this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      logger: this.logger,
      onRequest: (request, connection) => this.processors.dispatch(request, connection),
      pauseReadingOnBackpressure: true,
    });
    this.connections.add(conn);
    conn.onClose((channel) => {
      this.connections.delete(conn);
      this.logger.debug({ peer: channel.remoteAddress }, 'channel closed');
      for (const listener of this.closeListeners) this.safely(listener, channel);
    });
    this.logger.debug({ peer: conn.remoteAddress }, 'channel opened');
    for (const listener of this.openListeners) this.safely(listener, conn);
  }

  private closeIdle(idleMs: number): void {
    const cutoff = Date.now() - idleMs;
    for (const conn of this.connections) {
      if (conn.lastActiveAt < cutoff && conn.processingRequests === 0) {
        this.logger.info({ peer: conn.remoteAddress, idleMs }, 'closing idle channel');
        conn.close(`idle for more than ${idleMs} ms`);
      }
    }
  }

  private safely(listener: ChannelListener, channel: Channel): void {
    try {
      listener(channel);
    } catch (err) {
      this.logger.error({ err, peer: channel.remoteAddress }, 'channel listener threw');
    }
  }
}
