/**
 * Request dispatch shared by the server and the client (which serves broker-initiated requests):
 * a processor table keyed by request code, with RocketMQ's error replies
 * (NettyRemotingAbstract.processRequestCommand).
 */
import { silentLogger, type Logger } from '../common/logger';
import { RPC_TYPE_RESPONSE, createResponse, isOneway, type RemotingCommand } from '../protocol/remoting-command';
import { requestCodeName } from '../protocol/request-code';
import { ResponseCode } from '../protocol/response-code';
import type { Connection } from './connection';
import type { RequestProcessor } from './types';

export const DEFAULT_MAX_IN_FLIGHT_REQUESTS_PER_CHANNEL = 4096;

export interface ProcessorTableOptions {
  logger?: Logger;
  /** Requests processed at once per connection; beyond it: SYSTEM_BUSY `[OVERLOAD]`. */
  maxInFlightRequestsPerChannel?: number;
}

export class ProcessorTable {
  private readonly processors = new Map<number, RequestProcessor>();
  private defaultProcessor: RequestProcessor | undefined;
  private readonly logger: Logger;
  private readonly maxInFlight: number;

  constructor(options: ProcessorTableOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.maxInFlight = options.maxInFlightRequestsPerChannel ?? DEFAULT_MAX_IN_FLIGHT_REQUESTS_PER_CHANNEL;
  }

  register(code: number, processor: RequestProcessor): void {
    this.processors.set(code, processor);
  }

  setDefault(processor: RequestProcessor | undefined): void {
    this.defaultProcessor = processor;
  }

  has(code: number): boolean {
    return this.processors.has(code) || this.defaultProcessor !== undefined;
  }

  /** Runs the processor for one request; synchronous processors never touch a promise. */
  dispatch(request: RemotingCommand, connection: Connection): void {
    const processor = this.processors.get(request.code) ?? this.defaultProcessor;
    if (!processor) {
      this.logger.warn({ peer: connection.remoteAddress, code: request.code }, 'request code not supported');
      this.reply(request, connection, createResponse(request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, ` request type ${request.code} not supported`));
      return;
    }
    if (connection.processingRequests >= this.maxInFlight) {
      this.logger.warn({ peer: connection.remoteAddress, code: request.code, inFlight: connection.processingRequests }, 'channel overloaded, request rejected');
      this.reply(
        request,
        connection,
        createResponse(request, ResponseCode.SYSTEM_BUSY, `[OVERLOAD]system busy, ${this.maxInFlight} requests in flight on this connection, start flow control for a while`),
      );
      return;
    }
    connection.processingRequests++;
    let result: RemotingCommand | null | Promise<RemotingCommand | null>;
    try {
      result = processor(request, connection);
    } catch (err) {
      connection.processingRequests--;
      this.fail(request, connection, err);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (response) => {
          connection.processingRequests--;
          if (response) this.reply(request, connection, response);
        },
        (err: unknown) => {
          connection.processingRequests--;
          this.fail(request, connection, err);
        },
      );
      return;
    }
    connection.processingRequests--;
    if (result) this.reply(request, connection, result);
  }

  private fail(request: RemotingCommand, connection: Connection, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.logger.error({ peer: connection.remoteAddress, code: request.code, request: requestCodeName(request.code), err }, 'processor failed');
    this.reply(request, connection, createResponse(request, ResponseCode.SYSTEM_ERROR, message));
  }

  /** Oneway requests never get a reply, not even an error. */
  private reply(request: RemotingCommand, connection: Connection, response: RemotingCommand): void {
    if (isOneway(request)) return;
    if (response.opaque !== request.opaque || (response.flag & RPC_TYPE_RESPONSE) === 0) {
      response = { ...response, opaque: request.opaque, flag: response.flag | RPC_TYPE_RESPONSE };
    }
    connection.write(response);
  }
}
