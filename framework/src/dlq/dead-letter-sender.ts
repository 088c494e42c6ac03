/**
 * Sends a message to `%DLQ%<group>` with its failure reason, through `%RETRY%<group>` with
 * RECONSUME_TIME ≥ MAX_RECONSUME_TIMES (see dead-letter.ts for why this path and not send-back).
 * One Producer per sender, created on the first dead letter (most apps never need it).
 */
import { DLQ_PROPERTIES, DLQ_REASON_MAX_CHARS } from '@rocketry/broker';
import { MessageConst, retryTopic } from '@rocketry/broker/protocol';
import type { ClientOptions } from '../client/client-options';
import type { MessageExt } from '../client/message';
import { Producer } from '../client/producer/producer';

/** Properties a broker or consumer added that the dead-letter copy must not carry. */
const DROPPED = [
  MessageConst.DELAY,
  MessageConst.REAL_TOPIC,
  MessageConst.REAL_QID,
  MessageConst.MIN_OFFSET,
  MessageConst.MAX_OFFSET,
  MessageConst.CLUSTER,
  MessageConst.WAIT,
  // A copy with TRAN_MSG=true would be stored as a transactional half message.
  MessageConst.TRAN_MSG,
  MessageConst.PGROUP,
  MessageConst.TRAN_PREPARED_QUEUE_OFFSET,
  MessageConst.CONSUME_START_TIME,
  MessageConst.START_DELIVER_TIME,
  MessageConst.TIMER_DELIVER_MS,
  MessageConst.TIMER_DELAY_MS,
  MessageConst.TIMER_DELAY_SEC,
];

/** A property value without the wire separators (\u0001, \u0002), cut to `max` characters. */
export function propertySafe(text: string, max = DLQ_REASON_MAX_CHARS): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0001\u0002]/g, ' ');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** The properties of the dead-letter copy of `msg`. */
export function deadLetterProperties(msg: MessageExt, reason: string, listenerId: string, nowMs: number): Record<string, string> {
  const props: Record<string, string> = { ...msg.properties };
  for (const k of DROPPED) delete props[k];
  // msg.topic is the original topic here (the push consumer resets %RETRY% messages to RETRY_TOPIC).
  props[MessageConst.RETRY_TOPIC] ??= msg.topic;
  props[MessageConst.ORIGIN_MESSAGE_ID] ??= msg.offsetMsgId;
  props[MessageConst.UNIQ_KEY] ??= msg.msgId;
  // reconsumeTimes ≥ maxReconsumeTimes: the broker stores it in %DLQ%<group> (Apache and Rocketry alike).
  const reconsume = msg.reconsumeTimes + 1;
  props[MessageConst.RECONSUME_TIME] = String(reconsume);
  props[MessageConst.MAX_RECONSUME_TIMES] = String(reconsume);
  props[DLQ_PROPERTIES.REASON] = propertySafe(reason);
  props[DLQ_PROPERTIES.LISTENER] = propertySafe(listenerId, 255);
  props[DLQ_PROPERTIES.DEAD_AT] = String(nowMs);
  return props;
}

let senderSeq = 0;

export class DeadLetterSender {
  private producer: Producer | undefined;
  private starting: Promise<Producer> | undefined;

  constructor(private readonly clientOptions: ClientOptions) {}

  private getProducer(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.starting ??= (async () => {
      // A unique producer group: several containers may share one client instance in a process.
      const producer = new Producer({ ...this.clientOptions, group: `ROCKETRY_DLQ_PRODUCER_${process.pid}_${++senderSeq}`, retryTimesWhenSendFailed: 1 });
      try {
        await producer.start();
      } catch (err) {
        this.starting = undefined;
        throw err;
      }
      this.producer = producer;
      return producer;
    })();
    return this.starting;
  }

  /** Resolves once the broker stored the copy; rejects when it did not (the caller falls back to send-back). */
  async send(msg: MessageExt, group: string, reason: string, listenerId: string): Promise<void> {
    const producer = await this.getProducer();
    const properties = deadLetterProperties(msg, reason, listenerId, Date.now());
    // Any send status means stored on the master (FLUSH_*/SLAVE_* only report replication or flush lag).
    await producer.send({ topic: retryTopic(group), body: msg.body, properties, flag: msg.flag });
  }

  async close(): Promise<void> {
    const p = this.producer ?? (await this.starting?.catch(() => undefined));
    this.producer = undefined;
    this.starting = undefined;
    await p?.shutdown().catch(() => undefined);
  }
}
