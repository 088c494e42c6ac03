/**
 * Resolves Apache RocketMQ's published jars from Maven Central into the git-ignored cache
 * (`test/compat/.cache/m2`) and builds the Java driver against both client lines.
 *
 *   server   test/compat/java/server/pom.xml            rocketmq-namesrv + rocketmq-broker 5.3.x
 *   client5  test/compat/java/driver/pom.xml -Pclient5  rocketmq-client 5.3.x (remoting)
 *   client4  test/compat/java/driver/pom.xml -Pclient4  rocketmq-client 4.9.x
 *
 * Maven runs offline (`-o`) when the cache already holds everything and online otherwise. When Maven
 * Central cannot be reached and the cache is empty this throws: the compat run fails loudly, never skips.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/env';
import { runToCompletion } from './java-process';

export const COMPAT_DIR = path.join(REPO_ROOT, 'test', 'compat');
/** Git-ignored jar/classpath/driver cache; `ROCKETRY_COMPAT_CACHE_DIR` moves it (e.g. a CI cache volume). */
export const CACHE_DIR = process.env.ROCKETRY_COMPAT_CACHE_DIR ?? path.join(COMPAT_DIR, '.cache');
const M2_DIR = path.join(CACHE_DIR, 'm2');
const SERVER_POM = path.join(COMPAT_DIR, 'java', 'server', 'pom.xml');
const DRIVER_POM = path.join(COMPAT_DIR, 'java', 'driver', 'pom.xml');
const DRIVER_SRC = path.join(COMPAT_DIR, 'java', 'driver', 'src', 'main', 'java', 'rocketry', 'compat', 'Driver.java');
const MAVEN_TIMEOUT_MS = 15 * 60_000;

export type ClientLine = 'client5' | 'client4';

export interface JavaToolchain {
  /** Classpath of the 5.3.x NameServer + Broker. */
  serverClasspath: string;
  /** `java -cp` value that runs `rocketry.compat.Driver` with the given client line. */
  driverClasspath: Record<ClientLine, string>;
}

function mtimeMs(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/** A cached classpath file is reusable when it is newer than its pom and every jar in it exists. */
function cachedClasspath(file: string, pom: string): string | undefined {
  if (mtimeMs(file) <= mtimeMs(pom)) return undefined;
  const cp = fs.readFileSync(file, 'utf8').trim();
  if (!cp || cp.split(path.delimiter).some((jar) => !fs.existsSync(jar))) return undefined;
  return cp;
}

async function resolveClasspath(name: string, pom: string, profile: string | undefined, log: (line: string) => void): Promise<string> {
  const outFile = path.join(CACHE_DIR, `${name}.classpath`);
  const cached = cachedClasspath(outFile, pom);
  if (cached) return cached;
  const base = ['-B', '-q', `-Dmaven.repo.local=${M2_DIR}`, '-f', pom, 'dependency:build-classpath', `-Dmdep.outputFile=${outFile}`];
  if (profile) base.push(`-P${profile}`);
  const attempts: Array<{ offline: boolean }> = fs.existsSync(M2_DIR) ? [{ offline: true }, { offline: false }] : [{ offline: false }];
  let lastOutput = '';
  for (const { offline } of attempts) {
    log(`compat: resolving ${name} with Maven (${offline ? 'offline, cache' : 'online, Maven Central'})`);
    const r = await runToCompletion('mvn', offline ? ['-o', ...base] : base, { name: `mvn ${name}`, timeoutMs: MAVEN_TIMEOUT_MS });
    if (r.code === 0 && fs.existsSync(outFile)) {
      fs.utimesSync(outFile, new Date(), new Date());
      return fs.readFileSync(outFile, 'utf8').trim();
    }
    lastOutput = r.output;
  }
  throw new Error(
    `compat: cannot resolve ${name} (${pom}${profile ? ` -P${profile}` : ''}): Maven Central unreachable and the cache ` +
      `(${M2_DIR}) does not hold the artifacts. Maven said:\n${lastOutput.slice(-3000)}`,
  );
}

async function compileDriver(line: ClientLine, classpath: string, log: (line: string) => void): Promise<string> {
  const outDir = path.join(CACHE_DIR, 'driver', line);
  const marker = path.join(outDir, 'rocketry', 'compat', 'Driver.class');
  const cpFile = path.join(CACHE_DIR, `${line}.classpath`);
  if (mtimeMs(marker) > Math.max(mtimeMs(DRIVER_SRC), mtimeMs(cpFile))) return outDir;
  log(`compat: compiling the Java driver against ${line}`);
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const r = await runToCompletion('javac', ['-nowarn', '-encoding', 'UTF-8', '-cp', classpath, '-d', outDir, DRIVER_SRC], {
    name: `javac ${line}`,
    timeoutMs: 120_000,
  });
  if (r.code !== 0) throw new Error(`compat: javac failed for ${line}:\n${r.output.slice(-3000)}`);
  return outDir;
}

export async function prepareJavaToolchain(log: (line: string) => void): Promise<JavaToolchain> {
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const java = await runToCompletion('java', ['-version'], { name: 'java -version', timeoutMs: 30_000 });
  if (java.code !== 0) throw new Error(`compat: java is not runnable: ${java.output}`);
  // Sequential: Maven's local repository is not safe for concurrent writers.
  const serverClasspath = await resolveClasspath('server', SERVER_POM, undefined, log);
  const driverClasspath = {} as Record<ClientLine, string>;
  for (const line of ['client5', 'client4'] as const) {
    const cp = await resolveClasspath(line, DRIVER_POM, line, log);
    const classes = await compileDriver(line, cp, log);
    driverClasspath[line] = `${classes}${path.delimiter}${cp}`;
  }
  return { serverClasspath, driverClasspath };
}
