import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createRequest, createResponse, encodeCommand, isResponse, SerializeType, type RemotingCommand } from '../protocol/remoting-command';
import { ResponseCode } from '../protocol/response-code';
import { Connection } from './connection';
import { ConnectionClosedError, RemotingTimeoutError, TooManyRequestsError } from './errors';
import { RemotingClient } from './remoting-client';
import { RemotingServer } from './remoting-server';
import { connectRaw, sleep, wrapRaw } from './test-support';

const ECHO = 1000;
const HOLD = 1001;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startServer(setup: (server: RemotingServer) => void, options: Partial<ConstructorParameters<typeof RemotingServer>[0]> = {}) {
  const server = new RemotingServer({ host: '127.0.0.1', port: 0, ...options });
  setup(server);
  const port = await server.start();
  cleanups.push(() => server.close());
  return { server, port, addr: `127.0.0.1:${port}` };
}

function newClient(options: ConstructorParameters<typeof RemotingClient>[0] = {}) {
  const client = new RemotingClient(options);
  cleanups.push(() => client.close());
  return client;
}

/** A plain TCP server whose sockets the test drives by hand. */
async function startRawServer(onSocket: (socket: net.Socket) => void) {
  const server = net.createServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address() as net.AddressInfo;
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `127.0.0.1:${address.port}`;
}

describe('Connection correlation', () => {
  it('matches many concurrent requests answered in reverse order by opaque', async () => {
    const held: Array<{ req: RemotingCommand; ch: { write(c: RemotingCommand): void } }> = [];
    const total = 300;
    const { addr } = await startServer((s) =>
      s.registerProcessor(HOLD, (req, ch) => {
        held.push({ req, ch });
        if (held.length === total) {
          for (const h of held.reverse()) h.ch.write(createResponse(h.req, ResponseCode.SUCCESS, undefined, { n: h.req.extFields.n }));
        }
        return null;
      }),
    );
    const client = newClient();
    const order: number[] = [];
    const results = await Promise.all(
      Array.from({ length: total }, (_, n) =>
        client.invoke(addr, createRequest(HOLD, { n }), 5000).then((resp) => {
          order.push(n);
          return resp;
        }),
      ),
    );
    results.forEach((resp, n) => expect(resp.extFields.n).toBe(String(n)));
    expect(order[0]).toBe(total - 1);
    expect(order[total - 1]).toBe(0);
  });

  it('batches writes: a burst of requests and their responses take few socket writes', async () => {
    let serverConn: Connection | undefined;
    const { addr } = await startServer((s) => {
      s.registerProcessor(ECHO, (req) => createResponse(req, ResponseCode.SUCCESS, undefined, req.extFields));
      s.onChannelOpen((ch) => {
        serverConn = ch as Connection;
      });
    });
    const client = newClient();
    const conn = await client.connect(addr);
    const count = 1000;
    const results = await Promise.all(Array.from({ length: count }, (_, n) => client.invoke(addr, createRequest(ECHO, { n }), 5000)));
    expect(results.map((r) => r.extFields.n)).toEqual(Array.from({ length: count }, (_, n) => String(n)));
    // All 1000 requests were queued in one turn: exactly one socket write on the client side.
    expect(conn.stats.framesWritten).toBe(count);
    expect(conn.stats.socketWrites).toBe(1);
    expect(serverConn!.stats.framesWritten).toBe(count);
    // The server answers per received chunk, not per frame.
    expect(serverConn!.stats.socketWrites).toBeLessThan(count / 10);
  });
});

describe('Connection large bodies', () => {
  it('keeps large bodies as their own chunks and sends them at once: a mixed burst arrives intact and in order', async () => {
    let serverConn: Connection | undefined;
    const { addr } = await startServer((s) => {
      s.registerProcessor(ECHO, (req) => createResponse(req, ResponseCode.SUCCESS, undefined, req.extFields, req.body));
      s.onChannelOpen((ch) => {
        serverConn = ch as Connection;
      });
    });
    const client = newClient();
    const conn = await client.connect(addr);
    // Small, exactly-at-threshold and large bodies interleaved, over 256 KiB in all (the concat limit).
    const sizes = Array.from({ length: 120 }, (_, n) => [0, 10, 8 * 1024 - 1, 8 * 1024, 40 * 1024, 300][n % 6]!);
    const bodies = sizes.map((size, n) => Buffer.alloc(size, n % 251));
    const results = await Promise.all(
      bodies.map((body, n) => client.invoke(addr, createRequest(ECHO, { n }, body.length > 0 ? body : undefined), 5000)),
    );
    results.forEach((r, n) => {
      expect(r.extFields.n).toBe(String(n));
      expect(Buffer.compare(r.body ?? Buffer.alloc(0), bodies[n]!)).toBe(0);
    });
    expect(conn.stats.framesWritten).toBe(bodies.length);
    // Each large frame leaves at once with the small ones queued before it; the last small frame
    // leaves with the turn's write.
    const large = sizes.filter((n) => n >= 8 * 1024).length;
    expect(conn.stats.socketWrites).toBe(large + 1);
    expect(serverConn!.stats.framesWritten).toBe(bodies.length);
  });
});

describe('Connection timeouts and bounds', () => {
  it('rejects with RemotingTimeoutError after the timeout and ignores the late reply', async () => {
    const held: Array<[RemotingCommand, { write(c: RemotingCommand): void }]> = [];
    const { addr } = await startServer((s) => {
      s.registerProcessor(HOLD, (req, ch) => {
        held.push([req, ch]);
        return null;
      });
      s.registerProcessor(ECHO, (req) => createResponse(req, ResponseCode.SUCCESS));
    });
    const client = newClient();
    const conn = await client.connect(addr);
    const started = Date.now();
    const err = await client.invoke(addr, createRequest(HOLD), 150).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(RemotingTimeoutError);
    expect((err as RemotingTimeoutError).retriable).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1000);
    expect(conn.pendingRequests).toBe(0);
    // Late reply is dropped, the connection keeps working.
    const [req, ch] = held[0]!;
    ch.write(createResponse(req, ResponseCode.SUCCESS));
    expect((await client.invoke(addr, createRequest(ECHO), 2000)).code).toBe(ResponseCode.SUCCESS);
  });

  it('times out requests with different timeouts independently', async () => {
    const { addr } = await startServer((s) => s.registerProcessor(HOLD, () => null));
    const client = newClient();
    const t0 = Date.now();
    const times: number[] = [];
    const run = (ms: number) => client.invoke(addr, createRequest(HOLD), ms).catch(() => times.push(Date.now() - t0));
    await Promise.all([run(400), run(100)]);
    expect(times[0]).toBeLessThan(300);
    expect(times[1]).toBeGreaterThanOrEqual(390);
  });

  it('rejects at once beyond maxInFlightRequests with TooManyRequestsError', async () => {
    const { addr } = await startServer((s) => s.registerProcessor(HOLD, () => null));
    const client = newClient({ maxInFlightRequests: 3 });
    await client.connect(addr);
    const held = [1, 2, 3].map(() => client.invoke(addr, createRequest(HOLD), 5000).catch((e: unknown) => e));
    const err = await client.invoke(addr, createRequest(HOLD), 5000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TooManyRequestsError);
    client.close();
    for (const e of await Promise.all(held)) expect(e).toBeInstanceOf(ConnectionClosedError);
  });
});

describe('Connection close handling', () => {
  it('peer half-close rejects pending requests and fires close listeners exactly once', async () => {
    let peer: net.Socket | undefined;
    const addr = await startRawServer((socket) => {
      peer = socket;
      socket.on('error', () => undefined);
      socket.once('data', () => socket.end());
    });
    const client = newClient();
    const conn = await client.connect(addr);
    let closes = 0;
    conn.onClose(() => closes++);
    const err = await client.invoke(addr, createRequest(ECHO), 5000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionClosedError);
    await sleep(50);
    expect(conn.closed).toBe(true);
    expect(closes).toBe(1);
    expect(peer).toBeDefined();
  });

  it('connection reset rejects pending requests; the next invoke reconnects', async () => {
    let accepted = 0;
    const addr = await startRawServer((socket) => {
      accepted++;
      socket.on('error', () => undefined);
      if (accepted === 1) socket.once('data', () => socket.resetAndDestroy());
      else {
        const raw = wrapRaw(socket);
        socket.on('data', () => {
          for (const f of raw.frames.splice(0)) socket.write(encodeCommand(createResponse(f, ResponseCode.SUCCESS)));
        });
      }
    });
    const client = newClient();
    const conn = await client.connect(addr);
    let closes = 0;
    conn.onClose(() => closes++);
    const err = await client.invoke(addr, createRequest(ECHO), 5000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(closes).toBe(1);
    const resp = await client.invoke(addr, createRequest(ECHO), 5000);
    expect(resp.code).toBe(ResponseCode.SUCCESS);
    expect(accepted).toBe(2);
  });

  it('a malformed frame from the server closes only that client connection', async () => {
    const addr = await startRawServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.write(Buffer.from([0xff, 0xff, 0xff, 0xf0])));
    });
    const good = await startServer((s) => s.registerProcessor(ECHO, (req) => createResponse(req, ResponseCode.SUCCESS)));
    const client = newClient();
    await client.connect(good.addr);
    const err = await client.invoke(addr, createRequest(ECHO), 5000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect((err as Error).message).toContain('malformed frame');
    expect((await client.invoke(good.addr, createRequest(ECHO), 2000)).code).toBe(ResponseCode.SUCCESS);
  });

  it('server side: the peer ending its side closes the channel', async () => {
    const closed: string[] = [];
    const { port } = await startServer((s) => s.onChannelClose((ch) => closed.push(ch.id)));
    const raw = await connectRaw(port);
    raw.socket.end();
    await raw.closed;
    await sleep(20);
    expect(closed).toHaveLength(1);
  });

  it('responses are flagged and carry the request opaque', async () => {
    const { port } = await startServer((s) => s.registerProcessor(ECHO, () => createResponse({ opaque: 0 }, ResponseCode.SUCCESS)));
    const raw = await connectRaw(port);
    const req = createRequest(ECHO);
    raw.socket.write(encodeCommand(req));
    const [resp] = await raw.waitFrames(1);
    expect(resp!.opaque).toBe(req.opaque);
    expect(isResponse(resp!)).toBe(true);
    raw.socket.destroy();
  });
});

describe('Connection header serialization', () => {
  it('answers each request in its own serialize type, and a client can send ROCKETMQ binary headers', async () => {
    const seen: Array<number | undefined> = [];
    const { port, addr } = await startServer((s) =>
      s.registerProcessor(ECHO, (req) => {
        seen.push(req.serializeType);
        return createResponse(req, ResponseCode.SUCCESS, 'ok', req.extFields);
      }),
    );
    const raw = await connectRaw(port);
    raw.socket.write(encodeCommand(createRequest(ECHO, { n: 1 }), SerializeType.ROCKETMQ));
    raw.socket.write(encodeCommand(createRequest(ECHO, { n: 2 }), SerializeType.JSON));
    await raw.waitFrames(2);
    // Frame byte 0 (after the length field) is the serialize type.
    expect(raw.rawFrames.map((f) => f[0])).toEqual([SerializeType.ROCKETMQ, SerializeType.JSON]);
    expect(raw.frames.map((f) => [f.extFields.n, f.remark])).toEqual([['1', 'ok'], ['2', 'ok']]);
    raw.socket.destroy();

    const binaryClient = newClient({ serializeType: SerializeType.ROCKETMQ });
    const resp = await binaryClient.invoke(addr, createRequest(ECHO, { n: 3, big: 'é'.repeat(100) }), 5000);
    expect(resp.serializeType).toBe(SerializeType.ROCKETMQ);
    expect(resp.extFields).toEqual({ n: '3', big: 'é'.repeat(100) });
    expect(seen).toEqual([SerializeType.ROCKETMQ, SerializeType.JSON, SerializeType.ROCKETMQ]);
  });
});
