/**
 * CONTRACT (owned by the remoting module). TCP endpoints for RemotingCommand frames.
 * Server and client share one Connection type, so either side can send requests (the broker sends
 * NOTIFY_CONSUMER_IDS_CHANGED / CHECK_TRANSACTION_STATE to clients over the client's own connection).
 */
import type { Logger } from '../common/logger';
import type { RemotingCommand, SerializeTypeValue } from '../protocol/remoting-command';

/** One TCP connection speaking remoting frames. */
export interface Channel {
  /** Stable id for tables keyed by connection, e.g. `127.0.0.1:53122#7`. */
  readonly id: string;
  /** Peer address `ip:port` (IPv4-mapped IPv6 turned into IPv4). */
  readonly remoteAddress: string;
  readonly remoteHost: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly closed: boolean;
  /** Epoch ms of the last frame received. */
  readonly lastActiveAt: number;
  /** Writes a response (or any frame) without waiting; batched per event-loop turn. */
  write(cmd: RemotingCommand): void;
  /** Sends a request and resolves with the matching response (by opaque); rejects with RemotingTimeoutError/ConnectionClosedError. */
  invoke(cmd: RemotingCommand, timeoutMs: number): Promise<RemotingCommand>;
  /** Sends a request with the oneway flag; no response is expected. */
  invokeOneway(cmd: RemotingCommand): void;
  close(reason?: string): void;
}

/** Called once when a channel closes, whatever the cause. */
export type ChannelListener = (channel: Channel) => void;

/**
 * Handles one request. Return a response to send it, or null to answer later through
 * `channel.write` (long polling) or not at all (oneway requests never get a reply; the server
 * drops any response a processor returns for a oneway request).
 */
export type RequestProcessor = (request: RemotingCommand, channel: Channel) => RemotingCommand | null | Promise<RemotingCommand | null>;

export interface RemotingServerOptions {
  host?: string;
  port: number;
  /**
   * More ports served with the same processor table (the broker's listenPort-2 "VIP" port for old
   * Java clients). 0 picks an ephemeral port; see `RemotingServer.ports`.
   */
  additionalPorts?: number[];
  /** Default 16 MiB. */
  maxFrameBytes?: number;
  /** Close connections idle longer than this. Default 120000. */
  channelIdleTimeoutMs?: number;
  /** Bound on requests being processed per connection; beyond it the server answers SYSTEM_BUSY. Default 4096. */
  maxInFlightRequestsPerChannel?: number;
  logger?: Logger;
}

export interface RemotingClientOptions {
  /** Default 3000. */
  connectTimeoutMs?: number;
  maxFrameBytes?: number;
  /** Bound on outstanding requests per connection; beyond it invoke rejects at once. Default 65536. */
  maxInFlightRequests?: number;
  logger?: Logger;
  /** Header serialization of requests (replies follow the peer's). Default JSON. */
  serializeType?: SerializeTypeValue;
}
