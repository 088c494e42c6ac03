/**
 * Records real frames between the Apache RocketMQ Java client and both brokers through RecordingProxy,
 * then:
 *   1. saves the Apache-broker conversation (one request + reply per client line and request code, plus the
 *      broker-initiated requests) to broker/src/protocol/fixtures/java/java-frames.json for the codec specs;
 *   2. diffs, per client line and request code, the frame shapes seen with our broker against Apache's
 *      (reply codes, extFields keys of requests and replies in both directions, language, JSON body keys)
 *      and prints the differences. Differences kept on purpose are listed with their reason
 *      (DELIBERATE_DIFFERENCES); any other one fails the run.
 *
 *   npm run test:compat                                   # matrix, then this diff (fixtures untouched)
 *   npm run test:compat -- --record-fixtures              # diff and rewrite the fixture file
 */
import fs from 'node:fs';
import path from 'node:path';
import { requestCodeName, RequestCode, ResponseCode, responseCodeName } from '@rocketry/broker/protocol';
import { REPO_ROOT } from '../helpers/env';
import { startApacheBroker, startRocketryBroker, type BrokerKind, type BrokerUnderTest } from './brokers';
import { javaClient } from './clients/java-client';
import { RecordingProxy, type RecordedFrame } from './frame-recorder';
import { CACHE_DIR, type ClientLine, type JavaToolchain } from './java-toolchain';
import type { ScenarioName } from './scenarios';

export const FIXTURE_FILE = path.join(REPO_ROOT, 'broker', 'src', 'protocol', 'fixtures', 'java', 'java-frames.json');

const PLAN: Array<{ line: ClientLine; scenarios: ScenarioName[] }> = [
  { line: 'client5', scenarios: ['send-sync', 'send-batch', 'orderly', 'retry-dlq', 'transaction', 'query-key', 'query-id'] },
  { line: 'client4', scenarios: ['send-sync', 'orderly', 'transaction'] },
];

/** Request codes whose replies carry JSON bodies worth comparing key by key. */
const JSON_BODY_CODES = new Set<number>([
  RequestCode.GET_ROUTEINFO_BY_TOPIC,
  RequestCode.GET_CONSUMER_LIST_BY_GROUP,
  RequestCode.LOCK_BATCH_MQ,
  RequestCode.HEART_BEAT,
]);

interface Recording {
  kind: BrokerKind;
  frames: Array<RecordedFrame & { client: ClientLine; via: 'namesrv' | 'broker' }>;
}

async function recordOn(kind: BrokerKind, toolchain: JavaToolchain, log: (l: string) => void): Promise<Recording> {
  const broker = kind === 'apache' ? await startApacheBroker(toolchain.serverClasspath) : await startRocketryBroker();
  const brokerProxy = await RecordingProxy.start(broker.brokerAddr);
  const nsProxy = await RecordingProxy.start(broker.namesrvAddr, { from: broker.brokerAddr, to: brokerProxy.addr });
  const out: Recording = { kind, frames: [] };
  try {
    const viaProxy: BrokerUnderTest = { ...broker, namesrvAddr: nsProxy.addr };
    for (const { line, scenarios } of PLAN) {
      const client = javaClient(toolchain, line);
      for (const scenario of scenarios) {
        nsProxy.label = brokerProxy.label = `${line}:${scenario}`;
        const id = `${kind.slice(0, 3)}_${line}_${scenario.replace(/-/g, '')}_${Date.now().toString(36).slice(-4)}`;
        const ctx = { broker: viaProxy, topic: `FX_${id}`, group: `FXG_${id}`, log };
        await broker.createTopic(ctx.topic, 4);
        const r = await client.run(scenario, ctx);
        log(`  record ${kind} ${line} ${scenario}: ${r.ok ? 'pass' : `FAIL ${r.error}`}`);
        const mark = out.frames.length;
        out.frames.push(...nsProxy.frames.splice(0).map((f) => ({ ...f, client: line, via: 'namesrv' as const })));
        out.frames.push(...brokerProxy.frames.splice(0).map((f) => ({ ...f, client: line, via: 'broker' as const })));
        if (out.frames.length === mark) throw new Error(`no frames recorded for ${line} ${scenario}`);
      }
    }
  } finally {
    await nsProxy.close();
    await brokerProxy.close();
    await broker.stop();
  }
  return out;
}

/** The frames worth keeping as fixtures: per client line and request code, the first request and its reply. */
function pickFixtures(rec: Recording): Array<Record<string, unknown>> {
  const picked: Array<Record<string, unknown>> = [];
  const seen = new Set<string>();
  for (const f of rec.frames) {
    const isReply = (f.cmd.flag & 1) === 1;
    const code = isReply ? f.requestCode : f.cmd.code;
    if (code === undefined) continue;
    const key = `${f.client}.${requestCodeName(code)}.${isReply ? 'reply' : 'request'}.${isReply ? f.cmd.code : ''}`;
    if (seen.has(key)) continue;
    // keep the request only when its reply is kept too (matched by opaque), and vice versa — simpler: keep firsts
    seen.add(key);
    picked.push({
      name: `${f.client}.${requestCodeName(code)}.${isReply ? `reply.${responseCodeName(f.cmd.code)}` : 'request'}`,
      client: f.client === 'client5' ? 'rocketmq-client 5.3.3' : 'rocketmq-client 4.9.7',
      scenario: f.label,
      via: f.via,
      direction: f.dir === 'c2s' ? 'client->server' : 'server->client',
      requestCode: code,
      responseCode: isReply ? f.cmd.code : null,
      frameHex: f.frame.toString('hex'),
    });
  }
  return picked;
}

function jsonKeys(body: Buffer | undefined): string[] {
  if (!body) return [];
  try {
    const text = body.toString('utf8').replace(/([{,])(-?\d+):/g, '$1"$2":');
    const v = JSON.parse(text) as unknown;
    const keys: string[] = [];
    const walk = (x: unknown, prefix: string, depth: number) => {
      if (depth > 3 || x === null || typeof x !== 'object') return;
      if (Array.isArray(x)) {
        if (x.length > 0) walk(x[0], `${prefix}[]`, depth + 1);
        return;
      }
      for (const [k, val] of Object.entries(x)) {
        const name = /^-?\d+$/.test(k) ? '<n>' : k;
        keys.push(`${prefix}${name}`);
        walk(val, `${prefix}${name}.`, depth + 1);
      }
    };
    walk(v, '', 0);
    return keys;
  } catch {
    return ['<not json>'];
  }
}

/**
 * Reply codes that show up on either broker depending on timing only (a consumer list asked for while
 * the last consumer leaves; a pull racing the heartbeat that registers the group (24, both brokers
 * answer so when the group is unknown) or carries a new subVersion (25)).
 */
const TIMING_CODES: Record<number, number[]> = {
  [RequestCode.GET_CONSUMER_LIST_BY_GROUP]: [ResponseCode.SYSTEM_ERROR],
  [RequestCode.PULL_MESSAGE]: [ResponseCode.SUBSCRIPTION_NOT_EXIST, ResponseCode.SUBSCRIPTION_NOT_LATEST],
};

/**
 * Differences kept on purpose, each with its reason; the diff reports them but does not fail on them.
 * Keys are the diff lines without the client prefix.
 */
export const DELIBERATE_DIFFERENCES: Record<string, string> = {
  'HEART_BEAT (34) reply from server: extFields only from Apache: SUCCESS:IS_SUB_CHANGE, SUCCESS:IS_SUPPORT_HEART_BEAT_V2':
    'heartbeat V2 (fingerprints, withoutSub) is not implemented; not advertising it keeps 5.x clients on full heartbeats (their default anyway)',
  'QUERY_CONSUMER_OFFSET (14) reply from server: reply codes only from Apache: QUERY_NOT_FOUND':
    'a new group on an empty queue gets SUCCESS 0 instead of 22 (consumer-offset.processor.ts): every client then starts at 0 either way, without the 22 → GET_MAX_OFFSET race',
  'CHECK_TRANSACTION_STATE (39) request from server: extFields only from Apache: bname':
    '5.x broker-name hint; clients read the broker from the connection',
};

interface Shape {
  codes: Set<string>;
  extKeys: Set<string>;
  languages: Set<string>;
  bodyKeys: Set<string>;
}

/** Per (client line, request code, request|reply, direction) the union of shapes seen. */
function shapes(rec: Recording): Map<string, Shape> {
  const out = new Map<string, Shape>();
  for (const f of rec.frames) {
    const isReply = (f.cmd.flag & 1) === 1;
    const reqCode = isReply ? f.requestCode : f.cmd.code;
    if (reqCode === undefined) continue;
    if (isReply && TIMING_CODES[reqCode]?.includes(f.cmd.code)) continue;
    const from = f.dir === 'c2s' ? 'client' : 'server';
    const key = `${f.client} ${requestCodeName(reqCode)} (${reqCode}) ${isReply ? 'reply' : 'request'} from ${from}`;
    let s = out.get(key);
    if (!s) out.set(key, (s = { codes: new Set(), extKeys: new Set(), languages: new Set(), bodyKeys: new Set() }));
    const code = isReply ? responseCodeName(f.cmd.code) : 'REQUEST';
    if (isReply) s.codes.add(code);
    for (const k of Object.keys(f.cmd.extFields ?? {})) s.extKeys.add(isReply ? `${code}:${k}` : k);
    s.languages.add(String(f.cmd.language));
    if (isReply && JSON_BODY_CODES.has(reqCode) && f.cmd.code === 0) for (const k of jsonKeys(f.cmd.body)) s.bodyKeys.add(k);
  }
  return out;
}

function diffSets(what: string, apache: Set<string>, ours: Set<string>): string[] {
  const missing = [...apache].filter((x) => !ours.has(x));
  const extra = [...ours].filter((x) => !apache.has(x));
  const out: string[] = [];
  if (missing.length) out.push(`${what} only from Apache: ${missing.sort().join(', ')}`);
  if (extra.length) out.push(`${what} only from rocketry: ${extra.sort().join(', ')}`);
  return out;
}

/**
 * Records both conversations and returns the unexplained differences. With `write`, also saves the
 * Apache frames as fixtures (and the full conversations to the cache for debugging).
 */
export async function recordJavaFixtures(toolchain: JavaToolchain, log: (l: string) => void, opts: { write: boolean }): Promise<string[]> {
  const apache = await recordOn('apache', toolchain, log);
  const ours = await recordOn('rocketry', toolchain, log);
  // Full conversations for debugging a difference (git-ignored cache).
  for (const rec of opts.write ? [apache, ours] : []) {
    const dump = rec.frames.map((f) => ({ label: f.label, client: f.client, via: f.via, conn: f.conn, dir: f.dir, requestCode: f.requestCode, ...f.cmd, body: f.cmd.body?.toString('latin1').slice(0, 2000) }));
    fs.writeFileSync(path.join(CACHE_DIR, `recording-${rec.kind}.json`), JSON.stringify(dump, null, 1));
  }
  if (opts.write) {
    const fixtures = pickFixtures(apache);
    fs.mkdirSync(path.dirname(FIXTURE_FILE), { recursive: true });
    const recordedWith = { broker: 'Apache RocketMQ 5.3.3 (NameServer + Broker)', recorder: 'test/compat/record-fixtures.ts' };
    fs.writeFileSync(FIXTURE_FILE, JSON.stringify({ recordedWith, frames: fixtures }, null, 1) + '\n');
    log(`compat: wrote ${fixtures.length} frames to ${path.relative(REPO_ROOT, FIXTURE_FILE)}`);
  }
  const a = shapes(apache);
  const o = shapes(ours);
  const diffs: string[] = [];
  for (const key of [...new Set([...a.keys(), ...o.keys()])].sort()) {
    const sa = a.get(key);
    const so = o.get(key);
    if (!sa || !so) {
      diffs.push(`${key}: seen only with ${sa ? 'Apache' : 'rocketry'}`);
      continue;
    }
    for (const d of [
      ...diffSets('reply codes', sa.codes, so.codes),
      ...diffSets('extFields', sa.extKeys, so.extKeys),
      ...diffSets('language', sa.languages, so.languages),
      ...diffSets('body keys', sa.bodyKeys, so.bodyKeys),
    ]) {
      diffs.push(`${key}: ${d}`);
    }
  }
  const unexplained: string[] = [];
  for (const d of diffs) {
    const reason = DELIBERATE_DIFFERENCES[d.replace(/^client[45] /, '')];
    if (reason) log(`  deliberate ${d}\n      (${reason})`);
    else unexplained.push(d);
  }
  log(`compat: ${unexplained.length} unexplained frame-shape differences (rocketry vs Apache, Java client traffic)`);
  for (const d of unexplained) log(`  diff ${d}`);
  return unexplained;
}
