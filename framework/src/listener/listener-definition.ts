/**
 * Registration-time validation of `@RocketListener` options: unknown names, `${placeholder}`
 * resolution, types and ranges, mode rules (ORDERLY + BROADCASTING), then rocketmq-spring's
 * defaults. Every error names the listener (`Class.method`) and the option.
 */
import { CONSUMER_DEFAULTS } from '../client/client-options';
import type { ConsumeFromWhereName, MessageModelName } from '../client/consumer/consumer-types';
import { RocketListenerRegistrationError } from '../config/config-errors';
import { resolvePlaceholders } from '../config/placeholder-resolver';
import { suggest, type RocketryConfig } from '../config/rocketry-config';
import { resolveDedupOptions, type ResolvedDedupOptions } from '../dedup/dedup-definition';
import type { DeadLetterHook } from '../dlq/dead-letter';
import {
  ROCKET_LISTENER_DEFAULTS,
  ROCKET_LISTENER_OPTION_ALIASES,
  ROCKET_LISTENER_OPTION_NAMES,
  type PayloadType,
} from '../decorators/rocket-listener-options';

export interface ResolvedListenerOptions {
  topic: string;
  group: string;
  selector: string;
  /** Tags of the selector, or '*' for all. */
  tags: ReadonlySet<string> | '*';
  selectorType: 'TAG';
  orderly: boolean;
  messageModel: MessageModelName;
  /** As configured (-1 = mode default). */
  maxReconsumeTimes: number;
  /** What -1 means in this mode: 16 concurrently, Infinity orderly. */
  effectiveMaxReconsumeTimes: number;
  consumeThreadMax: number;
  consumeFromWhere: ConsumeFromWhereName;
  consumeTimestamp: number | undefined;
  suspendCurrentQueueTimeMillis: number;
  delayLevelWhenNextConsume: number;
  awaitTerminationMillisWhenShutdown: number;
  pullBatchSize: number;
  /** Decorator `enabled` AND `rocketmq.consumer.listeners.<group>.<topic>`. */
  enabled: boolean;
  instanceName: string;
  nameServer: string | undefined;
  payloadType: PayloadType;
  /** Validated `dedup` option (issue 6), or undefined. */
  dedup: ResolvedDedupOptions | undefined;
  /** Dead-letter hook (a function or a method name of the listener instance), or undefined. */
  onDeadLetter: DeadLetterHook | undefined;
}

const NAME_CHARS = /^[%|a-zA-Z0-9_-]+$/;
const MESSAGE_MODELS = ['CLUSTERING', 'BROADCASTING'] as const;
const FROM_WHERE = ['CONSUME_FROM_LAST_OFFSET', 'CONSUME_FROM_FIRST_OFFSET', 'CONSUME_FROM_TIMESTAMP'] as const;
const CONSUME_MODES = ['CONCURRENTLY', 'ORDERLY'] as const;
const PAYLOAD_TYPES = ['auto', 'json', 'string', 'buffer'] as const;

/** `'*'` → '*'; `'TagA || TagB'` → {TagA, TagB} (same parsing as the client's subscription data). */
export function parseTagSelector(selector: string): ReadonlySet<string> | '*' {
  const text = selector.trim();
  if (text === '' || text === '*') return '*';
  const tags = text
    .split('||')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  return tags.length === 0 ? '*' : new Set(tags);
}

export function resolveListenerOptions(raw: unknown, id: string, config?: RocketryConfig): ResolvedListenerOptions {
  const fail = (option: string | undefined, reason: string) => new RocketListenerRegistrationError(id, option, reason);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw fail(undefined, 'options must be an object with at least topic and group');
  const input = raw as Record<string, unknown>;
  const known = ROCKET_LISTENER_OPTION_NAMES as readonly string[];
  for (const key of Object.keys(input)) {
    if (known.includes(key)) continue;
    const alias = ROCKET_LISTENER_OPTION_ALIASES[key];
    throw fail(key, `unknown option${alias ? ` (did you mean ${alias}?)` : suggest(key, known)}; known options: ${known.join(', ')}`);
  }
  const lookup = (name: string) => config?.get(name) ?? process.env[name];
  const resolve = (option: string, value: string) => {
    try {
      return config ? config.resolve(value, `option '${option}'`) : resolvePlaceholders(value, lookup, `option '${option}'`);
    } catch (err) {
      throw fail(option, (err as Error).message);
    }
  };
  /** Placeholders resolved; undefined stays undefined. */
  const val = (option: string): unknown => {
    const v = input[option];
    return typeof v === 'string' ? resolve(option, v) : v;
  };
  const str = (option: string, required: boolean): string | undefined => {
    const v = val(option);
    if (v === undefined || v === null) {
      if (required) throw fail(option, `is required`);
      return undefined;
    }
    if (typeof v !== 'string') throw fail(option, `must be a string, got ${typeof v}`);
    if (v.trim() === '' && required) throw fail(option, `is required (resolved to an empty string)`);
    return v.trim();
  };
  const oneOf = <T extends string>(option: string, allowed: readonly T[], fallback: T): T => {
    const v = val(option) ?? fallback;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw fail(option, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  };
  const int = (option: string, fallback: number, min: number, max: number): number => {
    const v = val(option);
    if (v === undefined) return fallback;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) throw fail(option, `must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
    return n;
  };
  const bool = (option: string, fallback: boolean): boolean => {
    const v = val(option);
    if (v === undefined) return fallback;
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
    throw fail(option, `must be true or false, got ${JSON.stringify(v)}`);
  };

  const topic = str('topic', true)!;
  if (!NAME_CHARS.test(topic) || topic.length > 127) throw fail('topic', `${JSON.stringify(topic)} is not a valid topic (^[%|a-zA-Z0-9_-]+$, at most 127 characters)`);
  const group = str('group', true)!;
  if (!NAME_CHARS.test(group) || group.length > 255) throw fail('group', `${JSON.stringify(group)} is not a valid group (^[%|a-zA-Z0-9_-]+$, at most 255 characters)`);
  const selector = str('selector', false) ?? ROCKET_LISTENER_DEFAULTS.selector;
  const selectorType = oneOf('selectorType', ['TAG', 'SQL92'] as const, ROCKET_LISTENER_DEFAULTS.selectorType);
  if (selectorType === 'SQL92') throw fail('selectorType', 'SQL92 selectors are not supported by the Rocketry client; use TAG expressions (TagA || TagB)');

  const orderlyGiven = input.orderly !== undefined;
  const modeGiven = input.consumeMode !== undefined;
  const orderlyFlag = bool('orderly', ROCKET_LISTENER_DEFAULTS.orderly);
  const consumeMode = oneOf('consumeMode', CONSUME_MODES, orderlyFlag ? 'ORDERLY' : 'CONCURRENTLY');
  if (orderlyGiven && modeGiven && orderlyFlag !== (consumeMode === 'ORDERLY')) {
    throw fail('consumeMode', `consumeMode ${consumeMode} contradicts orderly: ${String(orderlyFlag)}; give one of them`);
  }
  const orderly = consumeMode === 'ORDERLY';
  const messageModel = oneOf('messageModel', MESSAGE_MODELS, ROCKET_LISTENER_DEFAULTS.messageModel);
  if (orderly && messageModel === 'BROADCASTING') {
    throw fail('messageModel', 'ORDERLY consumption cannot be combined with BROADCASTING (queue locks and ordering exist only per group in CLUSTERING); use CONCURRENTLY or CLUSTERING');
  }
  const maxReconsumeTimes = int('maxReconsumeTimes', ROCKET_LISTENER_DEFAULTS.maxReconsumeTimes, -1, 2_147_483_647);
  const delayLevelWhenNextConsume = int('delayLevelWhenNextConsume', ROCKET_LISTENER_DEFAULTS.delayLevelWhenNextConsume, -1, 1_000);
  if (orderly && delayLevelWhenNextConsume !== 0) {
    throw fail('delayLevelWhenNextConsume', 'applies to CONCURRENTLY listeners only; an ORDERLY listener suspends its queue instead (suspendCurrentQueueTimeMillis)');
  }

  const consumeFromWhere = oneOf('consumeFromWhere', FROM_WHERE, ROCKET_LISTENER_DEFAULTS.consumeFromWhere);
  let consumeTimestamp: number | undefined;
  const tsRaw = val('consumeTimestamp');
  if (tsRaw !== undefined) {
    consumeTimestamp =
      tsRaw instanceof Date ? tsRaw.getTime() : typeof tsRaw === 'number' ? tsRaw : typeof tsRaw === 'string' ? (/^\d+$/.test(tsRaw) ? Number(tsRaw) : Date.parse(tsRaw)) : NaN;
    if (!Number.isFinite(consumeTimestamp)) throw fail('consumeTimestamp', `must be epoch ms, a Date or an ISO date, got ${JSON.stringify(tsRaw)}`);
  }

  let dedup: ResolvedDedupOptions | undefined;
  if (input.dedup !== undefined) {
    if (messageModel === 'BROADCASTING') throw fail('dedup', 'applies to CLUSTERING listeners only (every BROADCASTING consumer must see every message, and failed broadcast messages are not retried)');
    dedup = resolveDedupOptions(input.dedup, (field, reason) => fail(field ? `dedup.${field}` : 'dedup', reason), (field, value) => resolve(`dedup.${field}`, value));
  }
  const onDeadLetter = input.onDeadLetter;
  if (onDeadLetter !== undefined) {
    if (typeof onDeadLetter !== 'function' && (typeof onDeadLetter !== 'string' || onDeadLetter.length === 0)) {
      throw fail('onDeadLetter', 'must be a function (message, reason) => void or the name of a method of the listener');
    }
    if (messageModel === 'BROADCASTING') throw fail('onDeadLetter', 'BROADCASTING listeners have no dead-letter queue (failed broadcast messages are dropped)');
  }

  const instanceName = str('instanceName', false) ?? config?.consumer.instanceName ?? ROCKET_LISTENER_DEFAULTS.instanceName;
  const nameServer = str('nameServer', false) || config?.nameServer;
  const enabledFlag = bool('enabled', ROCKET_LISTENER_DEFAULTS.enabled);
  return {
    topic,
    group,
    selector,
    tags: parseTagSelector(selector),
    selectorType,
    orderly,
    messageModel,
    maxReconsumeTimes,
    effectiveMaxReconsumeTimes: maxReconsumeTimes === -1 ? (orderly ? Number.POSITIVE_INFINITY : CONSUMER_DEFAULTS.maxReconsumeTimesConcurrently) : maxReconsumeTimes,
    consumeThreadMax: int('consumeThreadMax', ROCKET_LISTENER_DEFAULTS.consumeThreadMax, 1, 1_000),
    consumeFromWhere,
    consumeTimestamp,
    suspendCurrentQueueTimeMillis: int('suspendCurrentQueueTimeMillis', ROCKET_LISTENER_DEFAULTS.suspendCurrentQueueTimeMillis, 10, 30_000),
    delayLevelWhenNextConsume,
    awaitTerminationMillisWhenShutdown: int('awaitTerminationMillisWhenShutdown', ROCKET_LISTENER_DEFAULTS.awaitTerminationMillisWhenShutdown, 0, 3_600_000),
    pullBatchSize: int('pullBatchSize', ROCKET_LISTENER_DEFAULTS.pullBatchSize, 1, 1_024),
    enabled: enabledFlag && (config?.isListenerEnabled(group, topic) ?? true),
    instanceName,
    nameServer: nameServer || undefined,
    payloadType: oneOf('payloadType', PAYLOAD_TYPES, ROCKET_LISTENER_DEFAULTS.payloadType),
    dedup,
    onDeadLetter: onDeadLetter as DeadLetterHook | undefined,
  };
}
