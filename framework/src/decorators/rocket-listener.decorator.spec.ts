import { describe, expect, it } from 'vitest';
import { exploreListeners, hasRocketListeners } from '../listener/listener-metadata-explorer';
import { ROCKET_LISTENER_CLASS_METADATA, ROCKET_LISTENER_METHOD_METADATA, ROCKET_LISTENER_METHODS_METADATA } from './constants';
import { RocketListener, rocketListenerClasses } from './rocket-listener.decorator';

class Orders {
  @RocketListener({ topic: 'Orders', group: 'orders-cg', selector: 'Created' })
  @RocketListener({ topic: 'Orders', group: 'audit-cg' })
  onCreated(): void {}

  @RocketListener({ topic: 'Payments', group: 'orders-cg', orderly: true })
  onPaid(): void {}

  notAListener(): void {}
}

@RocketListener({ topic: 'Refunds', group: 'refunds-cg' })
class RefundListener {
  onMessage(): void {}
}

class BaseListener {
  @RocketListener({ topic: 'Base', group: 'base-cg' })
  handle(): string {
    return 'base';
  }
}
class DerivedListener extends BaseListener {
  override handle(): string {
    return 'derived';
  }
  @RocketListener({ topic: 'Derived', group: 'derived-cg' })
  own(): void {}
}

describe('@RocketListener metadata', () => {
  it('writes method options on the method and the method names on the class (keys from constants)', () => {
    expect(Reflect.getOwnMetadata(ROCKET_LISTENER_METHODS_METADATA, Orders)).toEqual(['onCreated', 'onPaid']);
    const onCreated = Reflect.getOwnMetadata(ROCKET_LISTENER_METHOD_METADATA, Orders.prototype.onCreated) as unknown[];
    expect(onCreated).toHaveLength(2);
    expect(Reflect.getOwnMetadata(ROCKET_LISTENER_CLASS_METADATA, RefundListener)).toEqual([{ topic: 'Refunds', group: 'refunds-cg' }]);
    expect(rocketListenerClasses()).toEqual(expect.arrayContaining([Orders, RefundListener, BaseListener, DerivedListener]));
    expect(hasRocketListeners(Orders)).toBe(true);
    expect(hasRocketListeners(class Plain {})).toBe(false);
  });

  it('the explorer lists every method declaration and class-level onMessage', () => {
    const found = exploreListeners(new Orders()).map((d) => [d.id, d.kind, d.options.topic, d.options.group]);
    expect(found).toEqual(
      expect.arrayContaining([
        ['Orders.onCreated', 'method', 'Orders', 'audit-cg'],
        ['Orders.onCreated', 'method', 'Orders', 'orders-cg'],
        ['Orders.onPaid', 'method', 'Payments', 'orders-cg'],
      ]),
    );
    expect(found).toHaveLength(3);
    expect(exploreListeners(new RefundListener()).map((d) => [d.id, d.kind, d.methodName])).toEqual([['RefundListener.onMessage', 'class', 'onMessage']]);
  });

  it('inherited declarations are found; an undecorated override keeps the declaration and runs the override', () => {
    const d = new DerivedListener();
    const found = exploreListeners(d);
    expect(found.map((x) => x.id).sort()).toEqual(['DerivedListener.handle', 'DerivedListener.own']);
    const handle = found.find((x) => x.methodName === 'handle')!;
    expect(handle.options.topic).toBe('Base');
    expect((d as unknown as Record<string, () => string>)[handle.methodName as string]!()).toBe('derived');
  });

  it('the options literal is copied when decorating', () => {
    const opts = { topic: 'T1', group: 'g1' };
    class C {
      @RocketListener(opts)
      m(): void {}
    }
    opts.topic = 'changed';
    expect(exploreListeners(new C())[0]!.options.topic).toBe('T1');
  });
});
