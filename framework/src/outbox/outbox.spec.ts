/**
 * The outbox on SQLite (file), PostgreSQL and MariaDB/MySQL (real servers; unreachable = failure),
 * with a recording send function in place of a broker (outbox.broker.spec.ts uses a real one):
 * commit vs rollback, per-sharding-key order (FAILED rows hold their key), backoff → FAILED →
 * resubmit, at-least-once resend after a relay died between send and mark-SENT, retention cleanup,
 * the migration, concurrent relays (SKIP LOCKED on PostgreSQL/MySQL, one active relay on SQLite).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../client/message';
import { MQClientError } from '../client/errors';
import { assertReachable, createTestKnex, testKnexConfig, type TestDialect } from '../transaction/db.test-support';
import { createOutbox, type Outbox } from './outbox';
import type { OutboxMessage, OutboxOptions } from './outbox-options';
import { dropOutboxTables, OutboxMigrationSource } from './outbox-table';

const run = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
let seq = 0;
const table = (p: string) => `ob_${p}_${run}_${++seq}`;

interface Sent {
  topic: string;
  key: string | undefined;
  body: string;
  msgId: string;
  relay: string;
}

/** A send function that records what it sends; `fail` decides per message whether it throws. */
function recorder(relay = 'r') {
  const sent: Sent[] = [];
  let fail: ((m: Message) => Error | undefined) | undefined;
  const send = async (m: Message, key: string | undefined) => {
    await Promise.resolve();
    const err = fail?.(m);
    if (err) throw err;
    sent.push({ topic: m.topic, key, body: Buffer.isBuffer(m.body) ? m.body.toString('utf8') : m.body, msgId: m.properties!.UNIQ_KEY!, relay });
    return { ok: true };
  };
  return {
    sent,
    send,
    setFail(f: typeof fail) {
      fail = f;
    },
  };
}

const brokerDown = () => new MQClientError('CONNECT_FAILED', 'connect ECONNREFUSED', { retriable: true });

describe.each<TestDialect>(['sqlite', 'pg', 'mysql'])('outbox on %s', (dialect) => {
  let dir: string;
  let knex: Knex;
  let other: Knex;
  const tables: string[] = [];
  let clock = 1_000_000;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outbox-spec-'));
    const config = testKnexConfig(dialect, path.join(dir, 'db.sqlite'));
    knex = createTestKnex(config);
    other = createTestKnex(config, 200);
    await assertReachable(knex, dialect);
  });

  afterAll(async () => {
    for (const t of tables) await dropOutboxTables(knex, t).catch(() => undefined);
    await knex?.destroy();
    await other?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function make(options: Partial<OutboxOptions> & { send: OutboxOptions['send'] }, tableName?: string, db: Knex = knex): Promise<Outbox> {
    const name = tableName ?? table('t');
    if (!tables.includes(name)) tables.push(name);
    const outbox = createOutbox({ knex: db, tableName: name, now: () => clock, random: () => 0, cleanupIntervalMs: 0, ...options });
    await outbox.migrate();
    return outbox;
  }

  it('migrate is idempotent; the knex migration source creates and drops the same tables', async () => {
    const name = table('mig');
    const outbox = await make({ send: recorder().send }, name);
    await outbox.migrate();
    expect(await knex.schema.hasTable(name)).toBe(true);
    expect(await knex.schema.hasTable(`${name}_lease`)).toBe(true);
    const viaMigration = table('mig');
    const source = new OutboxMigrationSource(viaMigration);
    const migration = await source.getMigration();
    await migration.up(knex);
    expect(await knex.schema.hasTable(viaMigration)).toBe(true);
    await migration.down!(knex);
    expect(await knex.schema.hasTable(viaMigration)).toBe(false);
  });

  it('a row enqueued in a committed transaction is sent (msgId, JSON body, keys); a rolled-back one never', async () => {
    const biz = table('biz');
    tables.push(biz);
    await knex.schema.createTable(biz, (t) => t.string('id', 64).primary());
    const rec = recorder();
    const outbox = await make({ send: rec.send });
    let committedId = '';
    await knex.transaction(async (trx) => {
      await trx(biz).insert({ id: 'o1' });
      [committedId] = (await outbox.enqueue(trx, { topic: 'Orders', tags: 'Created', keys: ['o1', 'x'], body: { id: 'o1', total: 5, note: 'grüße ✓' } })) as [string];
    });
    const trx = await knex.transaction();
    await trx(biz).insert({ id: 'o2' });
    await outbox.enqueue(trx, { topic: 'Orders', body: { id: 'o2' } });
    await trx.rollback();
    expect(await other(biz).where({ id: 'o2' }).first()).toBeUndefined();

    const pass = await outbox.relay.runOnce();
    expect(pass).toMatchObject({ claimed: 1, sent: 1, failed: 0, active: true });
    expect(rec.sent).toHaveLength(1);
    expect(rec.sent[0]).toMatchObject({ topic: 'Orders', msgId: committedId });
    expect(JSON.parse(rec.sent[0]!.body)).toEqual({ id: 'o1', total: 5, note: 'grüße ✓' });
    const row = (await outbox.findByMsgId(committedId))!;
    expect(row).toMatchObject({ status: 'SENT', attempts: 1, tags: 'Created', keys: 'o1 x', sentAtMs: clock });
    expect(row.properties).toMatchObject({ contentType: 'application/json', UNIQ_KEY: committedId });
    expect(await outbox.counts()).toEqual({ PENDING: 0, SENDING: 0, SENT: 1, FAILED: 0 });
    expect((await outbox.relay.runOnce()).claimed).toBe(0);
  });

  it('keeps per-sharding-key order: a row waits while an older row of its key is unsent', async () => {
    const rec = recorder();
    const outbox = await make({ send: rec.send });
    const plan: Array<[string | undefined, string]> = [
      ['k1', 'k1-1'],
      ['k2', 'k2-1'],
      ['k1', 'k1-2'],
      [undefined, 'free-1'],
      ['k1', 'k1-3'],
      ['k2', 'k2-2'],
      [undefined, 'free-2'],
    ];
    await outbox.enqueue(
      knex,
      plan.map(([k, b]) => ({ topic: 'T', body: b, ...(k ? { shardingKey: k } : {}) })),
    );
    // Pass 1: the oldest row of each key plus the key-less rows.
    expect((await outbox.relay.runOnce()).sent).toBe(4);
    expect(rec.sent.map((s) => s.body).sort()).toEqual(['free-1', 'free-2', 'k1-1', 'k2-1']);
    expect(rec.sent.find((s) => s.body === 'k1-1')!.key).toBe('k1');
    expect((await outbox.relay.runOnce()).sent).toBe(2);
    expect((await outbox.relay.runOnce()).sent).toBe(1);
    const order = (k: string) => rec.sent.filter((s) => s.key === k).map((s) => s.body);
    expect(order('k1')).toEqual(['k1-1', 'k1-2', 'k1-3']);
    expect(order('k2')).toEqual(['k2-1', 'k2-2']);
  });

  it('backs off per row, goes FAILED after maxAttempts (holding its key), and a resubmit sends it', async () => {
    const rec = recorder();
    const outbox = await make({ send: rec.send, maxAttempts: 3, backoff: { initialMs: 1_000, multiplier: 2, maxMs: 60_000, jitter: 0 } });
    const failedEvents: string[] = [];
    outbox.events.on('send.failed', (e) => failedEvents.push(`${e.attempts}:${e.status}`));
    rec.setFail((m) => (String(m.body) === 'a1' ? brokerDown() : undefined));
    await outbox.enqueue(knex, [
      { topic: 'T', body: 'a1', shardingKey: 'A' },
      { topic: 'T', body: 'a2', shardingKey: 'A' },
      { topic: 'T', body: 'b1', shardingKey: 'B' },
    ]);
    expect(await outbox.relay.runOnce()).toMatchObject({ claimed: 2, sent: 1, failed: 0 });
    let a1 = (await outbox.list('PENDING')).find((r) => r.body.toString() === 'a1')!;
    expect(a1).toMatchObject({ attempts: 1, nextAttemptAtMs: clock + 1_000 });
    expect(a1.lastError).toMatch(/ECONNREFUSED/);
    // Not due yet: nothing is claimed, and a2 stays behind a1.
    expect((await outbox.relay.runOnce()).claimed).toBe(0);
    clock += 1_000;
    expect(await outbox.relay.runOnce()).toMatchObject({ claimed: 1, sent: 0 });
    a1 = (await outbox.get(a1.id))!;
    expect(a1).toMatchObject({ status: 'PENDING', attempts: 2, nextAttemptAtMs: clock + 2_000 });
    clock += 2_000;
    expect(await outbox.relay.runOnce()).toMatchObject({ claimed: 1, failed: 1 });
    expect(failedEvents).toEqual(['1:PENDING', '2:PENDING', '3:FAILED']);
    clock += 60_000;
    expect((await outbox.relay.runOnce()).claimed).toBe(0); // a2 is held back by FAILED a1
    const failed = await outbox.listFailed();
    expect(failed.map((r) => r.body.toString())).toEqual(['a1']);
    expect(failed[0]).toMatchObject({ status: 'FAILED', attempts: 3, shardingKey: 'A' });
    expect(outbox.stats()).toMatchObject({ failed: 1, sendFailures: 3 });

    rec.setFail(undefined);
    expect(await outbox.resubmit([failed[0]!.id, '999999999'])).toBe(1);
    expect((await outbox.relay.runOnce()).sent).toBe(1);
    expect((await outbox.relay.runOnce()).sent).toBe(1);
    expect(rec.sent.filter((s) => s.key === 'A').map((s) => s.body)).toEqual(['a1', 'a2']);
    expect(await outbox.counts()).toMatchObject({ SENT: 3, FAILED: 0, PENDING: 0 });
  });

  it('a permanent error (message too large for the broker) fails the row at once', async () => {
    const rec = recorder();
    const outbox = await make({ send: rec.send, maxAttempts: 5 });
    rec.setFail(() => new MQClientError('MESSAGE_TOO_LARGE', 'too large'));
    await outbox.enqueue(knex, { topic: 'T', body: 'x' });
    expect(await outbox.relay.runOnce()).toMatchObject({ failed: 1 });
    expect((await outbox.listFailed())[0]).toMatchObject({ attempts: 1 });
  });

  it('a relay that dies between send and mark-SENT: the row is sent again after the lease (same msgId, counted)', async () => {
    const name = table('crash');
    const hung = recorder('dead');
    let release: (() => void) | undefined;
    // The first relay "crashes" inside its send: the send went out, the relay never marks the row.
    const dead = await make(
      {
        relayId: 'dead',
        leaseMs: 5_000,
        send: async (m, k) => {
          await hung.send(m, k);
          await new Promise<void>((r) => (release = r));
        },
      },
      name,
    );
    const rec = recorder('live');
    const live = await make({ relayId: 'live', leaseMs: 5_000, send: rec.send }, name, other);
    const [msgId] = await dead.enqueue(knex, { topic: 'T', body: 'once', shardingKey: 'K' });
    await dead.enqueue(knex, { topic: 'T', body: 'twice', shardingKey: 'K' });
    const deadPass = dead.relay.runOnce();
    await vi_waitFor(() => hung.sent.length === 1);
    const sending = (await live.list('SENDING'))[0]!;
    expect(sending).toMatchObject({ msgId, attempts: 1 });
    expect(sending.claimedBy).toMatch(/^dead#/);
    // Within the lease nobody touches the row, and the younger row of its key waits.
    expect((await live.relay.runOnce()).claimed).toBe(0);
    clock += 5_001;
    const pass = await live.relay.runOnce();
    expect(pass).toMatchObject({ claimed: 1, sent: 1 });
    expect(rec.sent[0]).toMatchObject({ body: 'once', msgId });
    expect(live.stats()).toMatchObject({ reclaimed: 1, resent: 1 });
    expect((await live.relay.runOnce()).sent).toBe(1);
    expect(rec.sent.map((s) => s.body)).toEqual(['once', 'twice']);
    // The dead relay wakes up: its mark-SENT is refused (the claim moved on), counted as lease lost.
    release!();
    await deadPass;
    expect(dead.stats().leaseLost).toBe(1);
    expect((await live.findByMsgId(msgId!))!).toMatchObject({ status: 'SENT', attempts: 2 });
  });

  it('cleanup deletes SENT rows older than the retention only', async () => {
    const rec = recorder();
    const outbox = await make({ send: rec.send, retentionMs: 10_000 });
    await outbox.enqueue(knex, [{ topic: 'T', body: 'old' }]);
    await outbox.relay.runOnce();
    clock += 8_000;
    await outbox.enqueue(knex, [{ topic: 'T', body: 'new' }, { topic: 'T', body: 'pending', delayLevel: 0 }]);
    rec.setFail((m) => (String(m.body) === 'pending' ? brokerDown() : undefined));
    await outbox.relay.runOnce();
    clock += 3_000;
    expect(await outbox.cleanup()).toBe(1);
    const left = [...(await outbox.list('SENT')), ...(await outbox.list('PENDING'))].map((r) => r.body.toString()).sort();
    expect(left).toEqual(['new', 'pending']);
  });

  it('the relay loop wakes on a committed enqueue in this process (poll interval 60 s)', async () => {
    const rec = recorder();
    const outbox = await make({ send: rec.send, pollIntervalMs: 60_000, now: Date.now });
    outbox.relay.start();
    try {
      await new Promise((r) => setTimeout(r, 100));
      const t0 = Date.now();
      await knex.transaction((trx) => outbox.enqueue(trx, { topic: 'T', body: 'wake' }));
      await vi_waitFor(() => rec.sent.length === 1);
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      await outbox.close();
    }
  });

  if (dialect === 'sqlite') {
    it('SQLite: one active relay (lease row); a standby takes over when it stops', async () => {
      const name = table('lease');
      const a = await make({ relayId: 'A', send: recorder('A').send, leaseMs: 5_000 }, name);
      const b = await make({ relayId: 'B', send: recorder('B').send, leaseMs: 5_000 }, name, other);
      const seen: string[] = [];
      b.events.on('leadership', (e) => seen.push(`${e.relayId}:${String(e.active)}`));
      expect((await a.relay.runOnce()).active).toBe(true);
      expect((await b.relay.runOnce()).active).toBe(false);
      expect(() => createOutbox({ knex, tableName: name, singleActiveRelay: false })).toThrow(/SQLite/);
      clock += 5_001; // A stopped renewing (crashed): its lease expires
      expect((await b.relay.runOnce()).active).toBe(true);
      expect((await a.relay.runOnce()).active).toBe(false);
      expect(seen).toEqual(['B:true']);
    });
  } else {
    it('two relays (SKIP LOCKED) never send the same row concurrently, each row once, per-key order kept', async () => {
      const name = table('pair');
      const keys = 12;
      const perKey = 10;
      const inFlight = new Set<string>();
      const sent: Sent[] = [];
      let overlaps = 0;
      const sender = (relay: string) => async (m: Message, key: string | undefined) => {
        const id = m.properties!.UNIQ_KEY!;
        if (inFlight.has(id)) overlaps++;
        inFlight.add(id);
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 4)));
        inFlight.delete(id);
        sent.push({ topic: m.topic, key, body: String(m.body), msgId: id, relay });
      };
      const opts = { now: Date.now, pollIntervalMs: 20, batchSize: 7, sendConcurrency: 4 };
      const a = await make({ ...opts, relayId: 'A', send: sender('A') }, name);
      const b = await make({ ...opts, relayId: 'B', send: sender('B') }, name, other);
      const total = keys * perKey + 20;
      const rows: OutboxMessage[] = [];
      for (let i = 0; i < perKey; i++) for (let k = 0; k < keys; k++) rows.push({ topic: 'T', body: `k${k}-${i}`, shardingKey: `k${k}` });
      for (let i = 0; i < 20; i++) rows.push({ topic: 'T', body: `free-${i}` });
      a.relay.start();
      b.relay.start();
      try {
        // Enqueue while both relays run, in several transactions.
        for (let i = 0; i < rows.length; i += 20) await knex.transaction((trx) => a.enqueue(trx, rows.slice(i, i + 20)));
        await vi_waitFor(() => sent.length >= total, 30_000);
      } finally {
        await a.close();
        await b.close();
      }
      expect(overlaps).toBe(0);
      expect(sent).toHaveLength(total);
      expect(new Set(sent.map((s) => s.msgId)).size).toBe(total);
      for (let k = 0; k < keys; k++) {
        expect(sent.filter((s) => s.key === `k${k}`).map((s) => s.body)).toEqual(Array.from({ length: perKey }, (_, i) => `k${k}-${i}`));
      }
      // Both relays did work.
      expect(new Set(sent.map((s) => s.relay)).size).toBe(2);
      expect(await a.counts()).toMatchObject({ SENT: total, PENDING: 0, SENDING: 0 });
      expect(a.stats().leaseLost + b.stats().leaseLost).toBe(0);
    });
  }
});

async function vi_waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
