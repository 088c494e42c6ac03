/**
 * Seeded generators of malformed / hostile remoting frames for fuzzing (deterministic per seed).
 *
 *   frame = length int32 | serType uint8 | headerLen uint24 | header | body
 */
import { createRequest, encodeCommand, SerializeType, type RemotingCommand } from '../../broker/src/protocol/remoting-command';
import { RequestCode } from '../../broker/src/protocol/request-code';
import { seededRandom } from '../../broker/src/common/seeded-random';

/** Seeded random test input (mulberry32, see seededRandom). */
export class Rng {
  private readonly random: () => number;

  constructor(readonly seed: number) {
    this.random = seededRandom(seed);
  }

  next(): number {
    return this.random();
  }

  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  text(maxLen: number): string {
    const alphabet = 'abcXYZ019_-%|#:;., \u0001\u0002\u00e9\u4e2d\ud83d\ude00"\\{}[]';
    let s = '';
    const n = this.int(maxLen + 1);
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
}

const KNOWN_CODES: number[] = Object.values(RequestCode);
const ODD_CODES = [-1, 0, 1, 9, 13, 99, 999, 4040, 32767, 65535, 200050, 2147483647, -2147483648];

/** Header field names the processors read (plus a few foreign ones). */
const FIELD_NAMES = [
  'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n',
  'producerGroup', 'topic', 'defaultTopic', 'defaultTopicQueueNums', 'queueId', 'sysFlag', 'bornTimestamp', 'flag',
  'properties', 'reconsumeTimes', 'unitMode', 'batch', 'maxReconsumeTimes', 'consumerGroup', 'queueOffset',
  'maxMsgNums', 'commitOffset', 'suspendTimeoutMillis', 'subscription', 'subVersion', 'expressionType', 'key',
  'maxNum', 'beginTimestamp', 'endTimestamp', 'offset', 'group', 'delayLevel', 'originMsgId', 'originTopic',
  'timestamp', 'readQueueNums', 'writeQueueNums', 'perm', 'topicFilterType', 'topicSysFlag', 'order',
  'brokerName', 'brokerAddr', 'clusterName', 'haServerAddr', 'brokerId', 'compressed', 'bodyCrc32',
  'namespace', 'value', 'clientID', '_UNIQUE_KEY_QUERY', 'AccessKey', 'Signature', 'bname', 'lo',
];

export function junkValue(rng: Rng): string {
  switch (rng.int(6)) {
    case 0:
      return rng.pick([
        '', '-1', '0', '1', '3', '-2147483648', '2147483647', '2147483648', '9223372036854775807', '-9223372036854775808',
        '1e309', 'NaN', 'Infinity', '0x10', ' 12 ', '1.5', 'true', 'false', 'null', 'undefined', '[]', '{}',
      ]);
    case 1:
      return rng.pick(['TBW102', '%RETRY%fuzz', '%DLQ%fuzz', 'SCHEDULE_TOPIC_XXXX', 'FUZZ_JUNK_TOPIC', '../../etc/passwd', 'a b', 'fuzz|topic']);
    case 2:
      return rng.text(40);
    case 3:
      return 'x'.repeat(rng.pick([128, 200, 4096, 40_000]));
    case 4:
      return String(rng.int(2 ** 31) - 2 ** 30);
    default:
      return `k\u0001v\u0002TAGS\u0001${rng.text(5)}\u0002KEYS\u0001${rng.text(8)}\u0002DELAY\u0001${rng.int(40) - 5}\u0002`;
  }
}

/** A well-formed frame for a random code, with random (often junk) header values and body. */
export function randomCommand(rng: Rng): RemotingCommand {
  const code = rng.chance(0.85) ? rng.pick(KNOWN_CODES) : rng.pick(ODD_CODES);
  const ext: Record<string, string> = {};
  const n = rng.int(14);
  for (let i = 0; i < n; i++) ext[rng.pick(FIELD_NAMES)] = junkValue(rng);
  let body: Buffer | undefined;
  switch (rng.int(5)) {
    case 0:
      body = undefined;
      break;
    case 1:
      body = rng.bytes(rng.int(2048));
      break;
    case 2:
      body = Buffer.from(JSON.stringify({ clientID: rng.text(10), consumerDataSet: [{ groupName: rng.text(6), subscriptionDataSet: [{ topic: rng.text(5) }] }] }).slice(0, rng.int(200) + 1));
      break;
    case 3:
      body = Buffer.from(rng.pick(['{}', '[]', 'null', '{"topicConfigSerializeWrapper":{}}', '{"consumerGroup":"g","mqSet":[{}]}', '{"a":']));
      break;
    default:
      body = rng.bytes(rng.int(64 * 1024));
  }
  const cmd = createRequest(code, ext, body, rng.chance(0.15));
  cmd.opaque = rng.int(2 ** 31); // not the process-wide counter: same seed, same bytes
  if (rng.chance(0.1)) cmd.flag = rng.pick([1, 3, 0x7fffffff, -1]);
  if (rng.chance(0.05)) cmd.language = rng.text(6);
  return cmd;
}

function withLength(payload: Buffer, declared: number): Buffer {
  const head = Buffer.alloc(4);
  head.writeInt32BE(declared | 0, 0);
  return Buffer.concat([head, payload]);
}

function rawHeaderFrame(serType: number, header: Buffer, body: Buffer = Buffer.alloc(0), headerLenOverride?: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32BE(4 + header.length + body.length, 0);
  b.writeUInt32BE((((serType & 0xff) << 24) | ((headerLenOverride ?? header.length) & 0xffffff)) >>> 0, 4);
  return Buffer.concat([b, header, body]);
}

/** Topic the plausible requests aim at (created by the test so sends can succeed). */
export const FUZZ_TARGET_TOPIC = 'FUZZ_TARGET';
/** One timestamp per process so a seed always yields the same bytes within a run. */
const FUZZ_EPOCH_MS = Date.now();

function plausibleInt(rng: Rng, typical: number[]): string {
  return rng.chance(0.8) ? String(rng.pick(typical)) : junkValue(rng);
}

function props(rng: Rng): string {
  const entries: string[] = [];
  if (rng.chance(0.8)) entries.push(`TAGS\u0001${rng.pick(['TagF', 'TagG', '', rng.text(6)])}`);
  if (rng.chance(0.8)) entries.push(`KEYS\u0001${rng.pick(['k1 k2', rng.text(12), 'x'.repeat(300)])}`);
  if (rng.chance(0.2)) entries.push(`DELAY\u0001${rng.pick(['1', '3', '18', '19', '-1', '0', 'x'])}`);
  if (rng.chance(0.1)) entries.push(`UNIQ_KEY\u0001${rng.text(32)}`);
  if (rng.chance(0.1)) entries.push(`TRAN_MSG\u0001true\u0002PGROUP\u0001fuzz_pg`);
  if (rng.chance(0.1)) entries.push(rng.text(20));
  return entries.join('\u0002') + (rng.chance(0.8) ? '\u0002' : '');
}

/** A batch body: encodeMessage records (TOTALSIZE, MAGIC, BODYCRC, FLAG, BODY, PROPERTIES), sometimes broken. */
function batchBody(rng: Rng): Buffer {
  const parts: Buffer[] = [];
  const n = 1 + rng.int(4);
  for (let i = 0; i < n; i++) {
    const body = rng.bytes(rng.int(64));
    const p = Buffer.from(props(rng));
    const rec = Buffer.alloc(4 + 4 + 4 + 4 + 4 + body.length + 2 + p.length);
    let o = rec.writeInt32BE(rec.length, 0);
    o = rec.writeInt32BE(0, o);
    o = rec.writeInt32BE(0, o);
    o = rec.writeInt32BE(0, o);
    o = rec.writeInt32BE(body.length, o);
    o += body.copy(rec, o);
    o = rec.writeInt16BE(p.length, o);
    p.copy(rec, o);
    parts.push(rec);
  }
  const all = Buffer.concat(parts);
  if (rng.chance(0.3)) all[rng.int(all.length)] = rng.int(256);
  return rng.chance(0.2) ? all.subarray(0, rng.int(all.length)) : all;
}

/**
 * A request with plausible values for its code and, often, one junk field: reaches deep into the
 * processors (send/pull/query/view/send-back/heartbeat/lock/register) instead of failing at decode.
 */
export function plausibleCommand(rng: Rng): RemotingCommand {
  const topic = rng.chance(0.85) ? FUZZ_TARGET_TOPIC : rng.pick(['%RETRY%fuzz_cg', '%DLQ%fuzz_cg', 'SCHEDULE_TOPIC_XXXX', 'TBW102', `FUZZ_AUTO_${rng.int(5)}`]);
  const queueId = () => plausibleInt(rng, [0, 1, 2, 3, -1, 4, 17]);
  const offset = () => plausibleInt(rng, [0, 1, 5, 31, 100, -1, 2 ** 31, 2 ** 53]);
  const now = FUZZ_EPOCH_MS;
  let code: number;
  let ext: Record<string, string | number | boolean> = {};
  let body: Buffer | undefined;
  switch (rng.int(16)) {
    case 0:
    case 1:
      code = RequestCode.SEND_MESSAGE_V2;
      ext = { a: 'fuzz_pg', b: topic, c: 'TBW102', d: 4, e: queueId(), f: plausibleInt(rng, [0, 0, 1, 2, 4, 8, 12, 0x10, 0x20, 0x300]), g: now, h: 0, i: props(rng), j: plausibleInt(rng, [0, 1, 16]), k: false };
      if (rng.chance(0.3)) ext.l = plausibleInt(rng, [0, 2, 16, -1]);
      body = rng.chance(0.1) ? Buffer.alloc(0) : rng.bytes(rng.int(rng.chance(0.05) ? 300_000 : 512));
      break;
    case 2:
      code = RequestCode.SEND_MESSAGE;
      ext = { producerGroup: 'fuzz_pg', topic, defaultTopic: 'TBW102', defaultTopicQueueNums: 4, queueId: queueId(), sysFlag: 0, bornTimestamp: now, flag: plausibleInt(rng, [0, 7]), properties: props(rng), reconsumeTimes: 0, unitMode: false, batch: false, maxReconsumeTimes: 16 };
      body = rng.bytes(1 + rng.int(256));
      break;
    case 3:
      code = RequestCode.SEND_BATCH_MESSAGE;
      ext = { a: 'fuzz_pg', b: topic, c: 'TBW102', d: 4, e: queueId(), f: 0, g: now, h: 0, i: props(rng), j: 0, k: false, m: true };
      body = batchBody(rng);
      break;
    case 4:
    case 5:
      code = RequestCode.PULL_MESSAGE;
      ext = {
        consumerGroup: rng.pick(['fuzz_cg', 'fuzz_cg2', junkValue(rng)]),
        topic,
        queueId: queueId(),
        queueOffset: offset(),
        maxMsgNums: plausibleInt(rng, [1, 32, 0, -5, 100000]),
        sysFlag: plausibleInt(rng, [0, 2, 4, 6, 7, 15, 31]),
        commitOffset: offset(),
        // Long polling holds are bounded so sessions end quickly.
        suspendTimeoutMillis: plausibleInt(rng, [0, 50, 200]),
        subscription: rng.pick(['*', 'TagF', 'TagF || TagG', '', '||', rng.text(10)]),
        subVersion: plausibleInt(rng, [0, now]),
      };
      if (rng.chance(0.3)) ext.expressionType = rng.pick(['TAG', 'SQL92', 'junk']);
      break;
    case 6:
      code = RequestCode.QUERY_MESSAGE;
      ext = { topic, key: rng.pick(['k1', 'k2', rng.text(8)]), maxNum: plausibleInt(rng, [1, 32, 0, -1, 1_000_000]), beginTimestamp: plausibleInt(rng, [0, now - 3600_000]), endTimestamp: plausibleInt(rng, [now + 3600_000, 0, -1]) };
      if (rng.chance(0.3)) ext._UNIQUE_KEY_QUERY = 'true';
      break;
    case 7:
      code = RequestCode.VIEW_MESSAGE_BY_ID;
      ext = { offset: plausibleInt(rng, [0, 1, 91, 200, 4096, 1_000_000, -1, 2 ** 40]) };
      break;
    case 8:
      code = RequestCode.CONSUMER_SEND_MSG_BACK;
      ext = { offset: plausibleInt(rng, [0, 1, 91, 200, 4096, -1, 2 ** 40]), group: rng.pick(['fuzz_cg', junkValue(rng)]), delayLevel: plausibleInt(rng, [0, -1, 1, 18, 19, 100]), originMsgId: rng.text(32), originTopic: topic, unitMode: false, maxReconsumeTimes: plausibleInt(rng, [0, 1, 16, -1]) };
      break;
    case 9:
      code = rng.pick([RequestCode.QUERY_CONSUMER_OFFSET, RequestCode.UPDATE_CONSUMER_OFFSET]);
      ext = { consumerGroup: 'fuzz_cg', topic, queueId: queueId(), commitOffset: offset() };
      break;
    case 10:
      code = rng.pick([RequestCode.GET_MAX_OFFSET, RequestCode.GET_MIN_OFFSET, RequestCode.GET_EARLIEST_MSG_STORETIME, RequestCode.SEARCH_OFFSET_BY_TIMESTAMP]);
      ext = { topic, queueId: queueId(), timestamp: plausibleInt(rng, [0, now, -1]) };
      break;
    case 11: {
      code = RequestCode.HEART_BEAT;
      const hb = {
        clientID: rng.pick(['127.0.0.1@fuzz', rng.text(10)]),
        producerDataSet: rng.chance(0.5) ? [{ groupName: 'fuzz_pg' }] : rng.pick([[], null, [{}], 'x']),
        consumerDataSet: rng.chance(0.7)
          ? [{ groupName: rng.pick(['fuzz_cg', '', rng.text(5)]), consumeType: rng.pick(['CONSUME_PASSIVELY', 'junk']), messageModel: rng.pick(['CLUSTERING', 'BROADCASTING', 'x']), consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET', unitMode: false, subscriptionDataSet: rng.pick([[{ topic, subString: rng.pick(['*', 'TagF', rng.text(6)]), tagsSet: [], codeSet: [], subVersion: now }], [{}], null, [{ topic: 5, subString: {} }]]) }]
          : rng.pick([[], null, [null], 'x']),
      };
      const text = JSON.stringify(hb);
      body = Buffer.from(rng.chance(0.8) ? text : text.slice(0, rng.int(text.length)));
      break;
    }
    case 12:
      code = rng.pick([RequestCode.LOCK_BATCH_MQ, RequestCode.UNLOCK_BATCH_MQ]);
      body = Buffer.from(JSON.stringify({ consumerGroup: rng.pick(['fuzz_cg', '']), clientId: rng.pick(['127.0.0.1@fuzz', rng.text(5)]), onlyThisBroker: false, mqSet: rng.pick([[{ topic, brokerName: 'broker-a', queueId: 0 }], [{}], null, 'x', [{ topic, brokerName: 'broker-a', queueId: -7 }]]) }));
      break;
    case 13:
      code = RequestCode.UPDATE_AND_CREATE_TOPIC;
      ext = { topic: rng.pick([`FUZZ_NEW_${rng.int(50)}`, rng.text(10), '', 'x'.repeat(300)]), defaultTopic: 'TBW102', readQueueNums: plausibleInt(rng, [1, 4, 0, -1, 1025, 65536]), writeQueueNums: plausibleInt(rng, [1, 4, 0, -1, 1025]), perm: plausibleInt(rng, [6, 7, 0, 2, 4, 255]), topicFilterType: rng.pick(['SINGLE_TAG', 'MULTI_TAG', 'x']), topicSysFlag: 0, order: rng.chance(0.5) };
      break;
    case 14: {
      code = RequestCode.REGISTER_BROKER;
      const wrapper = { topicConfigSerializeWrapper: { topicConfigTable: { [`FUZZ_NS_${rng.int(20)}`]: { topicName: `FUZZ_NS_${rng.int(20)}`, readQueueNums: plausibleInt(rng, [4, -1]), writeQueueNums: 4, perm: 6 } }, dataVersion: { timestamp: now, counter: rng.int(100) } }, filterServerList: [] };
      const json = Buffer.from(JSON.stringify(wrapper));
      body = rng.chance(0.7) ? json : rng.chance(0.5) ? rng.bytes(rng.int(200)) : json.subarray(0, rng.int(json.length));
      ext = { brokerName: `fuzz-broker-${rng.int(5)}`, brokerAddr: rng.pick(['127.0.0.1:1', rng.text(12), '']), clusterName: rng.pick(['FuzzCluster', rng.text(6)]), haServerAddr: '127.0.0.1:2', brokerId: plausibleInt(rng, [0, 1, -1]), compressed: rng.chance(0.3), bodyCrc32: plausibleInt(rng, [0, 12345]) };
      break;
    }
    default:
      code = rng.pick([RequestCode.UNREGISTER_BROKER, RequestCode.GET_ROUTEINFO_BY_TOPIC, RequestCode.GET_BROKER_CLUSTER_INFO, RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, RequestCode.PUT_KV_CONFIG, RequestCode.GET_KV_CONFIG, RequestCode.DELETE_KV_CONFIG, RequestCode.GET_CONSUMER_LIST_BY_GROUP, RequestCode.UNREGISTER_CLIENT]);
      ext = { brokerName: `fuzz-broker-${rng.int(5)}`, brokerAddr: '127.0.0.1:1', clusterName: 'FuzzCluster', brokerId: 0, topic, namespace: rng.text(5), key: rng.text(5), value: rng.text(20), consumerGroup: 'fuzz_cg', clientID: rng.text(8) };
  }
  // One field turned to junk in a third of the requests.
  const keys = Object.keys(ext);
  if (keys.length > 0 && rng.chance(0.33)) ext[rng.pick(keys)] = junkValue(rng);
  const cmd = createRequest(code, ext, body, rng.chance(0.05));
  cmd.opaque = rng.int(2 ** 31);
  return cmd;
}

export type FrameKind =
  | 'plausible'
  | 'valid-junk-values'
  | 'bit-flips'
  | 'bad-length'
  | 'invalid-json'
  | 'header-len-overflow'
  | 'unknown-code'
  | 'truncated'
  | 'random-bytes'
  | 'binary-header-junk'
  | 'json-wrong-types';

const KINDS: FrameKind[] = [
  'plausible', 'plausible', 'plausible', 'plausible', 'plausible', 'plausible',
  'valid-junk-values', 'valid-junk-values', 'valid-junk-values', 'valid-junk-values', 'valid-junk-values', 'bit-flips', 'bit-flips', 'bad-length', 'invalid-json', 'header-len-overflow',
  'unknown-code', 'truncated', 'random-bytes', 'binary-header-junk', 'json-wrong-types',
];

/** One hostile byte string; `terminal` means the bytes after it on the same connection are pointless. */
export function hostileFrame(rng: Rng): { kind: FrameKind; bytes: Buffer; terminal: boolean } {
  const kind = rng.pick(KINDS);
  switch (kind) {
    case 'plausible':
      return { kind, bytes: encodeCommand(plausibleCommand(rng)), terminal: false };
    case 'valid-junk-values':
      return { kind, bytes: encodeCommand(randomCommand(rng)), terminal: false };
    case 'bit-flips': {
      const b = Buffer.from(encodeCommand(randomCommand(rng)));
      const flips = 1 + rng.int(6);
      for (let i = 0; i < flips; i++) {
        const at = rng.int(b.length);
        b[at] = (b[at] ?? 0) ^ (1 << rng.int(8));
      }
      return { kind, bytes: b, terminal: true };
    }
    case 'bad-length': {
      const payload = rng.bytes(rng.int(64));
      const declared = rng.pick([-1, -2147483648, 0, 1, 2, 3, 16 * 1024 * 1024 + 1, 0x7fffffff, 64 * 1024 * 1024]);
      return { kind, bytes: withLength(payload, declared), terminal: true };
    }
    case 'invalid-json': {
      const header = Buffer.from(
        rng.pick(['{', '{"code":', 'not json', '{"code":10,"opaque":1,', '\u0000\u0001\u0002', '[1,2,3]', '"str"', '12', 'null', '{"code":1e999}', '{"code":10}}}']),
      );
      return { kind, bytes: rawHeaderFrame(0, header, rng.bytes(rng.int(32))), terminal: true };
    }
    case 'header-len-overflow': {
      const header = Buffer.from(JSON.stringify({ code: 105, opaque: 7, flag: 0, extFields: { topic: 'x' } }));
      return { kind, bytes: rawHeaderFrame(0, header, Buffer.alloc(0), header.length + 1 + rng.int(0xffffff - header.length)), terminal: true };
    }
    case 'unknown-code': {
      const cmd = createRequest(rng.pick(ODD_CODES), { topic: junkValue(rng) }, rng.chance(0.5) ? rng.bytes(16) : undefined);
      cmd.opaque = rng.int(2 ** 31);
      return { kind, bytes: encodeCommand(cmd), terminal: false };
    }
    case 'truncated': {
      const full = encodeCommand(randomCommand(rng));
      return { kind, bytes: full.subarray(0, Math.max(1, rng.int(full.length))), terminal: true };
    }
    case 'random-bytes':
      return { kind, bytes: rng.bytes(1 + rng.int(4096)), terminal: true };
    case 'binary-header-junk': {
      const valid = rng.chance(0.5);
      const cmd = randomCommand(rng);
      cmd.code = (cmd.code << 16) >> 16; // the binary header carries int16 codes
      const bytes = valid ? encodeCommand(cmd, SerializeType.ROCKETMQ) : rawHeaderFrame(1, rng.bytes(rng.int(64)), rng.bytes(rng.int(16)));
      return { kind, bytes, terminal: !valid };
    }
    case 'json-wrong-types': {
      const header = JSON.stringify(
        rng.pick<unknown>([
          { code: 'abc', opaque: 1 },
          { code: 10, opaque: { x: 1 } },
          { code: 310, opaque: 2, extFields: [1, 2, 3] },
          { code: 310, opaque: 3, extFields: { a: { nested: true }, b: 'T' } },
          { code: 11, opaque: 2.5, flag: 'x' },
          { code: 34, opaque: 4, extFields: null, language: 42, version: 'v' },
          { code: 1e20, opaque: -1 },
          { code: 105, opaque: 9, extFields: { topic: null } },
        ]),
      );
      return { kind, bytes: rawHeaderFrame(0, Buffer.from(header), rng.bytes(rng.int(64))), terminal: true };
    }
  }
}
