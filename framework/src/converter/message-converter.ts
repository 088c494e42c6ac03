/**
 * Payload ⇄ message body conversion, used by RocketTemplate (send) and by the listener container
 * (receive). The default converter mirrors rocketmq-spring's composite converter for the types a
 * Node app has: Buffers travel raw, strings as UTF-8, everything else as JSON. The chosen form is
 * written to the `contentType` user property (the name Spring's message headers use), so the
 * consumer side can convert back without guessing when the producer was Rocketry.
 */
import type { MessageExt } from '../client/message';
import type { PayloadType } from '../decorators/rocket-listener-options';

/** User property carrying the body's media type (Spring `MessageHeaders.CONTENT_TYPE`). */
export const CONTENT_TYPE_PROPERTY = 'contentType';

export const ContentType = {
  JSON: 'application/json',
  TEXT: 'text/plain',
  BYTES: 'application/octet-stream',
} as const;

export interface ConvertedBody {
  body: Buffer | string;
  /** Written to the `contentType` property when set. */
  contentType?: string;
}

export interface MessageConverter {
  /** Payload → body (+ content type). Throw to refuse a payload. */
  toMessageBody(payload: unknown): ConvertedBody;
  /** Received message → the handler's first argument. Throwing makes the consume fail (retry / DLQ). */
  fromMessage(message: MessageExt, payloadType: PayloadType): unknown;
}

/** Thrown when a body cannot be turned into the requested payload type (or a payload into a body). */
export class MessageConversionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MessageConversionError';
  }
}

function parseJson(message: MessageExt): unknown {
  try {
    return JSON.parse(message.body.toString('utf8')) as unknown;
  } catch (err) {
    throw new MessageConversionError(`message ${message.msgId} on ${message.topic}: body is not valid JSON`, { cause: err });
  }
}

export class DefaultMessageConverter implements MessageConverter {
  toMessageBody(payload: unknown): ConvertedBody {
    if (Buffer.isBuffer(payload)) return { body: payload, contentType: ContentType.BYTES };
    if (payload instanceof Uint8Array) return { body: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), contentType: ContentType.BYTES };
    if (typeof payload === 'string') return { body: payload, contentType: ContentType.TEXT };
    if (payload === undefined || typeof payload === 'function' || typeof payload === 'symbol') {
      throw new MessageConversionError(`cannot send a payload of type ${typeof payload}`);
    }
    let text: string | undefined;
    try {
      text = JSON.stringify(payload, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    } catch (err) {
      throw new MessageConversionError('payload cannot be serialised as JSON', { cause: err });
    }
    if (text === undefined) throw new MessageConversionError('payload serialises to nothing');
    return { body: text, contentType: ContentType.JSON };
  }

  /**
   * - `'json'`: JSON.parse (a body that is not JSON fails the consume).
   * - `'string'`: UTF-8 text. `'buffer'`: the raw bytes.
   * - `'auto'`: by the `contentType` property (JSON / text / bytes); without one (a Java or ali-ons
   *   producer), a body that parses as a JSON object or array is parsed, anything else is a string.
   */
  fromMessage(message: MessageExt, payloadType: PayloadType): unknown {
    switch (payloadType) {
      case 'json':
        return parseJson(message);
      case 'string':
        return message.body.toString('utf8');
      case 'buffer':
        return message.body;
      case 'auto': {
        const ct = message.properties[CONTENT_TYPE_PROPERTY]?.toLowerCase();
        if (ct !== undefined) {
          if (ct.includes('json')) return parseJson(message);
          if (ct.startsWith('text/')) return message.body.toString('utf8');
          return message.body;
        }
        const text = message.body.toString('utf8');
        const first = text.trimStart()[0];
        if (first === '{' || first === '[') {
          try {
            return JSON.parse(text) as unknown;
          } catch {
            return text;
          }
        }
        return text;
      }
    }
  }
}
