import { describe, expect, it } from 'vitest';
import { RocketryConfigError } from './config-errors';
import { relaxedEnvName, resolvePlaceholders } from './placeholder-resolver';
import { resolveRocketryConfig } from './rocketry-config';

describe('Rocketry configuration (rocketmq-spring names)', () => {
  it('defaults match RocketMQProperties', () => {
    const c = resolveRocketryConfig({ env: false });
    expect(c.nameServer).toBeUndefined();
    expect(c.producer).toEqual({
      group: undefined,
      sendMessageTimeout: 3000,
      compressMessageBodyThreshold: 4096,
      retryTimesWhenSendFailed: 2,
      retryTimesWhenSendAsyncFailed: 2,
      retryNextServer: false,
      maxMessageSize: 4 * 1024 * 1024,
      instanceName: 'DEFAULT',
    });
  });

  it('options object < flat properties < environment (ROCKETMQ_*), with values converted', () => {
    const c = resolveRocketryConfig({
      nameServer: 'a:1',
      producer: { group: 'pg', sendMessageTimeout: 1000, retryTimesWhenSendFailed: 5 },
      properties: { 'rocketmq.producer.send-message-timeout': '2000', 'rocketmq.producer.retry-next-server': 'true' },
      env: { ROCKETMQ_NAME_SERVER: 'env:9876', ROCKETMQ_PRODUCER_RETRY_TIMES_WHEN_SEND_FAILED: '7', ROCKETMQ_PRODUCER_MAX_MESSAGE_SIZE: '1024' },
    });
    expect(c.nameServer).toBe('env:9876');
    expect(c.producer).toMatchObject({ group: 'pg', sendMessageTimeout: 2000, retryTimesWhenSendFailed: 7, retryNextServer: true, maxMessageSize: 1024 });
    expect(c.get('rocketmq.producer.group')).toBe('pg');
  });

  it('unknown keys and bad values fail with the key and its source', () => {
    expect(() => resolveRocketryConfig({ env: false, properties: { 'rocketmq.producer.grup': 'x' } })).toThrow(
      /unknown configuration key rocketmq\.producer\.grup \(from properties\['rocketmq\.producer\.grup'\]\) \(did you mean rocketmq\.producer\.group\?\)/,
    );
    expect(() => resolveRocketryConfig({ env: false, producer: { grup: 'x' } as never })).toThrow(/unknown option producer\.grup \(did you mean group\?\)/);
    expect(() => resolveRocketryConfig({ env: false, nameSrv: 'x' } as never)).toThrow(/unknown option nameSrv/);
    expect(() => resolveRocketryConfig({ env: { ROCKETMQ_PRODUCER_SEND_MESSAGE_TIMEOUT: '3s' } })).toThrow(
      /rocketmq\.producer\.send-message-timeout must be an integer >= 1, got "3s" \(from env ROCKETMQ_PRODUCER_SEND_MESSAGE_TIMEOUT\)/,
    );
    expect(() => resolveRocketryConfig({ env: false, producer: { retryTimesWhenSendFailed: -1 } })).toThrow(RocketryConfigError);
    expect(() => resolveRocketryConfig({ env: false, properties: { 'rocketmq.consumer.listeners.g.T': 'maybe' } })).toThrow(/true or false/);
  });

  it('per-listener enable flags from the object and flat properties', () => {
    const c = resolveRocketryConfig({
      env: false,
      consumer: { listeners: { g1: { T1: false } } },
      properties: { 'rocketmq.consumer.listeners.g2.T2': 'false', 'rocketmq.consumer.listeners.g3.T3': true },
    });
    expect([c.isListenerEnabled('g1', 'T1'), c.isListenerEnabled('g2', 'T2'), c.isListenerEnabled('g3', 'T3'), c.isListenerEnabled('g1', 'other')]).toEqual([
      false,
      false,
      true,
      true,
    ]);
  });

  it('placeholders: nested defaults, relaxed env names, unresolvable ones named', () => {
    const lookup = (n: string) => ({ a: 'A', 'b.c': 'BC' })[n];
    expect(resolvePlaceholders('x-${a}-${b.c}-${none:d}-${none:${a}}', lookup)).toBe('x-A-BC-d-A');
    expect(resolvePlaceholders('${empty:}', lookup)).toBe('');
    expect(() => resolvePlaceholders('${nope}', lookup, 'topic')).toThrow(/topic: placeholder \$\{nope\} .* has no value/);
    expect(relaxedEnvName('rocketmq.name-server')).toBe('ROCKETMQ_NAME_SERVER');
    const c = resolveRocketryConfig({ env: { ORDERS_TOPIC: 'FromEnv' } });
    expect(c.resolve('${orders.topic}')).toBe('FromEnv');
  });
});
