/**
 * `@RocketListener(options)`: marks a method (any number per class, any topics and groups) or a class
 * whose `onMessage(payload, message)` handles the messages. It only records metadata (keys in
 * constants.ts); the listener explorer reads it and the listener container validates it at
 * registration, so a bad option names the class and method there.
 *
 * The handler receives the converted payload first and the raw `MessageExt` second. Returning
 * (nothing or 'CONSUME_SUCCESS') means consumed; throwing or returning 'RECONSUME_LATER' means
 * retry (concurrent) or suspend the queue (orderly).
 */
import 'reflect-metadata';
import {
  ROCKET_LISTENER_CLASS_METADATA,
  ROCKET_LISTENER_METHOD_METADATA,
  ROCKET_LISTENER_METHODS_METADATA,
} from './constants';
import type { RocketListenerOptions } from './rocket-listener-options';

/** Classes that carry `@RocketListener` anywhere (class or method), in declaration order. */
const decoratedClasses = new Set<abstract new (...args: never[]) => unknown>();

/** Every class decorated with `@RocketListener` so far (used by containers that cannot enumerate their bindings). */
export function rocketListenerClasses(): ReadonlyArray<abstract new (...args: never[]) => unknown> {
  return [...decoratedClasses];
}

function appendOwn<T>(key: symbol, target: object, value: T): void {
  const existing = Reflect.getOwnMetadata(key, target) as T[] | undefined;
  Reflect.defineMetadata(key, [...(existing ?? []), value], target);
}

/** Copies the options so later mutation of the literal cannot change what was registered. */
function snapshot(options: RocketListenerOptions): RocketListenerOptions {
  return { ...(options ?? ({} as RocketListenerOptions)) };
}

/** The parts of a TC39 (non-`experimentalDecorators`) decorator context used here. */
interface DecoratorContextLike {
  kind: string;
  name?: string | symbol;
  addInitializer?: (fn: (this: object) => void) => void;
}

function isDecoratorContext(x: unknown): x is DecoratorContextLike {
  return typeof x === 'object' && x !== null && typeof (x as DecoratorContextLike).kind === 'string';
}

/**
 * TC39 decorators (a build without `experimentalDecorators`): the class is not known while a method
 * is decorated, so the method's name is recorded on its class when the first instance is built.
 */
function recordStandardDecorator(value: object, context: DecoratorContextLike, opts: RocketListenerOptions): void {
  if (context.kind === 'class') {
    appendOwn(ROCKET_LISTENER_CLASS_METADATA, value, opts);
    decoratedClasses.add(value as abstract new (...args: never[]) => unknown);
    return;
  }
  if (context.kind !== 'method' || context.name === undefined || typeof value !== 'function') {
    throw new TypeError(`@RocketListener applies to classes and methods, not to a ${context.kind}`);
  }
  appendOwn(ROCKET_LISTENER_METHOD_METADATA, value, opts);
  const name = context.name;
  context.addInitializer?.(function (this: object) {
    // Record on the class that owns the method (a base class when inherited).
    let owner: object | null = Object.getPrototypeOf(this) as object | null;
    while (owner && !Object.prototype.hasOwnProperty.call(owner, name)) owner = Object.getPrototypeOf(owner) as object | null;
    const target = (owner ?? Object.getPrototypeOf(this)).constructor as abstract new (...args: never[]) => unknown;
    const names = (Reflect.getOwnMetadata(ROCKET_LISTENER_METHODS_METADATA, target) as (string | symbol)[] | undefined) ?? [];
    if (!names.includes(name)) Reflect.defineMetadata(ROCKET_LISTENER_METHODS_METADATA, [...names, name], target);
    decoratedClasses.add(target);
  });
}

export function RocketListener(options: RocketListenerOptions): ClassDecorator & MethodDecorator {
  const opts = snapshot(options);
  return ((target: object, propertyKey?: string | symbol | DecoratorContextLike, descriptor?: PropertyDescriptor) => {
    if (isDecoratorContext(propertyKey)) {
      recordStandardDecorator(target, propertyKey, opts);
      return;
    }
    if (propertyKey === undefined) {
      // Class decorator: target is the constructor.
      appendOwn(ROCKET_LISTENER_CLASS_METADATA, target, opts);
      decoratedClasses.add(target as abstract new (...args: never[]) => unknown);
      return;
    }
    if (!descriptor || typeof descriptor.value !== 'function') {
      // Recorded anyway; the explorer reports it with the class and member name.
      appendOwn(ROCKET_LISTENER_METHODS_METADATA, target.constructor, propertyKey);
      decoratedClasses.add(target.constructor as abstract new (...args: never[]) => unknown);
      return;
    }
    appendOwn(ROCKET_LISTENER_METHOD_METADATA, descriptor.value as object, opts);
    const names = (Reflect.getOwnMetadata(ROCKET_LISTENER_METHODS_METADATA, target.constructor) as (string | symbol)[] | undefined) ?? [];
    if (!names.includes(propertyKey)) Reflect.defineMetadata(ROCKET_LISTENER_METHODS_METADATA, [...names, propertyKey], target.constructor);
    decoratedClasses.add(target.constructor as abstract new (...args: never[]) => unknown);
  }) as ClassDecorator & MethodDecorator;
}
