/**
 * The one reader of `@RocketListener` metadata (keys in decorators/constants.ts). Given an instance,
 * it lists every listener it declares: each decorated method (own or inherited; an override without
 * the decorator keeps the base declaration but runs the override) and each class-level declaration
 * (handler `onMessage`). It does not validate; the container does that at registration.
 */
import 'reflect-metadata';
import {
  CLASS_LISTENER_HANDLER,
  ROCKET_LISTENER_CLASS_METADATA,
  ROCKET_LISTENER_METHOD_METADATA,
  ROCKET_LISTENER_METHODS_METADATA,
} from '../decorators/constants';
import type { RocketListenerOptions } from '../decorators/rocket-listener-options';

export interface DiscoveredListener {
  instance: object;
  className: string;
  /** The handler method (`onMessage` for a class-level listener). */
  methodName: string | symbol;
  kind: 'method' | 'class';
  /** As written in the decorator (not yet validated or resolved). */
  options: RocketListenerOptions;
  /** `Class.method`, used in logs and errors. */
  id: string;
}

function className(instance: object): string {
  return instance.constructor?.name || 'anonymous class';
}

/** True when the class (or a base class) carries `@RocketListener` on the class or a method. */
export function hasRocketListeners(target: abstract new (...args: never[]) => unknown): boolean {
  return Reflect.getMetadata(ROCKET_LISTENER_CLASS_METADATA, target) !== undefined || Reflect.getMetadata(ROCKET_LISTENER_METHODS_METADATA, target) !== undefined;
}

export function exploreListeners(instance: object): DiscoveredListener[] {
  if (instance === null || typeof instance !== 'object') return [];
  const name = className(instance);
  const out: DiscoveredListener[] = [];
  const seen = new Set<string | symbol>();
  // Walk from the most derived prototype up, so a base declaration is found once per name.
  for (let proto = Object.getPrototypeOf(instance) as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    const names = Reflect.getOwnMetadata(ROCKET_LISTENER_METHODS_METADATA, proto.constructor) as (string | symbol)[] | undefined;
    for (const methodName of names ?? []) {
      if (seen.has(methodName)) continue;
      const fn = Object.getOwnPropertyDescriptor(proto, methodName)?.value as unknown;
      const list = typeof fn === 'function' ? (Reflect.getOwnMetadata(ROCKET_LISTENER_METHOD_METADATA, fn) as RocketListenerOptions[] | undefined) : undefined;
      if (!list) continue;
      seen.add(methodName);
      for (const options of list) out.push({ instance, className: name, methodName, kind: 'method', options, id: `${name}.${String(methodName)}` });
    }
  }
  const classLevel = Reflect.getMetadata(ROCKET_LISTENER_CLASS_METADATA, instance.constructor) as RocketListenerOptions[] | undefined;
  for (const options of classLevel ?? []) {
    out.push({ instance, className: name, methodName: CLASS_LISTENER_HANDLER, kind: 'class', options, id: `${name}.${CLASS_LISTENER_HANDLER}` });
  }
  return out;
}
