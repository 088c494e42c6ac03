/**
 * Apache RocketMQ 5.3.x (NameServer + Broker JVMs from the compat harness's Maven cache) as a
 * BrokerUnderTest for the bench. Unlike the compat matrix (small heap, C1 only, 16 MiB files, tuned for
 * quick start-up) it gets a production-like, fair configuration: the store defaults (1 GiB CommitLog
 * files), the flush mode under test, G1 with a fixed heap (default 1 GiB, the shape of runbroker.sh
 * without its 8 GiB), full JIT, `brokerIP1=127.0.0.1`, timer wheel off (we have no timer store either).
 * The JVMs are started by the compat harness's apache-launcher.ts.
 */
import { launchApache } from '../compat/apache-launcher';
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

export async function startApache(opts: ApacheStartOptions): Promise<BrokerUnderTest> {
  const apache = await launchApache({
    dirPrefix: `bench-apache-${opts.flush}`,
    serverClasspath: opts.serverClasspath,
    namesrvJvm: [`-Xms${NAMESRV_HEAP_MIB}m`, `-Xmx${NAMESRV_HEAP_MIB}m`, '-XX:+UseG1GC'],
    brokerJvm: g1(opts.heapMiB),
    brokerSettings: {
      brokerIP1: '127.0.0.1',
      flushDiskType: opts.flush === 'sync' ? 'SYNC_FLUSH' : 'ASYNC_FLUSH',
      autoCreateTopicEnable: true,
      autoCreateSubscriptionGroup: true,
      timerWheelEnable: false,
    },
    names: { namesrv: 'apache namesrv (bench)', broker: `apache broker (bench ${opts.flush})` },
    readyTimeoutMs: opts.readyTimeoutMs ?? 120_000,
    brokerStopTimeoutMs: 60_000,
  });
  return {
    name: `apache ${opts.flush}`,
    system: 'apache',
    flush: opts.flush,
    namesrvAddr: apache.namesrvAddr,
    brokerAddr: apache.brokerAddr,
    pids: () => [apache.broker.pid, apache.namesrv.pid],
    pidNote: `Apache RocketMQ: Broker JVM (heap ${opts.heapMiB} MiB) + NameServer JVM (heap ${NAMESRV_HEAP_MIB} MiB), summed`,
    async restart(how) {
      await apache.stopBroker(how === 'clean' ? 'clean' : 'kill');
      // time only the respawn to the boot line
      const t0 = performance.now();
      await apache.startBroker();
      return { readyMs: performance.now() - t0 };
    },
    stop: () => apache.stop(),
  };
}
