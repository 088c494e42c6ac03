/**
 * RemotingClient: one long-lived connection per `host:port`, opened lazily and reopened on the next
 * use after it closes. Serves server-initiated requests (NOTIFY_CONSUMER_IDS_CHANGED,
 * CHECK_TRANSACTION_STATE) from its own processor table.
 */
import * as net from 'node:net';
import { silentLogger, type Logger } from '../common/logger';
import { DEFAULT_MAX_FRAME_BYTES, newOpaque, type RemotingCommand } from '../protocol/remoting-command';
import { Connection, DEFAULT_MAX_IN_FLIGHT_REQUESTS } from './connection';
import { RemotingConnectError, RemotingError } from './errors';
import { ProcessorTable } from './processor-table';
import type { RemotingClientOptions, RequestProcessor } from './types';

export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;

/** `host:port` → parts; IPv6 hosts may be bracketed (`[::1]:9876`). */
export function parseAddress(addr: string): { host: string; port: number } {
  const idx = addr.lastIndexOf(':');
  const port = Number(addr.slice(idx + 1));
  let host = addr.slice(0, idx);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (idx <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new RemotingConnectError(addr, 'address is not host:port');
  return { host, port };
}

export class RemotingClient {
  private readonly connections = new Map<string, Connection>();
  private readonly connecting = new Map<string, Promise<Connection>>();
  private readonly processors: ProcessorTable;
  private readonly logger: Logger;
  private closedFlag = false;

  constructor(private readonly options: RemotingClientOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.processors = new ProcessorTable({ logger: this.logger });
  }

  /** Processor for requests the server sends over our connection. Unknown codes get REQUEST_CODE_NOT_SUPPORTED. */
  registerProcessor(code: number, processor: RequestProcessor): void {
    this.processors.register(code, processor);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Sends a request and resolves with the response, whatever its code. Rejects with a RemotingError. */
  async invoke(addr: string, cmd: RemotingCommand, timeoutMs: number): Promise<RemotingCommand> {
    const existing = this.connections.get(addr);
    const conn = existing && !existing.closed ? existing : await this.connect(addr);
    return conn.invoke(cmd, timeoutMs);
  }

  async invokeOneway(addr: string, cmd: RemotingCommand): Promise<void> {
    const existing = this.connections.get(addr);
    const conn = existing && !existing.closed ? existing : await this.connect(addr);
    conn.invokeOneway(cmd);
  }

  /** The open connection to `addr`, connecting if needed. */
  async connect(addr: string): Promise<Connection> {
    if (this.closedFlag) throw new RemotingConnectError(addr, 'client is closed');
    const existing = this.connections.get(addr);
    if (existing && !existing.closed) return existing;
    const inProgress = this.connecting.get(addr);
    if (inProgress) return inProgress;
    const attempt = this.openConnection(addr).finally(() => this.connecting.delete(addr));
    this.connecting.set(addr, attempt);
    return attempt;
  }

  /** Closes the connection to one address (the next use reconnects). */
  closeConnection(addr: string, reason = 'closed by client'): void {
    this.connections.get(addr)?.close(reason);
  }

  close(): void {
    this.closedFlag = true;
    for (const conn of this.connections.values()) conn.close('client closed');
    this.connections.clear();
  }

  private openConnection(addr: string): Promise<Connection> {
    const { host, port } = parseAddress(addr);
    const timeoutMs = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    return new Promise<Connection>((resolve, reject) => {
      const socket = net.connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RemotingConnectError(addr, `timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new RemotingConnectError(addr, err.message, err));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        if (this.closedFlag) {
          socket.destroy();
          reject(new RemotingConnectError(addr, 'client is closed'));
          return;
        }
        const conn = new Connection(socket, {
          maxFrameBytes: this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
          maxInFlightRequests: this.options.maxInFlightRequests ?? DEFAULT_MAX_IN_FLIGHT_REQUESTS,
          logger: this.logger,
          serializeType: this.options.serializeType,
          onRequest: (request, connection) => this.processors.dispatch(request, connection),
        });
        this.connections.set(addr, conn);
        conn.onClose(() => {
          if (this.connections.get(addr) === conn) this.connections.delete(addr);
        });
        this.logger.debug({ addr }, 'connected');
        resolve(conn);
      });
    });
  }
}

/** Errors after which another NameServer may answer. */
function isFailoverError(err: unknown): boolean {
  return err instanceof RemotingError && (err.code === 'CONNECT_FAILED' || err.code === 'REMOTING_TIMEOUT' || err.code === 'CONNECTION_CLOSED');
}

/**
 * Calls NameServers: sticks to the last one that answered and moves to the next on connect,
 * timeout or closed-connection errors. Every address is tried at most once per call.
 */
export class NamesrvClient {
  private addrs: string[];
  private current = 0;

  constructor(
    private readonly client: RemotingClient,
    namesrvAddrs: string[],
  ) {
    this.addrs = [...namesrvAddrs];
  }

  get addresses(): readonly string[] {
    return this.addrs;
  }

  /** The NameServer the next call tries first. */
  get preferredAddress(): string | undefined {
    return this.addrs[this.current];
  }

  updateAddresses(namesrvAddrs: string[]): void {
    const preferred = this.preferredAddress;
    this.addrs = [...namesrvAddrs];
    const idx = preferred === undefined ? -1 : this.addrs.indexOf(preferred);
    this.current = idx >= 0 ? idx : 0;
  }

  async invoke(cmd: RemotingCommand, timeoutMs: number): Promise<RemotingCommand> {
    return invokeNamesrvFrom(this.client, this.addrs, cmd, timeoutMs, this.current, (idx) => {
      this.current = idx;
    });
  }
}

/** One call over a NameServer list, starting at the first address (see NamesrvClient for stickiness). */
export function invokeNamesrv(client: RemotingClient, addrs: readonly string[], cmd: RemotingCommand, timeoutMs: number): Promise<RemotingCommand> {
  return invokeNamesrvFrom(client, addrs, cmd, timeoutMs, 0, () => undefined);
}

async function invokeNamesrvFrom(
  client: RemotingClient,
  addrs: readonly string[],
  cmd: RemotingCommand,
  timeoutMs: number,
  start: number,
  onSuccess: (idx: number) => void,
): Promise<RemotingCommand> {
  if (addrs.length === 0) throw new RemotingConnectError('(none)', 'no NameServer address configured');
  let lastError: unknown;
  for (let i = 0; i < addrs.length; i++) {
    const idx = (start + i) % addrs.length;
    const addr = addrs[idx]!;
    try {
      // A fresh opaque per attempt: a late reply from the previous NameServer must not match.
      const response = await client.invoke(addr, i === 0 ? cmd : { ...cmd, opaque: newOpaque() }, timeoutMs);
      onSuccess(idx);
      return response;
    } catch (err) {
      if (!isFailoverError(err)) throw err;
      lastError = err;
    }
  }
  throw lastError;
}
