/**
 * Raw-protocol assertions against a running NameServer / broker: create topics, send, pull, query by key,
 * offsets, routes, consumer lists. One connection per address, reused; `close()` in afterAll.
 * Records are decoded with the independent oracle (record-oracle.ts).
 */
import { createRequest, type RemotingCommand } from '../../broker/src/protocol/remoting-command';
import { RequestCode } from '../../broker/src/protocol/request-code';
import { ResponseCode } from '../../broker/src/protocol/response-code';
import { NamesrvClient, RemotingClient } from '../../broker/src/remoting/remoting-client';
import { decodeRecords, type OracleRecord } from './record-oracle';

export interface TopicRoute {
  brokerDatas: Array<{ brokerName: string; cluster?: string; brokerAddrs: Record<string, string> }>;
  queueDatas: Array<{ brokerName: string; readQueueNums: number; writeQueueNums: number; perm: number }>;
}

export interface SendOutcome {
  code: number;
  remark?: string;
  msgId?: string;
  queueId?: number;
  queueOffset?: number;
}

export interface PullOutcome {
  code: number;
  remark?: string;
  nextBeginOffset: number;
  minOffset: number;
  maxOffset: number;
  records: OracleRecord[];
}

/** Turns fastjson's unquoted integer keys (`{0:"a"}`) into JSON. */
export function parseRouteJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return JSON.parse(text.replace(/([{,])(-?\d+):/g, '$1"$2":'));
  }
}

export function encodeProperties(props: Record<string, string>): string {
  return Object.entries(props)
    .map(([k, v]) => `${k}\u0001${v}\u0002`)
    .join('');
}

export class ProtocolProbe {
  readonly client = new RemotingClient({ connectTimeoutMs: 3000 });

  constructor(private readonly defaultTimeoutMs = 5000) {}

  /** Sends a request and returns the response (any code). */
  async invoke(addr: string, cmd: RemotingCommand, timeoutMs = this.defaultTimeoutMs): Promise<RemotingCommand> {
    return this.client.invoke(addr, cmd, timeoutMs);
  }

  async request(addr: string, code: number, header?: object, body?: Buffer, timeoutMs?: number): Promise<RemotingCommand> {
    return this.invoke(addr, createRequest(code, header, body), timeoutMs);
  }

  /** UPDATE_AND_CREATE_TOPIC at a broker; throws unless SUCCESS. */
  async createTopic(brokerAddr: string, topic: string, queueNums = 4, perm = 6): Promise<void> {
    const res = await this.request(brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, {
      topic,
      defaultTopic: 'TBW102',
      readQueueNums: queueNums,
      writeQueueNums: queueNums,
      perm,
      topicFilterType: 'SINGLE_TAG',
      topicSysFlag: 0,
      order: false,
    });
    if (res.code !== ResponseCode.SUCCESS) throw new Error(`createTopic ${topic}: code ${res.code} ${res.remark ?? ''}`);
  }

  /** GET_ROUTEINFO_BY_TOPIC; undefined on TOPIC_NOT_EXIST, throws on other failures. */
  async route(namesrvAddr: string, topic: string, timeoutMs?: number): Promise<TopicRoute | undefined> {
    const res = await this.request(namesrvAddr, RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic }, undefined, timeoutMs);
    if (res.code === ResponseCode.TOPIC_NOT_EXIST) return undefined;
    if (res.code !== ResponseCode.SUCCESS || !res.body) throw new Error(`route ${topic}: code ${res.code} ${res.remark ?? ''}`);
    return parseRouteJson(res.body.toString('utf8')) as TopicRoute;
  }

  /** GET_ROUTEINFO_BY_TOPIC through the NameServer failover client (tries each address in turn). */
  async routeVia(namesrvAddrs: string[], topic: string, timeoutMs = 3000): Promise<TopicRoute | undefined> {
    const ns = new NamesrvClient(this.client, namesrvAddrs);
    const res = await ns.invoke(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic }), timeoutMs);
    if (res.code === ResponseCode.TOPIC_NOT_EXIST) return undefined;
    if (res.code !== ResponseCode.SUCCESS || !res.body) throw new Error(`route ${topic}: code ${res.code} ${res.remark ?? ''}`);
    return parseRouteJson(res.body.toString('utf8')) as TopicRoute;
  }

  /** SEND_MESSAGE_V2 with TAGS/KEYS (and any extra properties). */
  async send(
    brokerAddr: string,
    msg: { topic: string; body: Buffer | string; queueId?: number; tags?: string; keys?: string; properties?: Record<string, string>; producerGroup?: string },
    timeoutMs?: number,
  ): Promise<SendOutcome> {
    const props: Record<string, string> = { ...msg.properties };
    if (msg.tags) props.TAGS = msg.tags;
    if (msg.keys) props.KEYS = msg.keys;
    if (!('WAIT' in props)) props.WAIT = 'true';
    const res = await this.request(
      brokerAddr,
      RequestCode.SEND_MESSAGE_V2,
      {
        a: msg.producerGroup ?? 'probe_producer',
        b: msg.topic,
        c: 'TBW102',
        d: 4,
        e: msg.queueId ?? 0,
        f: 0,
        g: Date.now(),
        h: 0,
        i: encodeProperties(props),
        j: 0,
        k: false,
      },
      typeof msg.body === 'string' ? Buffer.from(msg.body) : msg.body,
      timeoutMs,
    );
    return {
      code: res.code,
      remark: res.remark,
      msgId: res.extFields.msgId,
      queueId: res.extFields.queueId === undefined ? undefined : Number(res.extFields.queueId),
      queueOffset: res.extFields.queueOffset === undefined ? undefined : Number(res.extFields.queueOffset),
    };
  }

  /** PULL_MESSAGE without suspend, subscription `*` (or `subscription`) sent in the header. */
  async pull(
    brokerAddr: string,
    q: { group?: string; topic: string; queueId: number; offset: number; maxNums?: number; subscription?: string },
    timeoutMs?: number,
  ): Promise<PullOutcome> {
    const res = await this.request(
      brokerAddr,
      RequestCode.PULL_MESSAGE,
      {
        consumerGroup: q.group ?? 'probe_consumer',
        topic: q.topic,
        queueId: q.queueId,
        queueOffset: q.offset,
        maxMsgNums: q.maxNums ?? 32,
        sysFlag: 0x4, // subscription in header, no suspend, no commit
        commitOffset: 0,
        suspendTimeoutMillis: 0,
        subscription: q.subscription ?? '*',
        subVersion: 0,
        expressionType: 'TAG',
      },
      undefined,
      timeoutMs,
    );
    const num = (k: string) => Number(res.extFields[k] ?? NaN);
    return {
      code: res.code,
      remark: res.remark,
      nextBeginOffset: num('nextBeginOffset'),
      minOffset: num('minOffset'),
      maxOffset: num('maxOffset'),
      records: res.code === ResponseCode.SUCCESS && res.body ? decodeRecords(res.body) : [],
    };
  }

  /** Pulls a queue from `fromOffset` to its current max; bounded by `maxRounds`. */
  async pullAll(brokerAddr: string, topic: string, queueId: number, fromOffset = 0, maxRounds = 100_000): Promise<OracleRecord[]> {
    const out: OracleRecord[] = [];
    let offset = fromOffset;
    const max = await this.maxOffset(brokerAddr, topic, queueId);
    for (let round = 0; round < maxRounds && offset < max; round++) {
      const r = await this.pull(brokerAddr, { topic, queueId, offset, maxNums: 32 });
      if (r.code === ResponseCode.SUCCESS) {
        out.push(...r.records);
        if (!(r.nextBeginOffset > offset)) throw new Error(`pull ${topic}/${queueId}@${offset}: nextBeginOffset did not advance`);
        offset = r.nextBeginOffset;
      } else if (r.code === ResponseCode.PULL_OFFSET_MOVED || r.code === ResponseCode.PULL_RETRY_IMMEDIATELY) {
        if (!(r.nextBeginOffset > offset)) throw new Error(`pull ${topic}/${queueId}@${offset}: code ${r.code} without progress`);
        offset = r.nextBeginOffset;
      } else {
        throw new Error(`pull ${topic}/${queueId}@${offset} (max ${max}): code ${r.code} ${r.remark ?? ''}`);
      }
    }
    return out;
  }

  async maxOffset(brokerAddr: string, topic: string, queueId: number): Promise<number> {
    const res = await this.request(brokerAddr, RequestCode.GET_MAX_OFFSET, { topic, queueId });
    if (res.code !== ResponseCode.SUCCESS) throw new Error(`maxOffset ${topic}/${queueId}: code ${res.code} ${res.remark ?? ''}`);
    return Number(res.extFields.offset);
  }

  /** QUERY_CONSUMER_OFFSET; -1 when the broker has none (QUERY_NOT_FOUND). */
  async consumerOffset(brokerAddr: string, group: string, topic: string, queueId: number): Promise<number> {
    const res = await this.request(brokerAddr, RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: group, topic, queueId });
    if (res.code === ResponseCode.QUERY_NOT_FOUND) return -1;
    if (res.code !== ResponseCode.SUCCESS) throw new Error(`consumerOffset ${group} ${topic}/${queueId}: code ${res.code} ${res.remark ?? ''}`);
    return Number(res.extFields.offset);
  }

  /** QUERY_MESSAGE by key; [] on QUERY_NOT_FOUND. */
  async queryByKey(brokerAddr: string, topic: string, key: string, maxNum = 64, beginMs = 0, endMs = Date.now() + 3_600_000): Promise<OracleRecord[]> {
    const res = await this.request(brokerAddr, RequestCode.QUERY_MESSAGE, {
      topic,
      key,
      maxNum,
      beginTimestamp: beginMs,
      endTimestamp: endMs,
    });
    if (res.code === ResponseCode.QUERY_NOT_FOUND) return [];
    if (res.code !== ResponseCode.SUCCESS) throw new Error(`queryByKey ${topic}#${key}: code ${res.code} ${res.remark ?? ''}`);
    return res.body ? decodeRecords(res.body) : [];
  }

  /** GET_CONSUMER_LIST_BY_GROUP; [] when the broker says there is none (SYSTEM_ERROR). */
  async consumerList(brokerAddr: string, group: string): Promise<string[]> {
    const res = await this.request(brokerAddr, RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: group });
    if (res.code !== ResponseCode.SUCCESS || !res.body) return [];
    const parsed = JSON.parse(res.body.toString('utf8')) as { consumerIdList?: string[] };
    return parsed.consumerIdList ?? [];
  }

  close(): void {
    this.client.close();
  }
}
