/**
 * One error taxonomy for the protocol module: every codec error is a ProtocolError with a stable
 * string `code`, `retriable` (always false: the same bytes fail again) and the response code a Java
 * broker answers with, so a processor can turn any of them into a reply in one place.
 */
import { ResponseCode } from './response-code';

export type ProtocolErrorCode =
  | 'FRAME_INVALID'
  | 'HEADER_INVALID'
  | 'BODY_INVALID'
  | 'BATCH_INVALID'
  | 'RECORD_INVALID'
  | 'RECORD_TOO_LARGE'
  | 'MESSAGE_ID_INVALID'
  | 'HOST_INVALID'
  | 'SUBSCRIPTION_INVALID';

const RESPONSE_CODES: Record<ProtocolErrorCode, number> = {
  // Java closes the connection on frame errors; SYSTEM_ERROR is only for callers that must reply.
  FRAME_INVALID: ResponseCode.SYSTEM_ERROR,
  // RemotingCommandException from decodeCommandCustomHeader → SYSTEM_ERROR + remark.
  HEADER_INVALID: ResponseCode.SYSTEM_ERROR,
  BODY_INVALID: ResponseCode.SYSTEM_ERROR,
  BATCH_INVALID: ResponseCode.MESSAGE_ILLEGAL,
  RECORD_INVALID: ResponseCode.SYSTEM_ERROR,
  // PROPERTIES_SIZE_EXCEEDED / MESSAGE_SIZE_EXCEEDED → MESSAGE_ILLEGAL.
  RECORD_TOO_LARGE: ResponseCode.MESSAGE_ILLEGAL,
  MESSAGE_ID_INVALID: ResponseCode.SYSTEM_ERROR,
  HOST_INVALID: ResponseCode.SYSTEM_ERROR,
  SUBSCRIPTION_INVALID: ResponseCode.SUBSCRIPTION_PARSE_FAILED,
};

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  readonly retriable = false;

  constructor(code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProtocolError';
    this.code = code;
  }

  /** The response code a Java broker would answer with (remark = message). */
  get responseCode(): number {
    return RESPONSE_CODES[this.code];
  }
}

export function isProtocolError(err: unknown): err is ProtocolError {
  return err instanceof ProtocolError;
}
