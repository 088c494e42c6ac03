/**
 * The Apache RocketMQ Java client (5.3.x remoting, classpath from the compat harness's Maven cache) as a
 * bench client: test/bench/java/JavaClientBench.java is compiled once into the git-ignored results
 * folder and run as a worker process per scenario, printing the same result line as client-worker.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { JavaToolchain } from '../compat/java-toolchain';
import { runToCompletion, spawnExternal } from '../compat/java-process';
import { REPO_ROOT } from '../helpers/env';
import type { ClientUnderTest, WorkerProcess } from './client-bench';

const SRC = path.join(REPO_ROOT, 'test', 'bench', 'java', 'JavaClientBench.java');
const OUT_DIR = path.join(REPO_ROOT, 'test', 'bench', 'results', 'java-classes');

/** Full JIT (a throughput run, unlike the compat driver's quick-start flags). */
const JVM_ARGS = ['-Xms256m', '-Xmx512m', '-XX:+UseG1GC'];

async function compile(classpath: string): Promise<void> {
  const marker = path.join(OUT_DIR, 'rocketry', 'bench', 'JavaClientBench.class');
  const mtime = (f: string) => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : 0);
  if (mtime(marker) > mtime(SRC)) return;
  fs.rmSync(OUT_DIR, { recursive: true, force: true });
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const r = await runToCompletion('javac', ['-nowarn', '-encoding', 'UTF-8', '-cp', classpath, '-d', OUT_DIR, SRC], { name: 'javac JavaClientBench', timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`bench: javac JavaClientBench failed:\n${r.output.slice(-3000)}`);
}

export async function javaBenchClient(toolchain: JavaToolchain): Promise<ClientUnderTest> {
  const classpath = toolchain.driverClasspath.client5;
  await compile(classpath);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'rocketry-bench-java-'));
  process.once('exit', () => fs.rmSync(home, { recursive: true, force: true }));
  return {
    name: 'java',
    spawnWorker(cfg): WorkerProcess {
      const args = [
        ...JVM_ARGS,
        `-Duser.home=${home}`,
        '-cp',
        `${OUT_DIR}${path.delimiter}${classpath}`,
        'rocketry.bench.JavaClientBench',
        cfg.scenario,
        cfg.namesrvAddr,
        cfg.topic,
        cfg.warmupTopic,
        String(cfg.warmupMessages),
        cfg.group,
        String(cfg.bodyBytes),
        String(cfg.messages),
        String(cfg.maxSeconds),
        String(cfg.concurrency),
        String(cfg.batchSize),
      ];
      const p = spawnExternal('java', args, { name: `bench worker java ${cfg.scenario}` });
      return {
        waitForLine: (re, ms) => p.waitForLine(re, ms),
        stderr: () => p.output(),
        stop: (ms) => p.stop(ms),
      };
    },
  };
}
