/**
 * Apache RocketMQ 5.3.x NameServer + Broker JVMs (`java -cp` on the Maven-cache classpath), shared by the
 * compat matrix (brokers.ts) and the bench (../bench/apache-broker.ts). The caller picks the heap/GC flags,
 * the extra broker settings and the process names; this writes namesrv.conf/broker.conf into a temp dir,
 * picks free ports, starts the NameServer, then the Broker, and waits for their boot lines.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort, tempDir } from '../helpers/env';
import { spawnExternal, type ExitInfo, type ExternalProcess } from './java-process';

export type BrokerSettings = Record<string, string | number | boolean>;

export interface ApacheLaunchOptions {
  /** Temp dir prefix (config files, store, and user.home for the Java logs). */
  dirPrefix: string;
  /** NameServer + Broker classpath (prepareJavaToolchain().serverClasspath). */
  serverClasspath: string;
  /** Heap/GC flags of each JVM; the JDK 17 opens, `-Duser.home` and `-cp` are added here. */
  namesrvJvm: string[];
  brokerJvm: string[];
  /** broker.conf entries merged after the base ones (cluster, name, id 0, ports, namesrvAddr, store paths). */
  brokerSettings: BrokerSettings;
  /** Process names, for logs and errors. */
  names: { namesrv: string; broker: string };
  /** Wait for each boot line at most this long. */
  readyTimeoutMs: number;
  /** SIGTERM → SIGKILL grace for the broker in `stop()`, and in `stopBroker('clean')` unless given there. */
  brokerStopTimeoutMs: number;
}

export interface ApacheLaunch {
  readonly namesrvAddr: string;
  readonly brokerAddr: string;
  /** Temp dir path; removed by `stop()`. */
  readonly dir: string;
  readonly namesrv: ExternalProcess;
  /** The current broker process (a new one after `startBroker()`). */
  readonly broker: ExternalProcess;
  /** `clean`: SIGTERM and wait (SIGKILL after the timeout); `kill`: SIGKILL and wait. */
  stopBroker(how: 'clean' | 'kill', timeoutMs?: number): Promise<ExitInfo>;
  /** Spawns the broker again on the same store and ports; resolves at its boot line. */
  startBroker(): Promise<void>;
  /** Stops both JVMs, removes the temp dir; resolves with the broker's exit. */
  stop(): Promise<ExitInfo>;
}

const NAMESRV_STOP_TIMEOUT_MS = 15_000;
const BROKER_BOOT_RE = /The broker\[.*\] boot success/;

/** JDK 17 needs these for RocketMQ's direct-buffer and mmap cleaning. */
const JDK17_OPENS = [
  '--add-opens',
  'java.base/java.nio=ALL-UNNAMED',
  '--add-opens',
  'java.base/sun.nio.ch=ALL-UNNAMED',
  '--add-exports',
  'java.base/jdk.internal.ref=ALL-UNNAMED',
];

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '0.0.0.0', () => srv.close(() => resolve(true)));
  });
}

/** The Java broker also binds listenPort-2 (fast/VIP channel) and listenPort+1 (HA). */
async function freeBrokerPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p < 1100 || p > 65_000) continue;
    if ((await canListen(p - 2)) && (await canListen(p + 1)) && (await canListen(p))) return p;
  }
  throw new Error('compat: no free port triple for the Apache broker');
}

function toProperties(entries: BrokerSettings): string {
  return `${Object.entries(entries)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join('\n')}\n`;
}

export async function launchApache(opts: ApacheLaunchOptions): Promise<ApacheLaunch> {
  const dir = tempDir(opts.dirPrefix);
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
      storePathRootDir: store,
      storePathCommitLog: path.join(store, 'commitlog'),
      ...opts.brokerSettings,
    }),
  );
  // user.home keeps the Java logs (~/logs/rocketmqlogs) inside the temp dir.
  const env = { ROCKETMQ_HOME: home };
  const common = [...JDK17_OPENS, `-Duser.home=${home}`, '-cp', opts.serverClasspath];
  const namesrv = spawnExternal('java', [...opts.namesrvJvm, ...common, 'org.apache.rocketmq.namesrv.NamesrvStartup', '-c', nsConf], {
    env,
    name: opts.names.namesrv,
  });
  let broker: ExternalProcess | undefined;
  const startBroker = async () => {
    broker = spawnExternal('java', [...opts.brokerJvm, ...common, 'org.apache.rocketmq.broker.BrokerStartup', '-c', brokerConf], {
      env,
      name: opts.names.broker,
    });
    await broker.waitForLine(BROKER_BOOT_RE, opts.readyTimeoutMs);
  };
  const stop = async (): Promise<ExitInfo> => {
    const [b] = await Promise.all([broker?.stop(opts.brokerStopTimeoutMs), namesrv.stop(NAMESRV_STOP_TIMEOUT_MS)]);
    dir.cleanup();
    return b ?? { code: null, signal: null };
  };
  try {
    await namesrv.waitForLine(/The Name Server boot success/, opts.readyTimeoutMs);
    await startBroker();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    namesrvAddr,
    brokerAddr,
    dir: dir.path,
    namesrv,
    get broker() {
      return broker!;
    },
    async stopBroker(how, timeoutMs = opts.brokerStopTimeoutMs) {
      if (how === 'clean') return broker!.stop(timeoutMs);
      process.kill(broker!.pid, 'SIGKILL');
      return broker!.exited;
    },
    startBroker,
    stop,
  };
}
