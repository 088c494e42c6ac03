/** Reads what `@TransactionalProducer` recorded (used by `createTransactionalProducers` and the starters). */
import 'reflect-metadata';
import { TRANSACTIONAL_PRODUCER_METADATA } from './constants';
import type { TransactionalMethodMetadata } from './transactional-producer-options';

/** Every `@TransactionalProducer` method of an instance's class and its ancestors (the most derived declaration of a name wins). */
export function getTransactionalProducerMetadata(instance: object): TransactionalMethodMetadata[] {
  const out: TransactionalMethodMetadata[] = [];
  const seen = new Set<string | symbol>();
  for (let proto = Object.getPrototypeOf(instance) as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    const list = Reflect.getOwnMetadata(TRANSACTIONAL_PRODUCER_METADATA, proto.constructor) as TransactionalMethodMetadata[] | undefined;
    for (const entry of list ?? []) {
      if (seen.has(entry.propertyKey)) continue;
      seen.add(entry.propertyKey);
      out.push(entry);
    }
  }
  return out;
}
