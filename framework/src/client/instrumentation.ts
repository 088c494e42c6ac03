/**
 * Typed client events for metrics and logging. Emitting is cheap when nobody listens: callers check
 * `has(name)` before building an event object on hot paths. A throwing listener is isolated (logged
 * to the `listenerError` hook) so instrumentation can never break a send or a consume.
 */
import type { MessageQueue } from '@rocketry/broker/protocol';

export interface SendEvent {
  topic: string;
  producerGroup: string;
  messageQueue: MessageQueue;
  brokerAddr: string;
  /** UNIQ_KEY (comma-joined for a batch). */
  msgId: string;
  status: string;
  /** Messages in this send (1 unless batch). */
  count: number;
  /** Attempts used (1 = no retry). */
  attempts: number;
  elapsedMs: number;
  mode: 'sync' | 'async' | 'oneway';
}

export interface SendFailureEvent {
  topic: string;
  producerGroup: string;
  error: Error;
  attempts: number;
  elapsedMs: number;
  mode: 'sync' | 'async' | 'oneway';
}

export interface RetryEvent {
  topic: string;
  producerGroup: string;
  /** The attempt about to start (2 = first retry). */
  attempt: number;
  /** Broker that failed the previous attempt. */
  brokerName: string | undefined;
  error: Error;
}

export interface PullEvent {
  consumerGroup: string;
  messageQueue: MessageQueue;
  /** FOUND | NO_NEW_MSG | NO_MATCHED_MSG | OFFSET_ILLEGAL | ERROR */
  status: string;
  messageCount: number;
  nextBeginOffset: number;
  elapsedMs: number;
  error?: Error;
}

export interface ConsumeEvent {
  consumerGroup: string;
  topic: string;
  queueId: number;
  msgId: string;
  reconsumeTimes: number;
  elapsedMs: number;
}

export interface ConsumeFailureEvent extends ConsumeEvent {
  error: Error | undefined;
  /** What happens next: 'retry' (send back / local retry), 'dlq', 'suspend', 'drop'. */
  action: string;
}

export interface RebalanceEvent {
  consumerGroup: string;
  topic: string;
  queues: MessageQueue[];
  added: MessageQueue[];
  removed: MessageQueue[];
  consumerCount: number;
}

export interface ClientEventMap {
  send: SendEvent;
  'send.failure': SendFailureEvent;
  retry: RetryEvent;
  pull: PullEvent;
  consume: ConsumeEvent;
  'consume.failure': ConsumeFailureEvent;
  rebalance: RebalanceEvent;
}

export type ClientEventName = keyof ClientEventMap;
export type ClientEventListener<K extends ClientEventName> = (event: ClientEventMap[K]) => void;

type ListenerTable = { [K in ClientEventName]?: Array<ClientEventListener<K>> };

/** Small typed emitter. Listeners run synchronously, in registration order. */
export class Instrumentation {
  private readonly listeners: ListenerTable = {};

  constructor(private readonly onListenerError: (err: unknown, event: ClientEventName) => void = () => undefined) {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends ClientEventName>(name: K, listener: ClientEventListener<K>): () => void {
    const list = (this.listeners[name] ??= []) as Array<ClientEventListener<K>>;
    list.push(listener);
    return () => this.off(name, listener);
  }

  off<K extends ClientEventName>(name: K, listener: ClientEventListener<K>): void {
    const list = this.listeners[name] as Array<ClientEventListener<K>> | undefined;
    if (!list) return;
    const idx = list.indexOf(listener);
    if (idx >= 0) list.splice(idx, 1);
  }

  /** True when `name` has listeners; check before building an event on a hot path. */
  has(name: ClientEventName): boolean {
    const list = this.listeners[name];
    return list !== undefined && list.length > 0;
  }

  emit<K extends ClientEventName>(name: K, event: ClientEventMap[K]): void {
    const list = this.listeners[name] as Array<ClientEventListener<K>> | undefined;
    if (!list || list.length === 0) return;
    for (const listener of list.slice()) {
      try {
        listener(event);
      } catch (err) {
        this.onListenerError(err, name);
      }
    }
  }
}
