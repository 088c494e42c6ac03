import { afterEach, describe, expect, it } from 'vitest';
import { createRequest, createResponse, encodeCommand, SerializeType, type RemotingCommand } from '../protocol/remoting-command';
import { ResponseCode } from '../protocol/response-code';
import { RemotingClient } from './remoting-client';
import { RemotingServer } from './remoting-server';
import { connectRaw, sleep } from './test-support';
import type { RemotingServerOptions } from './types';

const ECHO = 1000;
const HOLD = 1001;
const THROW = 1002;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startServer(setup: (server: RemotingServer) => void = () => undefined, options: Partial<RemotingServerOptions> = {}) {
  const server = new RemotingServer({ host: '127.0.0.1', port: 0, ...options });
  server.registerProcessor(ECHO, (req) => createResponse(req, ResponseCode.SUCCESS, undefined, req.extFields, req.body));
  server.registerProcessor(THROW, () => {
    throw new Error('processor exploded');
  });
  setup(server);
  const port = await server.start();
  cleanups.push(() => server.close());
  return { server, port, addr: `127.0.0.1:${port}` };
}

function newClient() {
  const client = new RemotingClient();
  cleanups.push(() => client.close());
  return client;
}

function frameWithLength(lengthField: number, rest: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(4);
  head.writeInt32BE(lengthField, 0);
  return Buffer.concat([head, rest]);
}

/** A frame with a syntactically valid length but the given header bytes and serialize type. */
function frameWithHeader(header: Buffer, serializeType = 0): Buffer {
  const frame = Buffer.alloc(8 + header.length);
  frame.writeInt32BE(4 + header.length, 0);
  frame.writeUInt32BE(((serializeType & 0xff) << 24) | header.length, 4);
  header.copy(frame, 8);
  return frame;
}

describe('RemotingServer replies', () => {
  it('answers unknown codes with REQUEST_CODE_NOT_SUPPORTED and processor errors with SYSTEM_ERROR', async () => {
    const { addr } = await startServer();
    const client = newClient();
    const unknown = await client.invoke(addr, createRequest(4242), 2000);
    expect(unknown.code).toBe(ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
    expect(unknown.remark).toBe(' request type 4242 not supported');
    const failed = await client.invoke(addr, createRequest(THROW), 2000);
    expect(failed.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(failed.remark).toBe('processor exploded');
  });

  it('turns a rejected async processor into SYSTEM_ERROR', async () => {
    const { addr } = await startServer((s) => s.registerProcessor(HOLD, async () => Promise.reject(new Error('async boom'))));
    const resp = await newClient().invoke(addr, createRequest(HOLD), 2000);
    expect(resp.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(resp.remark).toBe('async boom');
  });

  it('uses the default processor for codes without their own', async () => {
    const { addr } = await startServer((s) => s.setDefaultProcessor((req) => createResponse(req, ResponseCode.SUCCESS, `default ${req.code}`)));
    const resp = await newClient().invoke(addr, createRequest(777), 2000);
    expect(resp.remark).toBe('default 777');
  });

  it('never replies to oneway requests, not even with errors', async () => {
    const seen: number[] = [];
    const { port } = await startServer((s) =>
      s.registerProcessor(HOLD, (req) => {
        seen.push(req.code);
        return createResponse(req, ResponseCode.SUCCESS, 'should not be sent');
      }),
    );
    const raw = await connectRaw(port);
    raw.socket.write(encodeCommand(createRequest(HOLD, {}, undefined, true)));
    raw.socket.write(encodeCommand(createRequest(THROW, {}, undefined, true)));
    raw.socket.write(encodeCommand(createRequest(4242, {}, undefined, true)));
    const probe = createRequest(ECHO, { probe: 1 });
    raw.socket.write(encodeCommand(probe));
    await raw.waitFrames(1);
    await sleep(50);
    expect(raw.frames).toHaveLength(1);
    expect(raw.frames[0]!.opaque).toBe(probe.opaque);
    expect(seen).toEqual([HOLD]);
    raw.socket.destroy();
  });

  it('answers SYSTEM_BUSY [OVERLOAD] beyond the per-channel in-flight bound', async () => {
    const releases: Array<() => void> = [];
    const { addr } = await startServer(
      (s) =>
        s.registerProcessor(HOLD, (req) => new Promise<RemotingCommand>((resolve) => releases.push(() => resolve(createResponse(req, ResponseCode.SUCCESS))))),
      { maxInFlightRequestsPerChannel: 2 },
    );
    const client = newClient();
    const first = [client.invoke(addr, createRequest(HOLD), 5000), client.invoke(addr, createRequest(HOLD), 5000)];
    const busy = await client.invoke(addr, createRequest(HOLD), 5000);
    expect(busy.code).toBe(ResponseCode.SYSTEM_BUSY);
    expect(busy.remark).toMatch(/^\[OVERLOAD\]/);
    for (const r of releases) r();
    for (const r of await Promise.all(first)) expect(r.code).toBe(ResponseCode.SUCCESS);
    // Capacity is back once processing finished.
    const again = client.invoke(addr, createRequest(HOLD), 5000);
    await sleep(20);
    releases[2]!();
    expect((await again).code).toBe(ResponseCode.SUCCESS);
  });

  it('decodes requests with a ROCKETMQ binary header and answers in kind (type byte 1; JSON peers such as ali-ons get JSON)', async () => {
    const { port } = await startServer();
    const raw = await connectRaw(port);
    const req = createRequest(ECHO, { topic: 'T', queueId: 3 }, Buffer.from('payload'));
    raw.socket.write(encodeCommand(req, SerializeType.ROCKETMQ));
    const [resp] = await raw.waitFrames(1);
    expect(raw.rawFrames[0]!.readUInt8(0)).toBe(SerializeType.ROCKETMQ);
    expect(resp!.serializeType).toBe(SerializeType.ROCKETMQ);
    expect(resp!.extFields).toEqual({ topic: 'T', queueId: '3' });
    expect(resp!.body?.toString()).toBe('payload');
    raw.socket.destroy();
  });

  it('serves additional ports with the same processor table', async () => {
    const { server } = await startServer(undefined, { additionalPorts: [0] });
    expect(server.ports).toHaveLength(2);
    const client = newClient();
    for (const port of server.ports) {
      const resp = await client.invoke(`127.0.0.1:${port}`, createRequest(ECHO, { port }), 2000);
      expect(resp.extFields.port).toBe(String(port));
    }
  });

  it('closes idle channels after channelIdleTimeoutMs and the client reconnects', async () => {
    const opened: string[] = [];
    const closed: string[] = [];
    const { addr, server } = await startServer(
      (s) => {
        s.onChannelOpen((ch) => opened.push(ch.id));
        s.onChannelClose((ch) => closed.push(ch.id));
      },
      { channelIdleTimeoutMs: 150 },
    );
    const client = newClient();
    await client.invoke(addr, createRequest(ECHO), 2000);
    expect(server.channels()).toHaveLength(1);
    await sleep(400);
    expect(closed).toEqual(opened);
    expect(server.channels()).toHaveLength(0);
    expect((await client.invoke(addr, createRequest(ECHO), 2000)).code).toBe(ResponseCode.SUCCESS);
    expect(opened).toHaveLength(2);
  });
});

describe('RemotingServer malformed input', () => {
  const cases: Array<[string, Buffer]> = [
    ['negative length', frameWithLength(-5, Buffer.alloc(16))],
    ['oversized length', frameWithLength(64 * 1024 * 1024)],
    ['length below the minimum', frameWithLength(2, Buffer.alloc(2))],
    ['bad JSON header', frameWithHeader(Buffer.from('{"code":10,'))],
    ['header length beyond the frame', (() => {
      const f = frameWithHeader(Buffer.from('{}'));
      f.writeUInt32BE(1000, 4);
      return f;
    })()],
    ['truncated binary header', frameWithHeader(Buffer.alloc(10), SerializeType.ROCKETMQ)],
    ['unknown serialize type', frameWithHeader(Buffer.from('{"code":10}'), 7)],
  ];

  it.each(cases)('%s closes only that connection', async (_name, junk) => {
    const { port, addr } = await startServer(undefined, { maxFrameBytes: 1024 * 1024 });
    const client = newClient();
    await client.invoke(addr, createRequest(ECHO), 2000);
    const raw = await connectRaw(port);
    raw.socket.write(junk);
    await raw.closed;
    expect(raw.frames).toHaveLength(0);
    const resp = await client.invoke(addr, createRequest(ECHO, { still: 'alive' }), 2000);
    expect(resp.extFields.still).toBe('alive');
  });

  it('frames split across many small chunks still decode', async () => {
    const { port } = await startServer();
    const raw = await connectRaw(port);
    const bytes = encodeCommand(createRequest(ECHO, { a: 'b' }, Buffer.alloc(5000, 7)));
    for (let i = 0; i < bytes.length; i += 333) {
      raw.socket.write(bytes.subarray(i, i + 333));
      await sleep(1);
    }
    const [resp] = await raw.waitFrames(1);
    expect(resp!.body?.length).toBe(5000);
    raw.socket.destroy();
  });
});

describe('RemotingServer close', () => {
  it('lets a request in progress answer before closing its connection, within the drain bound', async () => {
    let release: () => void = () => undefined;
    const { server, addr } = await startServer((s) =>
      s.registerProcessor(HOLD, async (req) => {
        await new Promise<void>((resolve) => (release = resolve));
        return createResponse(req, ResponseCode.SUCCESS, 'drained');
      }),
    );
    const client = newClient();
    const pending = client.invoke(addr, createRequest(HOLD), 5000);
    await sleep(50);
    const closing = server.close(2000);
    await sleep(50);
    release();
    const reply = await pending;
    expect(reply.remark).toBe('drained');
    await closing;
  });

  it('closes anyway once the drain bound passes', async () => {
    const { server, addr } = await startServer((s) => s.registerProcessor(HOLD, () => new Promise<never>(() => undefined)));
    const client = newClient();
    const outcome = client.invoke(addr, createRequest(HOLD), 5000).then(
      () => 'answered',
      (err: Error) => err.name,
    );
    await sleep(50);
    const started = Date.now();
    await server.close(100);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await outcome).toBe('ConnectionClosedError');
  });
});
