/**
 * Per-queue admin stats: GET_TOPIC_STATS_INFO (Java TopicStatsTable) and GET_CONSUME_STATS (ConsumeStats).
 *
 * Java keys both `offsetTable`s by MessageQueue OBJECTS, which fastjson writes as non-standard JSON:
 *   Java/fastjson: `{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"maxOffset":5,..}}}`
 * Rocketry writes a list instead (standard JSON; only admin tools read these bodies):
 *   Rocketry:      `{"offsetTable":[{"maxOffset":5,..,"mq":{"brokerName":"b","queueId":0,"topic":"T"}}]}`
 * The decoders read both, and string keys holding the MessageQueue JSON.
 */
import { asArray, asObject, type JsonObject, optInt, optNumber } from './body-shape';
import { BodyError, parseLenientJson, toFastJsonBuffer } from './fastjson';
import { decodeMessageQueue, type MessageQueue } from './message-queue';

/** One queue of a TopicStatsTable (Java TopicOffset). */
export interface TopicOffsetEntry {
  mq: MessageQueue;
  minOffset: number;
  maxOffset: number;
  lastUpdateTimestamp: number;
}

export interface TopicStatsTable {
  offsetTable: TopicOffsetEntry[];
}

/** One queue of a ConsumeStats (Java OffsetWrapper). */
export interface ConsumeOffsetEntry {
  mq: MessageQueue;
  brokerOffset: number;
  consumerOffset: number;
  lastTimestamp: number;
}

export interface ConsumeStats {
  offsetTable: ConsumeOffsetEntry[];
  consumeTps: number;
}

export function encodeTopicStatsTable(table: TopicStatsTable): Buffer {
  return toFastJsonBuffer(table);
}

export function decodeTopicStatsTable(body: Buffer | string): TopicStatsTable {
  const o = asObject(parseLenientJson(body), 'topicStats');
  return {
    offsetTable: readOffsetTable(o.offsetTable, 'topicStats.offsetTable', (v, path) => ({
      minOffset: optInt(v, 'minOffset', path, 0)!,
      maxOffset: optInt(v, 'maxOffset', path, 0)!,
      lastUpdateTimestamp: optInt(v, 'lastUpdateTimestamp', path, 0)!,
    })),
  };
}

export function encodeConsumeStats(stats: ConsumeStats): Buffer {
  return toFastJsonBuffer(stats);
}

export function decodeConsumeStats(body: Buffer | string): ConsumeStats {
  const o = asObject(parseLenientJson(body), 'consumeStats');
  return {
    offsetTable: readOffsetTable(o.offsetTable, 'consumeStats.offsetTable', (v, path) => ({
      brokerOffset: optInt(v, 'brokerOffset', path, 0)!,
      consumerOffset: optInt(v, 'consumerOffset', path, 0)!,
      lastTimestamp: optInt(v, 'lastTimestamp', path, 0)!,
    })),
    consumeTps: optNumber(o, 'consumeTps', 'consumeStats', 0)!,
  };
}

/** Reads an offsetTable in list form or MessageQueue-keyed map form. */
function readOffsetTable<V extends object>(table: unknown, path: string, readValue: (v: JsonObject, path: string) => V): Array<{ mq: MessageQueue } & V> {
  if (table === undefined || table === null) return [];
  if (Array.isArray(table)) {
    return asArray(table, path).map((item, i) => {
      const entry = asObject(item, `${path}[${i}]`);
      return { mq: decodeMessageQueue(entry.mq, `${path}[${i}].mq`), ...readValue(entry, `${path}[${i}]`) };
    });
  }
  return Object.entries(asObject(table, path)).map(([key, value]) => {
    let mq: unknown;
    try {
      mq = JSON.parse(key);
    } catch {
      throw new BodyError(`malformed MessageQueue key in ${path}: ${key.slice(0, 80)}`);
    }
    const where = `${path}[${key.slice(0, 80)}]`;
    return { mq: decodeMessageQueue(mq, `${where}.key`), ...readValue(asObject(value, where), where) };
  });
}
