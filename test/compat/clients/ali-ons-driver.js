'use strict';
/**
 * One compatibility scenario with the unmodified ali-ons 3.12 package, in its own process.
 *
 *   node ali-ons-driver.js <scenario> <namesrvAddr> <topic> <group> [phase]
 *
 * Prints JSON lines; the last is the verdict {"event":"result","scenario":..,"ok":bool,"error"?}.
 * Exit 0 on pass. ali-ons has one (promise) send API, push consumption with concurrent listeners and no
 * orderly consumption, batch, oneway, transactions or query; those scenarios are not offered here.
 */
const { Producer, Consumer, Message } = require('ali-ons');
const { clientOptions, print } = require('../../helpers/ali-ons/common');

const WAIT_MS = 40000;
const [scenario, nameSrv, topic, group, phase = ''] = process.argv.slice(2);
const closers = [];
// Fast client loops, so consumers see new routes and settle within a scenario.
const FAST = { pollNameServerInteval: 1000, rebalanceInterval: 1000, heartbeatBrokerInterval: 2000, persistConsumerOffsetInterval: 1000 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function check(cond, what) {
  if (!cond) throw new Error(what);
}
async function waitUntil(what, cond) {
  const deadline = Date.now() + WAIT_MS;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await sleep(100);
  }
}

async function producer() {
  const p = new Producer({ ...clientOptions({ nameSrv }), ...FAST, producerGroup: group + '_P', instanceName: 'p' + Date.now() });
  p.on('error', (err) => process.stderr.write('[producer error] ' + err.message + '\n'));
  await p.ready();
  closers.push(() => p.close());
  return p;
}

async function consumer(opts, handler) {
  const c = new Consumer({
    ...clientOptions({ nameSrv }),
    ...FAST,
    consumerGroup: opts.group || group,
    instanceName: (opts.instance || 'c') + Date.now(),
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    isBroadcast: !!opts.broadcast,
    ...(opts.maxReconsumeTimes !== undefined ? { maxReconsumeTimes: opts.maxReconsumeTimes } : {}),
  });
  c.on('error', (err) => {
    if (!String(err && err.message).includes('intended-failure')) process.stderr.write('[consumer error] ' + err.message + '\n');
  });
  await c.ready();
  c.subscribe(opts.topic || topic, opts.sub || '*', async (msg) => {
    if (!(await handler(msg))) throw new Error('intended-failure');
  });
  closers.unshift(() => c.close());
  return c;
}

function newMessage(tag, key, body) {
  const m = new Message(topic, tag, body);
  m.keys = [key];
  return m;
}

const body = (m) => (m.body ? m.body.toString('utf8') : null);

async function sendSync() {
  const p = await producer();
  const sent = new Map();
  for (let i = 0; i < 9; i++) {
    const tag = ['TagA', 'TagB', 'TagC'][i % 3];
    const r = await p.send(newMessage(tag, 'k-' + i, 'sync-' + i));
    check(r.sendStatus === 'SEND_OK', 'status ' + r.sendStatus);
    check(/^[0-9A-F]{32}$/.test(r.msgId), 'offset msgId format ' + r.msgId);
    sent.set('sync-' + i, r);
  }
  const got = new Map();
  await consumer({ sub: 'TagA || TagB' }, (m) => {
    got.set(body(m), m);
    return true;
  });
  await waitUntil('6 TagA/TagB messages', () => got.size >= 6);
  await sleep(1000);
  check(got.size === 6, 'expected 6 filtered messages, got ' + [...got.keys()]);
  for (const [b, m] of got) {
    const r = sent.get(b);
    check(r, 'unexpected body ' + b);
    check(m.tags !== 'TagC', 'TagC leaked through the filter');
    check(m.msgId === r.msgId, 'consumer msgId ' + m.msgId + ' != send msgId ' + r.msgId);
    check(m.keys === 'k-' + b.slice(5), 'keys ' + m.keys);
    check(Number(m.queueOffset) === Number(r.queueOffset), 'queueOffset ' + m.queueOffset + ' != ' + r.queueOffset);
  }
}

async function clustering() {
  const owner = new Map();
  let dups = 0;
  const handler = (name) => (m) => {
    if (owner.has(body(m))) dups++;
    else owner.set(body(m), name);
    return true;
  };
  const c1 = await consumer({ instance: 'c1' }, handler('c1'));
  const c2 = await consumer({ instance: 'c2' }, handler('c2'));
  // Wait for the split instead of sleeping: both hold queues, 4 in total.
  await waitUntil('queues split between both consumers', () => {
    const a = [...c1.processQueueTable.keys()].filter((k) => k.includes(topic)).length;
    const b = [...c2.processQueueTable.keys()].filter((k) => k.includes(topic)).length;
    return a > 0 && b > 0 && a + b === 4;
  });
  const p = await producer();
  const n = 24;
  for (let i = 0; i < n; i++) await p.send(newMessage('TagA', 'k-' + i, 'cl-' + i));
  await waitUntil('all clustering messages', () => owner.size >= n);
  await sleep(500);
  check(dups === 0, dups + ' duplicate deliveries');
  const owners = new Set(owner.values());
  check(owners.has('c1') && owners.has('c2'), 'one consumer got everything');
}

async function broadcasting() {
  const a = new Set();
  const b = new Set();
  await consumer({ instance: 'c1', broadcast: true }, (m) => a.add(body(m)));
  await consumer({ instance: 'c2', broadcast: true }, (m) => b.add(body(m)));
  await sleep(3000);
  const p = await producer();
  const n = 10;
  for (let i = 0; i < n; i++) await p.send(newMessage('TagA', 'k-' + i, 'bc-' + i));
  await waitUntil('both broadcasting consumers got all', () => a.size >= n && b.size >= n);
}

async function retryDlq() {
  const p = await producer();
  await p.send(newMessage('TagA', 'dlq-key', 'dlq-body'));
  const attempts = [];
  await consumer({ maxReconsumeTimes: 2 }, (m) => {
    attempts.push(m.reconsumeTimes);
    return false;
  });
  await waitUntil('3 deliveries (reconsumeTimes 0,1,2)', () => attempts.length >= 3);
  const dlq = new Map();
  await consumer({ group: group + '_DLQ_READER', topic: '%DLQ%' + group, instance: 'dlq' }, (m) => {
    dlq.set(body(m), m);
    return true;
  });
  await waitUntil('message in %DLQ%' + group, () => dlq.has('dlq-body'));
  check(JSON.stringify(attempts.slice(0, 3)) === '[0,1,2]', 'reconsumeTimes sequence ' + attempts);
  check(attempts.length === 3, 'delivered after DLQ: ' + attempts);
  check(dlq.get('dlq-body').keys === 'dlq-key', 'DLQ keys ' + dlq.get('dlq-body').keys);
}

async function delay() {
  const p = await producer();
  const got = new Map();
  await consumer({}, (m) => {
    got.set(body(m), Date.now());
    return true;
  });
  await sleep(1500);
  const sentAt = new Map();
  for (let i = 0; i < 3; i++) {
    const m = newMessage('TagA', 'k-' + i, 'delay-' + i);
    m.delayTimeLevel = 2;
    sentAt.set('delay-' + i, Date.now());
    await p.send(m);
  }
  await waitUntil('delayed messages', () => got.size >= 3);
  for (const [b, t] of sentAt) check(got.get(b) - t >= 1500, b + ' arrived after only ' + (got.get(b) - t) + ' ms');
}

async function offsetsRestart() {
  const p = await producer();
  const prefix = phase === '1' ? 'old-' : 'new-';
  for (let i = 0; i < 5; i++) {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      try {
        await p.send(newMessage('TagA', 'k-' + i, prefix + i));
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(500);
      }
    }
  }
  const got = new Set();
  const c = await consumer({}, (m) => got.add(body(m)));
  await waitUntil('5 ' + prefix + ' messages', () => [...got].filter((b) => b.startsWith(prefix)).length >= 5);
  await sleep(2000);
  if (phase === '2') for (const b of got) check(!b.startsWith('old-'), 're-delivered after restart: ' + b);
  await c.close();
  closers.shift();
}

const SCENARIOS = {
  'send-sync': sendSync,
  clustering,
  broadcasting,
  'retry-dlq': retryDlq,
  delay,
  'offsets-restart': offsetsRestart,
};

async function main() {
  let ok = false;
  let error;
  try {
    const fn = SCENARIOS[scenario];
    if (!fn) throw new Error('unsupported scenario ' + scenario);
    await fn();
    ok = true;
  } catch (err) {
    error = String((err && err.stack) || err);
  }
  for (const close of closers) {
    await Promise.race([close().catch(() => {}), sleep(5000)]);
  }
  print({ event: 'result', scenario: scenario + (phase ? ':' + phase : ''), ok, ...(error ? { error } : {}) });
  process.exit(ok ? 0 : 1);
}

main();
