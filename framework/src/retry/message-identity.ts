/**
 * A message's UNIQ_KEY (the client msgId) fixed once, before the first attempt, so every retry, the
 * outbox row and every relay resend carry the same msgId: a consumer that deduplicates by msgId sees
 * one logical message however many times it had to be sent (at-least-once + stable id).
 */
import { MessageConst, UniqueIdGenerator } from '@rocketry/broker/protocol';
import type { Message } from '../client/message';

let generator: UniqueIdGenerator | undefined;

/** A new UNIQ_KEY in RocketMQ's format (this process's pid + a random salt keep it unique). */
export function newUniqKey(): string {
  generator ??= new UniqueIdGenerator();
  return generator.next();
}

/** The message with `properties.UNIQ_KEY` set (kept when already there). Never mutates `msg`. */
export function withUniqKey<M extends Message>(msg: M): M & { properties: Record<string, string> } {
  const existing = msg.properties?.[MessageConst.UNIQ_KEY];
  if (existing) return msg as M & { properties: Record<string, string> };
  return { ...msg, properties: { ...msg.properties, [MessageConst.UNIQ_KEY]: newUniqKey() } };
}

/** The UNIQ_KEY of a message prepared by `withUniqKey`. */
export function uniqKeyOf(msg: Message): string | undefined {
  return msg.properties?.[MessageConst.UNIQ_KEY];
}
