'use strict';
/**
 * A real, unmodified ali-ons 3.12 push consumer in its own process.
 *
 *   node consumer.js '<json config>'
 *
 * config: { nameSrv: 'h:p' | [...], group, topic, subExpression? ('*'), messageModel? ('CLUSTERING' | 'BROADCASTING'),
 *           consumeFromWhere? ('CONSUME_FROM_LAST_OFFSET'), maxReconsumeTimes?, failKeys?: string[] (handler throws for
 *           messages whose KEYS contain one of these), failAll?: boolean, instanceName?, rebalanceIntervalMs?,
 *           heartbeatIntervalMs?, pollNameServerIntervalMs? }  (interval options default to ali-ons' own)
 *
 * stdout, one JSON object per line:
 *   {"event":"ready","pid":123,"clientId":"ip@pid"}
 *   {"event":"assign","queues":["[topic=\"T\", brokerName=\"b\", queueId=0]", ...]}   (whenever the set changes)
 *   {"event":"msg","msgId":..,"keys":..,"tags":..,"queueId":..,"reconsumeTimes":..,"topic":..,"retryTopic":..,
 *    "originMessageId":..,"body":..,"failed":bool,"pid":..}
 *   {"event":"closed"}
 * SIGTERM/SIGINT: close() (persists offsets, unregisters), then exit 0; exit 2 if close hangs.
 */
const { Consumer } = require('ali-ons');
const { clientOptions, print, readConfig, run } = require('./common');

async function main() {
  const cfg = readConfig(['nameSrv', 'topic', 'group']);
  const failKeys = cfg.failKeys || [];
  const options = {
    ...clientOptions(cfg),
    consumerGroup: cfg.group,
    isBroadcast: cfg.messageModel === 'BROADCASTING',
    consumeFromWhere: cfg.consumeFromWhere || 'CONSUME_FROM_LAST_OFFSET',
  };
  if (cfg.maxReconsumeTimes !== undefined) options.maxReconsumeTimes = Number(cfg.maxReconsumeTimes);
  if (cfg.instanceName) options.instanceName = cfg.instanceName;
  if (cfg.rebalanceIntervalMs) options.rebalanceInterval = Number(cfg.rebalanceIntervalMs);
  if (cfg.heartbeatIntervalMs) options.heartbeatBrokerInterval = Number(cfg.heartbeatIntervalMs);
  if (cfg.pollNameServerIntervalMs) options.pollNameServerInteval = Number(cfg.pollNameServerIntervalMs);

  const consumer = new Consumer(options);
  consumer.on('error', (err) => {
    const text = String((err && err.message) || err);
    // Handler failures are intended in failure mode; keep stderr readable.
    if (!text.includes('rocketry-intended-failure')) process.stderr.write('[consumer error] ' + text + '\n');
  });

  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    const timer = setTimeout(() => process.exit(2), 10000);
    try {
      await consumer.close();
      print({ event: 'closed' });
    } catch (err) {
      process.stderr.write('[consumer close error] ' + (err && err.message) + '\n');
    }
    clearTimeout(timer);
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  await consumer.ready();

  consumer.subscribe(cfg.topic, cfg.subExpression || '*', async (msg) => {
    const keys = msg.keys || '';
    const fail = !!cfg.failAll || failKeys.some((k) => keys.split(' ').includes(k));
    print({
      event: 'msg',
      pid: process.pid,
      msgId: msg.msgId,
      keys,
      tags: msg.tags,
      queueId: msg.queueId,
      queueOffset: msg.queueOffset,
      reconsumeTimes: msg.reconsumeTimes,
      topic: msg.topic,
      retryTopic: msg.retryTopic || null,
      originMessageId: msg.originMessageId || null,
      body: msg.body ? msg.body.toString('utf8') : null,
      failed: fail,
    });
    if (fail) throw new Error('rocketry-intended-failure for ' + keys);
  });

  print({ event: 'ready', pid: process.pid, clientId: consumer.clientId });

  // Report the queue assignment whenever it changes, so tests wait for rebalance instead of sleeping.
  let last = '';
  setInterval(() => {
    if (closing) return;
    const queues = Array.from(consumer.processQueueTable.keys()).sort();
    const text = JSON.stringify(queues);
    if (text !== last) {
      last = text;
      print({ event: 'assign', queues });
    }
  }, 200);
}

run(main);
