/**
 * Spec harness: a real BrokerController (real DefaultMessageStore in a temp dir, real RemotingServer on
 * port 0, no NameServer) and a RemotingClient that sends raw protocol requests to it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../common/logger';
import { defaultBrokerSettings, type BrokerSettings } from '../config';
import { encodeProperties } from '../protocol/message-record';
import { decodeMessageRecords } from '../protocol/message-record';
import type { MessageRecord } from '../protocol/message-record';
import { createRequest, type RemotingCommand } from '../protocol/remoting-command';
import { RequestCode } from '../protocol/request-code';
import { RemotingClient } from '../remoting/remoting-client';
import { BrokerController, type BrokerControllerOptions } from './broker-controller';

export interface TestBroker {
  controller: BrokerController;
  client: RemotingClient;
  addr: string;
  dir: string;
  /** Sends a request with the given (stringified) extFields; resolves with the reply. */
  call(code: number, ext?: Record<string, string | number | boolean>, body?: Buffer, timeoutMs?: number, version?: number): Promise<RemotingCommand>;
  send(topic: string, body: string | Buffer, properties?: Record<string, string>, extra?: Partial<SendV2>): Promise<RemotingCommand>;
  pull(topic: string, queueId: number, queueOffset: number, opts?: Partial<PullOpts>): Promise<RemotingCommand>;
  /** Stops the broker (keeps the dir unless `removeDir`). */
  stop(removeDir?: boolean): Promise<void>;
}

export interface SendV2 {
  producerGroup: string;
  defaultTopic: string;
  defaultTopicQueueNums: number;
  queueId: number;
  sysFlag: number;
  flag: number;
  reconsumeTimes: number;
  maxReconsumeTimes: number;
  version: number;
}

export interface PullOpts {
  group: string;
  maxMsgNums: number;
  sysFlag: number;
  commitOffset: number;
  suspendTimeoutMillis: number;
  subscription: string;
  subVersion: number;
  timeoutMs: number;
}

export function makeTempDir(prefix = 'rocketry-broker-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function startTestBroker(
  overrides: Partial<BrokerSettings> = {},
  opts: BrokerControllerOptions & { dir?: string } = {},
): Promise<TestBroker> {
  const dir = opts.dir ?? makeTempDir();
  const settings: BrokerSettings = {
    ...defaultBrokerSettings(),
    listenHost: '127.0.0.1',
    listenPort: 0,
    namesrvAddr: '',
    storePathRootDir: dir,
    mappedFileSizeCommitLog: 1024 * 1024,
    mappedFileSizeConsumeQueue: 1000,
    maxHashSlotNum: 1000,
    maxIndexNum: 4000,
    maxMessageSize: 64 * 1024,
    ...overrides,
  };
  const controller = new BrokerController(settings, { logger: silentLogger, holdCheckIntervalMs: 50, ...opts });
  await controller.start();
  const client = new RemotingClient({ logger: silentLogger });
  const addr = `127.0.0.1:${controller.listenPort}`;
  const call: TestBroker['call'] = (code, ext = {}, body, timeoutMs = 5000, version) => {
    const req = createRequest(code, ext, body);
    if (version !== undefined) req.version = version;
    return client.invoke(addr, req, timeoutMs);
  };
  return {
    controller,
    client,
    addr,
    dir,
    call,
    send: (topic, body, properties = {}, extra = {}) =>
      call(
        RequestCode.SEND_MESSAGE_V2,
        {
          a: extra.producerGroup ?? 'PG',
          b: topic,
          c: extra.defaultTopic ?? 'TBW102',
          d: extra.defaultTopicQueueNums ?? 4,
          e: extra.queueId ?? 0,
          f: extra.sysFlag ?? 0,
          g: Date.now(),
          h: extra.flag ?? 0,
          i: encodeProperties(properties),
          j: extra.reconsumeTimes ?? 0,
          k: false,
          ...(extra.maxReconsumeTimes !== undefined ? { l: extra.maxReconsumeTimes } : {}),
        },
        typeof body === 'string' ? Buffer.from(body) : body,
        5000,
        extra.version,
      ),
    pull: (topic, queueId, queueOffset, o = {}) =>
      call(
        RequestCode.PULL_MESSAGE,
        {
          consumerGroup: o.group ?? 'CG',
          topic,
          queueId,
          queueOffset,
          maxMsgNums: o.maxMsgNums ?? 32,
          sysFlag: o.sysFlag ?? 0x4,
          commitOffset: o.commitOffset ?? 0,
          suspendTimeoutMillis: o.suspendTimeoutMillis ?? 0,
          subscription: o.subscription ?? '*',
          subVersion: o.subVersion ?? 0,
        },
        undefined,
        o.timeoutMs ?? 5000,
      ),
    stop: async (removeDir = true) => {
      client.close();
      await controller.shutdown();
      if (removeDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function recordsOf(reply: RemotingCommand): MessageRecord[] {
  return reply.body ? decodeMessageRecords(reply.body) : [];
}
