/**
 * `@TransactionalProducer(options)` on a service method: the method becomes one unit of "change the
 * database + publish a message" (see README.md). The decorator records metadata (key in
 * constants.ts) and wraps the method so that a call goes through the runtime bound to the instance
 * by `createTransactionalProducers`; calling it on an unbound instance throws (it never runs outside
 * a transaction). No Nest import: plain Node apps and both starters use it.
 */
import 'reflect-metadata';
import { TRANSACTIONAL_PRODUCER_METADATA } from './constants';
import { invokeTransactional } from './transactional-runtime';
import type { TransactionalMethodMetadata, TransactionalProducerOptions } from './transactional-producer-options';

export function TransactionalProducer(options: TransactionalProducerOptions): MethodDecorator {
  const opts: TransactionalProducerOptions = { ...options };
  return (target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor) => {
    const original: unknown = descriptor.value;
    if (typeof original !== 'function') {
      throw new TypeError(`@TransactionalProducer can only decorate methods (${String(propertyKey)})`);
    }
    const ctor = target.constructor;
    const entry: TransactionalMethodMetadata = { propertyKey, options: opts, method: original as (...args: unknown[]) => unknown, className: ctor.name };
    const existing = (Reflect.getOwnMetadata(TRANSACTIONAL_PRODUCER_METADATA, ctor) as TransactionalMethodMetadata[] | undefined) ?? [];
    Reflect.defineMetadata(TRANSACTIONAL_PRODUCER_METADATA, [...existing, entry], ctor);
    descriptor.value = function transactionalProducerWrapper(this: object, ...args: unknown[]): Promise<unknown> {
      return invokeTransactional(this, entry, args);
    };
  };
}
