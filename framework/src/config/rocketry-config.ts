/**
 * Framework configuration with rocketmq-spring's property names (`RocketMQProperties`,
 * feature-anchors.md §1.5), mapped to TypeScript:
 *
 * | property                                              | option                                   | default |
 * |-------------------------------------------------------|------------------------------------------|---------|
 * | `rocketmq.name-server`                                | `nameServer`                             | –       |
 * | `rocketmq.producer.group`                             | `producer.group`                         | –       |
 * | `rocketmq.producer.send-message-timeout`              | `producer.sendMessageTimeout` (ms)       | 3000    |
 * | `rocketmq.producer.compress-message-body-threshold`   | `producer.compressMessageBodyThreshold`  | 4096    |
 * | `rocketmq.producer.retry-times-when-send-failed`      | `producer.retryTimesWhenSendFailed`      | 2       |
 * | `rocketmq.producer.retry-times-when-send-async-failed`| `producer.retryTimesWhenSendAsyncFailed` | 2       |
 * | `rocketmq.producer.retry-next-server`                 | `producer.retryNextServer`               | false   |
 * | `rocketmq.producer.max-message-size`                  | `producer.maxMessageSize` (bytes)        | 4194304 |
 * | `rocketmq.producer.instance-name`                     | `producer.instanceName`                  | DEFAULT |
 * | `rocketmq.consumer.instance-name`                     | `consumer.instanceName`                  | DEFAULT |
 * | `rocketmq.consumer.listeners.<group>.<topic>`         | `consumer.listeners[group][topic]`       | true    |
 *
 * Sources, lowest precedence first: defaults, the options object, `properties` (flat Spring-style
 * keys), then environment variables named by Spring's relaxed binding (`ROCKETMQ_NAME_SERVER`,
 * `ROCKETMQ_PRODUCER_GROUP`, `ROCKETMQ_PRODUCER_SEND_MESSAGE_TIMEOUT`, ...), as in Spring Boot where
 * the environment overrides application.properties. Pass `env: false` to ignore the environment.
 * Unknown `rocketmq.*` keys and bad values fail with a RocketryConfigError naming key and source.
 */
import { PRODUCER_DEFAULTS } from '../client/client-options';
import { RocketryConfigError } from './config-errors';
import { relaxedEnvName, resolvePlaceholders } from './placeholder-resolver';

export interface RocketProducerProperties {
  /** `rocketmq.producer.group`. The template's producer exists only when this and `nameServer` are set. */
  group?: string;
  /** @defaultValue 3000 (ms) */
  sendMessageTimeout?: number;
  /** @defaultValue 4096 (bytes) */
  compressMessageBodyThreshold?: number;
  /** @defaultValue 2 */
  retryTimesWhenSendFailed?: number;
  /** @defaultValue 2 */
  retryTimesWhenSendAsyncFailed?: number;
  /** Retry on another broker when the store status is not SEND_OK. @defaultValue false */
  retryNextServer?: boolean;
  /** @defaultValue 4194304 (bytes) */
  maxMessageSize?: number;
  /** @defaultValue 'DEFAULT' */
  instanceName?: string;
}

export interface RocketConsumerProperties {
  /** Default instance name of listener consumers. @defaultValue 'DEFAULT' */
  instanceName?: string;
  /** `listeners.<group>.<topic> = false` switches that listener off. */
  listeners?: Record<string, Record<string, boolean>>;
}

export type PropertyValue = string | number | boolean;
export type EnvSource = Readonly<Record<string, string | undefined>>;

export interface RocketryOptions {
  /** `rocketmq.name-server`: `'host:port'` or `'h1:p;h2:p'`. */
  nameServer?: string;
  producer?: RocketProducerProperties;
  consumer?: RocketConsumerProperties;
  /** Flat properties: `rocketmq.*` keys are bound and validated; any other key is a placeholder value. */
  properties?: Record<string, PropertyValue>;
  /** Environment for `ROCKETMQ_*` variables and placeholders. @defaultValue process.env; `false` ignores it */
  env?: EnvSource | false;
}

export interface ResolvedProducerProperties {
  group: string | undefined;
  sendMessageTimeout: number;
  compressMessageBodyThreshold: number;
  retryTimesWhenSendFailed: number;
  retryTimesWhenSendAsyncFailed: number;
  retryNextServer: boolean;
  maxMessageSize: number;
  instanceName: string;
}

export interface RocketryConfig {
  nameServer: string | undefined;
  producer: ResolvedProducerProperties;
  consumer: { instanceName: string; listeners: Record<string, Record<string, boolean>> };
  /** A property by its flat name (`rocketmq.name-server`, `orders.topic`), environment included. */
  get(name: string): string | undefined;
  /** Resolves `${name}` / `${name:default}` against this configuration. */
  resolve(text: string, what?: string): string;
  /** False when `rocketmq.consumer.listeners.<group>.<topic>` is false. */
  isListenerEnabled(group: string, topic: string): boolean;
}

type KeyType = 'string' | 'int' | 'bool';
interface KeySpec {
  type: KeyType;
  /** Smallest allowed integer. */
  min?: number;
}

const PRODUCER_KEYS: Record<keyof RocketProducerProperties, { key: string } & KeySpec> = {
  group: { key: 'rocketmq.producer.group', type: 'string' },
  sendMessageTimeout: { key: 'rocketmq.producer.send-message-timeout', type: 'int', min: 1 },
  compressMessageBodyThreshold: { key: 'rocketmq.producer.compress-message-body-threshold', type: 'int', min: 1 },
  retryTimesWhenSendFailed: { key: 'rocketmq.producer.retry-times-when-send-failed', type: 'int', min: 0 },
  retryTimesWhenSendAsyncFailed: { key: 'rocketmq.producer.retry-times-when-send-async-failed', type: 'int', min: 0 },
  retryNextServer: { key: 'rocketmq.producer.retry-next-server', type: 'bool' },
  maxMessageSize: { key: 'rocketmq.producer.max-message-size', type: 'int', min: 1 },
  instanceName: { key: 'rocketmq.producer.instance-name', type: 'string' },
};

/** Every fixed `rocketmq.*` key (listener flags are matched by LISTENER_KEY). */
export const ROCKETMQ_PROPERTY_KEYS: Readonly<Record<string, KeySpec>> = {
  'rocketmq.name-server': { type: 'string' },
  ...Object.fromEntries(Object.values(PRODUCER_KEYS).map(({ key, ...spec }) => [key, spec])),
  'rocketmq.consumer.instance-name': { type: 'string' },
};

const LISTENER_KEY = /^rocketmq\.consumer\.listeners\.([^.]+)\.([^.]+)$/;

interface Entry {
  value: PropertyValue;
  source: string;
}

function levenshtein(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/** "did you mean X?" for the closest candidate within a small edit distance. */
export function suggest(name: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = levenshtein(name.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? ` (did you mean ${best}?)` : '';
}

function checkObjectKeys(obj: object, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new RocketryConfigError(`unknown option ${where}${k}${suggest(k, allowed)}; known: ${allowed.join(', ')}`);
  }
}

function convert(key: string, spec: KeySpec, entry: Entry): PropertyValue {
  const { value, source } = entry;
  const bad = (expected: string) =>
    new RocketryConfigError(`${key} must be ${expected}, got ${JSON.stringify(value)} (from ${source})`);
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string' || value.trim() === '') throw bad('a non-empty string');
      return value.trim();
    case 'bool':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === 'false') return value === 'true';
      throw bad('true or false');
    case 'int': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
      const min = spec.min ?? 0;
      if (!Number.isSafeInteger(n) || n < min) throw bad(`an integer >= ${min}`);
      return n;
    }
  }
}

/** Builds and validates the configuration (see the table at the top of this file). */
export function resolveRocketryConfig(options: RocketryOptions = {}): RocketryConfig {
  checkObjectKeys(options, ['nameServer', 'producer', 'consumer', 'properties', 'env'], '');
  const env: EnvSource = options.env === false ? {} : (options.env ?? process.env);
  const entries = new Map<string, Entry>();
  const put = (key: string, value: PropertyValue | undefined, source: string) => {
    if (value !== undefined) entries.set(key, { value, source });
  };

  // 1. the options object
  put('rocketmq.name-server', options.nameServer, 'options.nameServer');
  if (options.producer !== undefined) {
    checkObjectKeys(options.producer, Object.keys(PRODUCER_KEYS), 'producer.');
    for (const [name, spec] of Object.entries(PRODUCER_KEYS)) {
      put(spec.key, options.producer[name as keyof RocketProducerProperties], `options.producer.${name}`);
    }
  }
  if (options.consumer !== undefined) {
    checkObjectKeys(options.consumer, ['instanceName', 'listeners'], 'consumer.');
    put('rocketmq.consumer.instance-name', options.consumer.instanceName, 'options.consumer.instanceName');
    for (const [group, topics] of Object.entries(options.consumer.listeners ?? {})) {
      for (const [topic, on] of Object.entries(topics)) put(`rocketmq.consumer.listeners.${group}.${topic}`, on, `options.consumer.listeners.${group}.${topic}`);
    }
  }
  // 2. flat properties
  const extra = new Map<string, string>();
  for (const [key, value] of Object.entries(options.properties ?? {})) {
    if (key.startsWith('rocketmq.')) put(key, value, `properties['${key}']`);
    else extra.set(key, String(value));
  }
  // 3. environment (relaxed names of the fixed keys)
  for (const key of Object.keys(ROCKETMQ_PROPERTY_KEYS)) {
    const name = relaxedEnvName(key);
    const v = env[name];
    if (v !== undefined && v !== '') put(key, v, `env ${name}`);
  }

  const values = new Map<string, PropertyValue>();
  const listeners: Record<string, Record<string, boolean>> = {};
  for (const [key, entry] of entries) {
    const listener = LISTENER_KEY.exec(key);
    if (listener) {
      const on = convert(key, { type: 'bool' }, entry) as boolean;
      (listeners[listener[1]!] ??= {})[listener[2]!] = on;
      values.set(key, on);
      continue;
    }
    const spec = ROCKETMQ_PROPERTY_KEYS[key];
    if (!spec) {
      throw new RocketryConfigError(
        `unknown configuration key ${key} (from ${entry.source})${suggest(key, Object.keys(ROCKETMQ_PROPERTY_KEYS))}; known: ${Object.keys(ROCKETMQ_PROPERTY_KEYS).join(', ')}, rocketmq.consumer.listeners.<group>.<topic>`,
      );
    }
    values.set(key, convert(key, spec, entry));
  }

  const str = (k: string) => values.get(k) as string | undefined;
  const num = (k: string, d: number) => (values.get(k) as number | undefined) ?? d;
  const get = (name: string): string | undefined => {
    const v = values.get(name);
    if (v !== undefined) return String(v);
    const e = extra.get(name);
    if (e !== undefined) return e;
    return env[relaxedEnvName(name)] ?? env[name];
  };
  return {
    nameServer: str('rocketmq.name-server'),
    producer: {
      group: str('rocketmq.producer.group'),
      sendMessageTimeout: num('rocketmq.producer.send-message-timeout', PRODUCER_DEFAULTS.sendMsgTimeoutMs),
      compressMessageBodyThreshold: num('rocketmq.producer.compress-message-body-threshold', PRODUCER_DEFAULTS.compressMsgBodyOverHowmuch),
      retryTimesWhenSendFailed: num('rocketmq.producer.retry-times-when-send-failed', PRODUCER_DEFAULTS.retryTimesWhenSendFailed),
      retryTimesWhenSendAsyncFailed: num('rocketmq.producer.retry-times-when-send-async-failed', PRODUCER_DEFAULTS.retryTimesWhenSendAsyncFailed),
      retryNextServer: (values.get('rocketmq.producer.retry-next-server') as boolean | undefined) ?? PRODUCER_DEFAULTS.retryAnotherBrokerWhenNotStoreOK,
      maxMessageSize: num('rocketmq.producer.max-message-size', PRODUCER_DEFAULTS.maxMessageSize),
      instanceName: str('rocketmq.producer.instance-name') ?? 'DEFAULT',
    },
    consumer: { instanceName: str('rocketmq.consumer.instance-name') ?? 'DEFAULT', listeners },
    get,
    resolve: (text, what) => resolvePlaceholders(text, get, what),
    isListenerEnabled: (group, topic) => listeners[group]?.[topic] !== false,
  };
}
