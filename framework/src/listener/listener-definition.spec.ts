import { describe, expect, it } from 'vitest';
import { RocketListenerRegistrationError } from '../config/config-errors';
import { resolveRocketryConfig } from '../config/rocketry-config';
import { resolveListenerOptions } from './listener-definition';

const config = resolveRocketryConfig({
  nameServer: '127.0.0.1:9876',
  properties: { 'orders.topic': 'OrdersT', 'orders.threads': 8, 'rocketmq.consumer.listeners.off-cg.OrdersT': false },
  env: { ORDERS_GROUP: 'orders-from-env' },
});

function err(fn: () => unknown): RocketListenerRegistrationError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RocketListenerRegistrationError);
    return e as RocketListenerRegistrationError;
  }
  throw new Error('expected a registration error');
}

describe('@RocketListener options at registration', () => {
  it("applies rocketmq-spring's defaults", () => {
    const o = resolveListenerOptions({ topic: 'T', group: 'g' }, 'A.m', config);
    expect(o).toMatchObject({
      selector: '*',
      tags: '*',
      selectorType: 'TAG',
      orderly: false,
      messageModel: 'CLUSTERING',
      maxReconsumeTimes: -1,
      effectiveMaxReconsumeTimes: 16,
      consumeThreadMax: 64,
      consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET',
      suspendCurrentQueueTimeMillis: 1000,
      delayLevelWhenNextConsume: 0,
      awaitTerminationMillisWhenShutdown: 1000,
      pullBatchSize: 32,
      enabled: true,
      instanceName: 'DEFAULT',
      nameServer: '127.0.0.1:9876',
      payloadType: 'auto',
    });
  });

  it('maxReconsumeTimes -1 means unlimited for orderly; consumeMode ORDERLY equals orderly: true', () => {
    expect(resolveListenerOptions({ topic: 'T', group: 'g', orderly: true }, 'A.m', config).effectiveMaxReconsumeTimes).toBe(Infinity);
    const o = resolveListenerOptions({ topic: 'T', group: 'g', consumeMode: 'ORDERLY', maxReconsumeTimes: 3 }, 'A.m', config);
    expect([o.orderly, o.effectiveMaxReconsumeTimes]).toEqual([true, 3]);
    expect(err(() => resolveListenerOptions({ topic: 'T', group: 'g', orderly: false, consumeMode: 'ORDERLY' }, 'A.m', config)).message).toMatch(
      /A\.m: option 'consumeMode'.*contradicts orderly/,
    );
  });

  it('ORDERLY with BROADCASTING fails, naming listener and option', () => {
    const e = err(() => resolveListenerOptions({ topic: 'T', group: 'g', orderly: true, messageModel: 'BROADCASTING' }, 'OrderSteps.onStep', config));
    expect(e.message).toMatch(/^@RocketListener on OrderSteps\.onStep: option 'messageModel': ORDERLY consumption cannot be combined with BROADCASTING/);
    expect(e.option).toBe('messageModel');
    expect(e.code).toBe('ILLEGAL_ARGUMENT');
  });

  it('missing topic or group, and unknown options (with a suggestion) fail clearly', () => {
    expect(err(() => resolveListenerOptions({ group: 'g' }, 'A.m', config)).message).toBe("@RocketListener on A.m: option 'topic': is required");
    expect(err(() => resolveListenerOptions({ topic: 'T' }, 'A.m', config)).message).toBe("@RocketListener on A.m: option 'group': is required");
    expect(err(() => resolveListenerOptions({ topic: 'T', group: 'g', consumerGroup: 'x' }, 'A.m', config)).message).toMatch(
      /option 'consumerGroup': unknown option \(did you mean group\?\)/,
    );
    expect(err(() => resolveListenerOptions({ topic: 'T', group: 'g', maxReconsumeTime: 3 }, 'A.m', config)).message).toMatch(
      /option 'maxReconsumeTime': unknown option \(did you mean maxReconsumeTimes\?\)/,
    );
    expect(err(() => resolveListenerOptions({ topic: 'bad topic!', group: 'g' }, 'A.m', config)).message).toMatch(/option 'topic'.*not a valid topic/);
  });

  it('types and ranges are checked', () => {
    expect(err(() => resolveListenerOptions({ topic: 'T', group: 'g', consumeThreadMax: 0 }, 'A.m', config)).message).toMatch(/consumeThreadMax.*\[1, 1000\]/);
    expect(err(() => resolveListenerOptions({ topic: 'T', group: 'g', suspendCurrentQueueTimeMillis: 5 }, 'A.m', config)).message).toMatch(/\[10, 30000\]/);
    expect(err(() => resolveListenerOptions({ topic: 'T', group: 'g', messageModel: 'FANOUT' }, 'A.m', config)).message).toMatch(/one of CLUSTERING, BROADCASTING/);
    expect(err(() => resolveListenerOptions({ topic: 'T', group: 'g', selectorType: 'SQL92' }, 'A.m', config)).message).toMatch(/SQL92 selectors are not supported/);
    expect(err(() => resolveListenerOptions({ topic: 'T', group: 'g', orderly: true, delayLevelWhenNextConsume: 3 }, 'A.m', config)).message).toMatch(
      /CONCURRENTLY listeners only/,
    );
    expect(err(() => resolveListenerOptions(undefined, 'A.m', config)).message).toMatch(/options must be an object/);
  });

  it('resolves ${placeholders} from properties and the environment, with defaults', () => {
    const o = resolveListenerOptions(
      { topic: '${orders.topic}', group: '${orders.group}', consumeThreadMax: '${orders.threads}', selector: '${orders.tags:A || B}', enabled: '${orders.enabled:true}' },
      'A.m',
      config,
    );
    expect([o.topic, o.group, o.consumeThreadMax, o.selector, [...(o.tags as Set<string>)], o.enabled]).toEqual(['OrdersT', 'orders-from-env', 8, 'A || B', ['A', 'B'], true]);
    expect(err(() => resolveListenerOptions({ topic: '${missing.topic}', group: 'g' }, 'A.m', config)).message).toMatch(
      /A\.m: option 'topic'.*\$\{missing\.topic\}.*has no value.*MISSING_TOPIC/,
    );
  });

  it('enabled: false and rocketmq.consumer.listeners.<group>.<topic>=false switch a listener off', () => {
    expect(resolveListenerOptions({ topic: 'T', group: 'g', enabled: false }, 'A.m', config).enabled).toBe(false);
    expect(resolveListenerOptions({ topic: 'OrdersT', group: 'off-cg' }, 'A.m', config).enabled).toBe(false);
    expect(resolveListenerOptions({ topic: 'Other', group: 'off-cg' }, 'A.m', config).enabled).toBe(true);
  });
});
