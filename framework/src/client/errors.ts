/**
 * Client error taxonomy. Every error says whether retrying (another queue, broker or NameServer)
 * can help; broker refusals carry the broker's `responseCode`. Remoting errors (timeouts, closed or
 * refused connections) are wrapped, keeping the original as `cause`.
 */
import { RemotingError, RemotingResponseError } from '@rocketry/broker/remoting';
import { responseCodeName } from '@rocketry/broker/protocol';

export type MQClientErrorCode =
  | 'ILLEGAL_ARGUMENT'
  | 'MESSAGE_TOO_LARGE'
  | 'NOT_RUNNING'
  | 'NO_ROUTE'
  | 'NO_BROKER_ADDRESS'
  | 'SEND_TIMEOUT'
  | 'REMOTING_TIMEOUT'
  | 'CONNECTION_CLOSED'
  | 'CONNECT_FAILED'
  | 'TOO_MANY_REQUESTS'
  | 'BROKER_ERROR'
  | 'INVALID_RESPONSE';

export interface MQClientErrorOptions {
  retriable?: boolean;
  responseCode?: number;
  cause?: unknown;
}

/** Base of every error the client throws on purpose. */
export class MQClientError extends Error {
  readonly code: MQClientErrorCode;
  readonly retriable: boolean;
  /** Broker/NameServer response code when a peer refused the request. */
  readonly responseCode: number | undefined;

  constructor(code: MQClientErrorCode, message: string, options: MQClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MQClientError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.responseCode = options.responseCode;
  }
}

/** The broker (or NameServer) answered with a non-success code. */
export class MQBrokerError extends MQClientError {
  declare readonly responseCode: number;

  constructor(
    responseCode: number,
    readonly remark: string | undefined,
    readonly brokerAddr: string | undefined,
    retriable?: boolean,
  ) {
    super(
      'BROKER_ERROR',
      `${responseCodeName(responseCode)} (${responseCode})${remark ? `: ${remark}` : ''}${brokerAddr ? ` from ${brokerAddr}` : ''}`,
      { responseCode, retriable: retriable ?? new RemotingResponseError(responseCode, remark).retriable },
    );
    this.name = 'MQBrokerError';
  }
}

/** Body (or batch) bigger than `maxMessageSize`; raised before anything is sent. */
export class MessageTooLargeError extends MQClientError {
  constructor(
    readonly sizeBytes: number,
    readonly maxMessageSize: number,
    what = 'message body',
  ) {
    super('MESSAGE_TOO_LARGE', `${what} is ${sizeBytes} bytes, over maxMessageSize ${maxMessageSize}`);
    this.name = 'MessageTooLargeError';
  }
}

/** Neither the topic nor the auto-create template (TBW102) has a route. */
export class NoRouteError extends MQClientError {
  constructor(readonly topic: string, cause?: unknown) {
    super('NO_ROUTE', `no route info of topic ${topic}; create the topic or enable autoCreateTopicEnable`, { cause });
    this.name = 'NoRouteError';
  }
}

/**
 * Turns anything thrown by the remoting layer into an MQClientError (unchanged if it already is one;
 * other errors, i.e. bugs, are returned as they are).
 */
export function toClientError(err: unknown, addr?: string): Error {
  if (err instanceof MQClientError) return err;
  if (err instanceof RemotingResponseError) return new MQBrokerError(err.responseCode, err.remark, err.remoteAddress ?? addr, err.retriable);
  if (err instanceof RemotingError) {
    const code: MQClientErrorCode = err.code === 'RESPONSE_ERROR' ? 'BROKER_ERROR' : err.code;
    return new MQClientError(code, err.message, { retriable: err.retriable, cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** True when trying again elsewhere can help. */
export function isRetriable(err: unknown): boolean {
  return (err instanceof MQClientError || err instanceof RemotingError) && err.retriable;
}
