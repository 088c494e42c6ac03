/**
 * Apache RocketMQ 5.3.x (NameServer + Broker JVMs from the compat harness's Maven cache) as a
 * BrokerUnderTest for the bench. Unlike the compat matrix (small heap, C1 only, 16 MiB files, tuned for
 * quick start-up) it gets a production-like, fair configuration: the store defaults (1 GiB CommitLog
 * files), the flush mode under test, G1 with a fixed heap (default 1 GiB, the shape of runbroker.sh
 * without its 8 GiB), full JIT, `brokerIP1=127.0.0.1`, timer wheel off (we have no timer store either).
 */
import fs from 'node:fs';
import path from 'node:path';
import { freeBrokerPort } from '../compat/brokers';
import { spawnExternal, type ExternalProcess } from '../compat/java-process';
import { freePort, tempDir } from '../helpers/env';
import type { BrokerUnderTest, FlushMode } from './process-harness';

export interface ApacheStartOptions {
  flush: FlushMode;
  /** NameServer + Broker classpath (prepareJavaToolchain().serverClasspath). */
  serverClasspath: string;
  /** Broker heap (-Xms = -Xmx). */
  heapMiB: number;
  readyTimeoutMs?: number;
}

const NAMESRV_HEAP_MIB = 256;
const BOOT_RE = /The broker\[.*\] boot success/;

/** JDK 17 needs these for RocketMQ's direct-buffer and mmap cleaning (same as the compat harness). */
const OPENS = [
  '--add-opens',
  'java.base/java.nio=ALL-UNNAMED',
  '--add-opens',
  'java.base/sun.nio.ch=ALL-UNNAMED',
  '--add-exports',
  'java.base/jdk.internal.ref=ALL-UNNAMED',
];

function g1(heapMiB: number): string[] {
  // runbroker.sh's collector settings, with the heap scaled to this machine.
  return [
    `-Xms${heapMiB}m`,
    `-Xmx${heapMiB}m`,
    '-XX:+UseG1GC',
    '-XX:G1HeapRegionSize=16m',
    '-XX:G1ReservePercent=25',
    '-XX:InitiatingHeapOccupancyPercent=30',
    '-XX:SoftRefLRUPolicyMSPerMB=0',
    '-XX:-OmitStackTraceInFastThrow',
    `-XX:MaxDirectMemorySize=${heapMiB}m`,
  ];
}

function toProperties(entries: Record<string, string | number | boolean>): string {
  return `${Object.entries(entries)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join('\n')}\n`;
}

export async function startApache(opts: ApacheStartOptions): Promise<BrokerUnderTest> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
  const dir = tempDir(`bench-apache-${opts.flush}`);
  const home = path.join(dir.path, 'home');
  const store = path.join(dir.path, 'store');
  fs.mkdirSync(home, { recursive: true });
  const namesrvPort = await freePort();
  const brokerPort = await freeBrokerPort();
  const namesrvAddr = `127.0.0.1:${namesrvPort}`;
  const brokerAddr = `127.0.0.1:${brokerPort}`;
  const nsConf = path.join(dir.path, 'namesrv.conf');
  const brokerConf = path.join(dir.path, 'broker.conf');
  fs.writeFileSync(nsConf, toProperties({ listenPort: namesrvPort }));
  fs.writeFileSync(
    brokerConf,
    toProperties({
      brokerClusterName: 'DefaultCluster',
      brokerName: 'broker-a',
      brokerId: 0,
      listenPort: brokerPort,
      namesrvAddr,
      brokerIP1: '127.0.0.1',
      storePathRootDir: store,
      storePathCommitLog: path.join(store, 'commitlog'),
      flushDiskType: opts.flush === 'sync' ? 'SYNC_FLUSH' : 'ASYNC_FLUSH',
      autoCreateTopicEnable: true,
      autoCreateSubscriptionGroup: true,
      timerWheelEnable: false,
    }),
  );
  // user.home keeps the Java logs (~/logs/rocketmqlogs) inside the temp dir.
  const env = { ROCKETMQ_HOME: home };
  const common = [...OPENS, `-Duser.home=${home}`, '-cp', opts.serverClasspath];
  const namesrv = spawnExternal('java', [`-Xms${NAMESRV_HEAP_MIB}m`, `-Xmx${NAMESRV_HEAP_MIB}m`, '-XX:+UseG1GC', ...common, 'org.apache.rocketmq.namesrv.NamesrvStartup', '-c', nsConf], {
    env,
    name: 'apache namesrv (bench)',
  });
  const spawnBroker = () =>
    spawnExternal('java', [...g1(opts.heapMiB), ...common, 'org.apache.rocketmq.broker.BrokerStartup', '-c', brokerConf], {
      env,
      name: `apache broker (bench ${opts.flush})`,
    });
  let broker: ExternalProcess | undefined;
  const stopAll = async () => {
    const [b] = await Promise.all([broker?.stop(60_000), namesrv.stop(15_000)]);
    return b ?? { code: null, signal: null };
  };
  try {
    await namesrv.waitForLine(/The Name Server boot success/, readyTimeoutMs);
    broker = spawnBroker();
    await broker.waitForLine(BOOT_RE, readyTimeoutMs);
  } catch (err) {
    await stopAll();
    dir.cleanup();
    throw err;
  }
  return {
    name: `apache ${opts.flush}`,
    system: 'apache',
    flush: opts.flush,
    namesrvAddr,
    brokerAddr,
    pids: () => [broker!.pid, namesrv.pid],
    pidNote: `Apache RocketMQ: Broker JVM (heap ${opts.heapMiB} MiB) + NameServer JVM (heap ${NAMESRV_HEAP_MIB} MiB), summed`,
    async restart(how) {
      if (how === 'clean') await broker!.stop(60_000);
      else {
        process.kill(broker!.pid, 'SIGKILL');
        await broker!.exited;
      }
      const t0 = performance.now();
      broker = spawnBroker();
      await broker.waitForLine(BOOT_RE, readyTimeoutMs);
      return { readyMs: performance.now() - t0 };
    },
    async stop() {
      const info = await stopAll();
      dir.cleanup();
      return info;
    },
  };
}
