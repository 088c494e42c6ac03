/**
 * One error taxonomy for the remoting layer, reused by the client. Every error carries a stable
 * string `code` and whether retrying (on another connection / NameServer / broker) can help.
 */
import { type RemotingCommand } from '../protocol/remoting-command';
import { ResponseCode, responseCodeName } from '../protocol/response-code';

export type RemotingErrorCode =
  | 'REMOTING_TIMEOUT'
  | 'CONNECTION_CLOSED'
  | 'CONNECT_FAILED'
  | 'TOO_MANY_REQUESTS'
  | 'RESPONSE_ERROR';

export interface RemotingErrorOptions {
  retriable?: boolean;
  cause?: unknown;
}

export class RemotingError extends Error {
  readonly code: RemotingErrorCode;
  readonly retriable: boolean;

  constructor(code: RemotingErrorCode, message: string, options: RemotingErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RemotingError';
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** No response within the request's timeout. The request may or may not have been processed. */
export class RemotingTimeoutError extends RemotingError {
  constructor(
    readonly remoteAddress: string,
    readonly timeoutMs: number,
    readonly requestCode?: number,
  ) {
    super('REMOTING_TIMEOUT', `request ${requestCode ?? '?'} to ${remoteAddress} timed out after ${timeoutMs} ms`, { retriable: true });
    this.name = 'RemotingTimeoutError';
  }
}

/** The connection closed (peer end, reset, frame error, local close) before the response arrived. */
export class ConnectionClosedError extends RemotingError {
  constructor(
    readonly remoteAddress: string,
    readonly reason = 'connection closed',
  ) {
    super('CONNECTION_CLOSED', `connection to ${remoteAddress} closed: ${reason}`, { retriable: true });
    this.name = 'ConnectionClosedError';
  }
}

/** TCP connect failed or did not finish within connectTimeoutMs. */
export class RemotingConnectError extends RemotingError {
  constructor(
    readonly remoteAddress: string,
    message: string,
    cause?: unknown,
  ) {
    super('CONNECT_FAILED', `connect to ${remoteAddress} failed: ${message}`, { retriable: true, cause });
    this.name = 'RemotingConnectError';
  }
}

/** The bound on outstanding requests of one connection is reached; rejected before sending. */
export class TooManyRequestsError extends RemotingError {
  constructor(
    readonly remoteAddress: string,
    readonly maxInFlightRequests: number,
  ) {
    super('TOO_MANY_REQUESTS', `${maxInFlightRequests} requests already in flight to ${remoteAddress}`, { retriable: true });
    this.name = 'TooManyRequestsError';
  }
}

/** Codes after which trying another broker can help (DefaultMQProducer.retryResponseCodes). */
const RETRIABLE_RESPONSE_CODES = new Set<number>([
  ResponseCode.SYSTEM_ERROR,
  ResponseCode.SYSTEM_BUSY,
  ResponseCode.SERVICE_NOT_AVAILABLE,
  ResponseCode.TOPIC_NOT_EXIST,
  ResponseCode.NO_PERMISSION,
  ResponseCode.NO_BUYER_ID,
  ResponseCode.NOT_IN_CURRENT_UNIT,
  ResponseCode.GO_AWAY,
]);

/** The peer answered with a non-success response code. */
export class RemotingResponseError extends RemotingError {
  constructor(
    readonly responseCode: number,
    readonly remark: string | undefined,
    readonly remoteAddress?: string,
  ) {
    super(
      'RESPONSE_ERROR',
      `${responseCodeName(responseCode)} (${responseCode})${remark ? `: ${remark}` : ''}${remoteAddress ? ` from ${remoteAddress}` : ''}`,
      { retriable: RETRIABLE_RESPONSE_CODES.has(responseCode) },
    );
    this.name = 'RemotingResponseError';
  }

  static from(response: RemotingCommand, remoteAddress?: string): RemotingResponseError {
    return new RemotingResponseError(response.code, response.remark, remoteAddress);
  }
}

/** Returns the response when its code is SUCCESS (or one of `accepted`), else throws RemotingResponseError. */
export function expectResponseCode(response: RemotingCommand, accepted: readonly number[] = [ResponseCode.SUCCESS], remoteAddress?: string): RemotingCommand {
  if (accepted.includes(response.code)) return response;
  throw RemotingResponseError.from(response, remoteAddress);
}
