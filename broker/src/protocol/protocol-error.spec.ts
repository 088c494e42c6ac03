import { describe, expect, it } from 'vitest';
import { BatchBodyError } from './batch-body';
import { BodyError } from './bodies';
import { HeaderError } from './headers';
import { MessageIdError } from './message-id';
import { HostAddressError, MessageRecordError } from './message-record';
import { isProtocolError, ProtocolError } from './protocol-error';
import { FrameError } from './remoting-command';
import { ResponseCode } from './response-code';
import { SubscriptionParseError } from './subscription';

describe('ProtocolError taxonomy', () => {
  it('every codec error is a ProtocolError with a code and the Java reply code', () => {
    const cases: Array<[ProtocolError, string, number]> = [
      [new FrameError('x'), 'FRAME_INVALID', ResponseCode.SYSTEM_ERROR],
      [new HeaderError('f', 'v', 'x'), 'HEADER_INVALID', ResponseCode.SYSTEM_ERROR],
      [new BodyError('x'), 'BODY_INVALID', ResponseCode.SYSTEM_ERROR],
      [new BatchBodyError('x'), 'BATCH_INVALID', ResponseCode.MESSAGE_ILLEGAL],
      [new MessageRecordError('x', 'too-large'), 'RECORD_TOO_LARGE', ResponseCode.MESSAGE_ILLEGAL],
      [new MessageRecordError('x'), 'RECORD_INVALID', ResponseCode.SYSTEM_ERROR],
      [new MessageIdError('x'), 'MESSAGE_ID_INVALID', ResponseCode.SYSTEM_ERROR],
      [new HostAddressError('x'), 'HOST_INVALID', ResponseCode.SYSTEM_ERROR],
      [new SubscriptionParseError('x'), 'SUBSCRIPTION_INVALID', ResponseCode.SUBSCRIPTION_PARSE_FAILED],
    ];
    for (const [err, code, responseCode] of cases) {
      expect(isProtocolError(err)).toBe(true);
      expect(err).toBeInstanceOf(Error);
      expect(err.code).toBe(code);
      expect(err.responseCode).toBe(responseCode);
      expect(err.retriable).toBe(false);
      expect(err.name).not.toBe('Error');
    }
    expect(isProtocolError(new Error('x'))).toBe(false);
  });
});
