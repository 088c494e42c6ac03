/**
 * What a Rocketry handler sees inside Nest: the arguments are `[payload, message, context]`, so
 * `ctx.switchToRpc().getData()` is the converted payload and `getContext()` the raw `MessageExt`
 * (like Nest's microservice transports). `RocketContext` (third argument) carries the rest.
 */
import type { ArgumentsHost } from '@nestjs/common';
import type { ConsumeContext, MessageExt, RocketListenerExtras } from '@rocketry/framework';
import { ROCKET_CONTEXT_TYPE } from './rocket.constants';

/** Per-delivery details a handler, guard or interceptor may need besides payload and message. */
export class RocketContext {
  constructor(
    readonly message: MessageExt,
    /** Consumer-side knobs of this delivery (`delayLevelWhenNextConsume`, `suspendCurrentQueueTimeMillis`). */
    readonly consumeContext: ConsumeContext | undefined,
    readonly topic: string,
    readonly group: string,
    /** `ClassName.method` of the handler. */
    readonly handlerName: string,
    /** Under a `dedup` listener option: `{ dedupKey }`, plus `{ trx }` with `store: 'db'` (write the effects with it). */
    readonly extras: RocketListenerExtras = {},
  ) {}

  getMessage(): MessageExt {
    return this.message;
  }
}

/** True inside a Rocketry handler (for guards/interceptors/filters shared with HTTP). */
export function isRocketContext(host: ArgumentsHost): boolean {
  return host.getType<string>() === ROCKET_CONTEXT_TYPE;
}

export interface RocketArgs<T = unknown> {
  payload: T;
  message: MessageExt;
  context: RocketContext;
}

/** The payload, message and context of a Rocketry execution context. */
export function getRocketArgs<T = unknown>(host: ArgumentsHost): RocketArgs<T> {
  if (!isRocketContext(host)) throw new Error(`not a ${ROCKET_CONTEXT_TYPE} context (got ${host.getType<string>()})`);
  const [payload, message, context] = host.getArgs<[T, MessageExt, RocketContext]>();
  return { payload, message, context };
}
