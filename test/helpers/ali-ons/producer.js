'use strict';
/**
 * A real, unmodified ali-ons 3.12 producer in its own process.
 *
 *   node producer.js '<json config>'
 *
 * config: { nameSrv: 'h:p' | ['h:p', ...], topic, group?, count (0 = until SIGTERM), tags?: string[],
 *           keyPrefix?, bodyPrefix?, bodySize?, intervalMs?, sendTimeoutMs?, delayLevel? }
 *
 * stdout, one JSON object per line:
 *   {"event":"ready"}
 *   {"event":"sent","i":0,"key":"k-0","tags":"TagA","msgId":"...","queueId":1,"queueOffset":7,"sendStatus":"SEND_OK","body":"..."}
 *   {"event":"send-error","i":3,"key":"k-3","error":"..."}
 *   {"event":"done","sent":10,"failed":0}
 * Exit code 0 when every message was sent (count > 0) or on a clean SIGTERM stop; 1 otherwise.
 */
const { Producer, Message } = require('ali-ons');
const { clientOptions, print, readConfig, run } = require('./common');

async function main() {
  const cfg = readConfig(['nameSrv', 'topic']);
  const count = Number(cfg.count ?? 10);
  const tags = cfg.tags && cfg.tags.length ? cfg.tags : [null];
  const keyPrefix = cfg.keyPrefix ?? `k-${process.pid}`;
  const bodyPrefix = cfg.bodyPrefix ?? 'body';
  const bodySize = Number(cfg.bodySize ?? 0);
  const intervalMs = Number(cfg.intervalMs ?? 0);

  const producer = new Producer({
    ...clientOptions(cfg),
    producerGroup: cfg.group ?? 'ali_ons_test_producer',
    sendMsgTimeout: Number(cfg.sendTimeoutMs ?? 3000),
  });
  producer.on('error', (err) => process.stderr.write('[producer error] ' + (err && err.message) + '\n'));

  let stopping = false;
  process.once('SIGTERM', () => {
    stopping = true;
  });
  process.once('SIGINT', () => {
    stopping = true;
  });

  await producer.ready();
  print({ event: 'ready', pid: process.pid });

  let sent = 0;
  let failed = 0;
  for (let i = 0; (count === 0 || i < count) && !stopping; i++) {
    const tag = tags[i % tags.length];
    const key = `${keyPrefix}-${i}`;
    let body = `${bodyPrefix}-${i}`;
    if (bodySize > body.length) body = body + '.'.repeat(bodySize - body.length);
    const msg = tag ? new Message(cfg.topic, tag, body) : new Message(cfg.topic, body);
    msg.keys = [key];
    if (cfg.delayLevel) msg.delayTimeLevel = Number(cfg.delayLevel);
    try {
      const r = await producer.send(msg);
      sent++;
      print({
        event: 'sent',
        i,
        key,
        tags: tag,
        body,
        msgId: r.msgId,
        // ali-ons leaves header values as the strings it received; report numbers.
        queueId: r.messageQueue ? Number(r.messageQueue.queueId) : null,
        queueOffset: r.queueOffset,
        sendStatus: r.sendStatus,
      });
    } catch (err) {
      failed++;
      print({ event: 'send-error', i, key, error: String((err && err.message) || err) });
    }
    if (intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
  }
  print({ event: 'done', sent, failed });
  const closeTimer = setTimeout(() => process.exit(failed > 0 && !stopping ? 1 : 0), 5000);
  try {
    await producer.close();
  } catch (err) {
    process.stderr.write('[producer close error] ' + (err && err.message) + '\n');
  }
  clearTimeout(closeTimer);
  process.exit(failed > 0 && !stopping ? 1 : 0);
}

run(main);
