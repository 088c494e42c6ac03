import { afterEach, describe, expect, it } from 'vitest';
import { createRequest, createResponse, type RemotingCommand } from '../protocol/remoting-command';
import { RequestCode } from '../protocol/request-code';
import { ResponseCode } from '../protocol/response-code';
import { RemotingConnectError, RemotingResponseError, expectResponseCode } from './errors';
import { NamesrvClient, RemotingClient, invokeNamesrv, parseAddress } from './remoting-client';
import { RemotingServer } from './remoting-server';
import { sleep, unusedPort } from './test-support';
import type { Channel } from './types';

const ECHO = 1000;
const HOLD = 1001;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startServer(name: string, setup: (s: RemotingServer) => void = () => undefined) {
  const server = new RemotingServer({ host: '127.0.0.1', port: 0 });
  server.registerProcessor(ECHO, (req) => createResponse(req, ResponseCode.SUCCESS, name));
  server.registerProcessor(HOLD, () => null);
  setup(server);
  const port = await server.start();
  cleanups.push(() => server.close());
  return { server, addr: `127.0.0.1:${port}` };
}

function newClient(options: ConstructorParameters<typeof RemotingClient>[0] = {}) {
  const client = new RemotingClient(options);
  cleanups.push(() => client.close());
  return client;
}

describe('RemotingClient', () => {
  it('serves server-initiated requests and oneway notifications over its own connection', async () => {
    let channel: Channel | undefined;
    const { addr } = await startServer('s', (s) => s.onChannelOpen((ch) => (channel = ch)));
    const client = newClient();
    const notified: RemotingCommand[] = [];
    client.registerProcessor(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, (req) => {
      notified.push(req);
      return null;
    });
    client.registerProcessor(RequestCode.GET_CONSUMER_RUNNING_INFO, (req) => createResponse(req, ResponseCode.SUCCESS, undefined, { group: req.extFields.consumerGroup }));
    await client.connect(addr);
    await sleep(20);
    expect(channel).toBeDefined();
    const resp = await channel!.invoke(createRequest(RequestCode.GET_CONSUMER_RUNNING_INFO, { consumerGroup: 'g1' }), 2000);
    expect(resp.extFields.group).toBe('g1');
    channel!.invokeOneway(createRequest(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, { consumerGroup: 'g1' }));
    await sleep(50);
    expect(notified).toHaveLength(1);
    expect(notified[0]!.extFields.consumerGroup).toBe('g1');
    const unsupported = await channel!.invoke(createRequest(RequestCode.CHECK_TRANSACTION_STATE), 2000);
    expect(unsupported.code).toBe(ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
  });

  it('shares one connection per address, including concurrent first uses', async () => {
    const opened: string[] = [];
    const { addr } = await startServer('s', (s) => s.onChannelOpen((ch) => opened.push(ch.id)));
    const client = newClient();
    await Promise.all(Array.from({ length: 20 }, () => client.invoke(addr, createRequest(ECHO), 2000)));
    expect(opened).toHaveLength(1);
  });

  it('rejects with RemotingConnectError when nothing listens', async () => {
    const port = await unusedPort();
    const err = await newClient().invoke(`127.0.0.1:${port}`, createRequest(ECHO), 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemotingConnectError);
    expect((err as RemotingConnectError).retriable).toBe(true);
  });

  it('invokeOneway reaches the server processor without a reply', async () => {
    const got: string[] = [];
    const { addr } = await startServer('s', (s) =>
      s.registerProcessor(RequestCode.UPDATE_CONSUMER_OFFSET, (req) => {
        got.push(req.extFields.offset ?? '');
        return null;
      }),
    );
    const client = newClient();
    await client.invokeOneway(addr, createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, { offset: 9 }));
    await sleep(50);
    expect(got).toEqual(['9']);
  });

  it('parses addresses and rejects junk', () => {
    expect(parseAddress('10.0.0.1:9876')).toEqual({ host: '10.0.0.1', port: 9876 });
    expect(parseAddress('[::1]:9876')).toEqual({ host: '::1', port: 9876 });
    expect(() => parseAddress('nohost')).toThrow(RemotingConnectError);
  });

  it('expectResponseCode turns non-success codes into RemotingResponseError', () => {
    const ok = createResponse({ opaque: 1 }, ResponseCode.SUCCESS);
    expect(expectResponseCode(ok)).toBe(ok);
    const busy = createResponse({ opaque: 1 }, ResponseCode.SYSTEM_BUSY, 'busy');
    const err = (() => {
      try {
        expectResponseCode(busy);
      } catch (e) {
        return e;
      }
    })() as RemotingResponseError;
    expect(err).toBeInstanceOf(RemotingResponseError);
    expect(err.responseCode).toBe(ResponseCode.SYSTEM_BUSY);
    expect(err.remark).toBe('busy');
    expect(err.retriable).toBe(true);
    expect(RemotingResponseError.from(createResponse({ opaque: 1 }, ResponseCode.SUBSCRIPTION_NOT_EXIST)).retriable).toBe(false);
  });
});

describe('NameServer failover', () => {
  it('invokeNamesrv skips a NameServer that is down', async () => {
    const down = `127.0.0.1:${await unusedPort()}`;
    const { addr } = await startServer('second');
    const resp = await invokeNamesrv(newClient(), [down, addr], createRequest(ECHO), 1000);
    expect(resp.remark).toBe('second');
  });

  it('NamesrvClient sticks to the last good NameServer and fails over on timeout and on close', async () => {
    const a = await startServer('a');
    const b = await startServer('b', (s) => s.registerProcessor(HOLD, (req) => createResponse(req, ResponseCode.SUCCESS, 'b')));
    const client = newClient();
    const ns = new NamesrvClient(client, [a.addr, b.addr]);
    expect((await ns.invoke(createRequest(ECHO), 1000)).remark).toBe('a');
    // a never answers HOLD: timeout → b answers, and b stays preferred.
    expect((await ns.invoke(createRequest(HOLD), 200)).remark).toBe('b');
    expect(ns.preferredAddress).toBe(b.addr);
    expect((await ns.invoke(createRequest(ECHO), 1000)).remark).toBe('b');
    await b.server.close();
    await sleep(20);
    expect((await ns.invoke(createRequest(ECHO), 1000)).remark).toBe('a');
    expect(ns.preferredAddress).toBe(a.addr);
  });

  it('does not fail over on a response code (the NameServer answered)', async () => {
    const a = await startServer('a');
    const b = await startServer('b');
    const resp = await invokeNamesrv(newClient(), [a.addr, b.addr], createRequest(4242), 1000);
    expect(resp.code).toBe(ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
  });
});
