/**
 * Parameter decorators for Rocketry handlers (Nest's `@Payload()` / `@Ctx()` equivalents). Pipes run
 * on decorated parameters, as in Nest microservices: `@RocketPayload(ParseIntPipe)`. Without any
 * parameter decorator the handler gets `(payload, message, context)` unchanged.
 */
import { assignMetadata, type PipeTransform, type Type } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import type { ParamsFactory } from '@nestjs/core';

/**
 * Parameter types. PAYLOAD is 3 so pipes see `metadata.type === 'body'` (what ValidationPipe
 * validates, as for microservice payloads); the others are 'custom' for pipes.
 */
export enum RocketParamtype {
  PAYLOAD = 3,
  MESSAGE = 6,
  CONTEXT = 7,
}

type PipeArg = Type<PipeTransform> | PipeTransform;

function paramDecorator(type: RocketParamtype, data: string | undefined, pipes: PipeArg[]): ParameterDecorator {
  return (target, key, index) => {
    if (key === undefined) throw new Error('Rocketry parameter decorators apply to handler methods only');
    const ctor = target.constructor;
    const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, ctor, key) ?? {}) as Record<string, unknown>;
    Reflect.defineMetadata(ROUTE_ARGS_METADATA, assignMetadata(args, type, index, data, ...pipes), ctor, key);
  };
}

/** The converted payload (or one property of it), through the given pipes. */
export function RocketPayload(propertyOrPipe?: string | PipeArg, ...pipes: PipeArg[]): ParameterDecorator {
  if (typeof propertyOrPipe === 'string') return paramDecorator(RocketParamtype.PAYLOAD, propertyOrPipe, pipes);
  return paramDecorator(RocketParamtype.PAYLOAD, undefined, propertyOrPipe === undefined ? pipes : [propertyOrPipe, ...pipes]);
}

/** The raw `MessageExt` (msgId, keys, tags, properties, reconsumeTimes, queue and offset). */
export function RocketMessage(): ParameterDecorator {
  return paramDecorator(RocketParamtype.MESSAGE, undefined, []);
}

/** The `RocketContext` of the delivery. */
export function RocketCtx(): ParameterDecorator {
  return paramDecorator(RocketParamtype.CONTEXT, undefined, []);
}

/** Maps a parameter type to its value from the handler arguments `[payload, message, context]`. */
export const rocketParamsFactory: ParamsFactory = {
  exchangeKeyForValue(type: number, data: unknown, args: unknown): unknown {
    const list = Array.isArray(args) ? (args as unknown[]) : [];
    switch (type) {
      case RocketParamtype.PAYLOAD: {
        const payload = list[0];
        if (typeof data === 'string' && data.length > 0 && payload !== null && typeof payload === 'object') {
          return (payload as Record<string, unknown>)[data];
        }
        return payload;
      }
      case RocketParamtype.MESSAGE:
        return list[1];
      case RocketParamtype.CONTEXT:
        return list[2];
      default:
        return undefined;
    }
  },
};
