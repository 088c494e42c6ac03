/**
 * Small JSON config files of the broker and NameServer (`<root>/config/topics.json`, `consumerOffset.json`,
 * `subscriptionGroup.json`, `delayOffset.json`). Files are tiny and written rarely, so plain sync I/O.
 *
 * persist: write `<file>.tmp`, fsync it, keep the current file as `<file>.bak`, rename tmp over the file,
 * fsync the directory. A crash at any point leaves either the old or the new content readable
 * (the file itself, or the `.bak` when the rename had not landed yet).
 * load: parse the file; if it is missing or unparsable fall back to `<file>.bak`.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Reads a JSON file (or its `.bak` when the file is missing/corrupt). Returns undefined when neither parses. */
export function loadJsonFile<T>(filePath: string): T | undefined {
  for (const candidate of [filePath, `${filePath}.bak`]) {
    const value = tryParse<T>(candidate);
    if (value !== undefined) return value;
  }
  return undefined;
}

/** Atomically replaces a JSON file (tmp + fsync + rename, previous content kept as `.bak`). */
export function persistJsonFile(filePath: string, value: unknown): void {
  persistTextFile(filePath, JSON.stringify(value, null, 2));
}

/** Same as persistJsonFile for already-serialised text. */
export function persistTextFile(filePath: string, text: string): void {
  const dir = path.dirname(filePath);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${filePath}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (fs.existsSync(filePath)) {
    // Only keep a .bak that itself parses, so a corrupt current file never overwrites a good backup.
    if (tryParse<unknown>(filePath) !== undefined) fs.copyFileSync(filePath, `${filePath}.bak`);
  }
  fs.renameSync(tmp, filePath);
  fsyncDir(dir);
}

/** fsync a directory so a rename/create in it is durable (no-op where the OS refuses). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function tryParse<T>(filePath: string): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(filePath, 'utf8');
  } catch {
    return undefined;
  }
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/**
 * Convenience wrapper: a typed JSON document at a fixed path with a default.
 * `load()` returns the stored value or the default; `persist(value)` writes atomically.
 */
export class JsonConfigFile<T> {
  constructor(
    readonly filePath: string,
    private readonly defaultValue: () => T,
  ) {}

  load(): T {
    return loadJsonFile<T>(this.filePath) ?? this.defaultValue();
  }

  persist(value: T): void {
    persistJsonFile(this.filePath, value);
  }
}

/** `<storePathRootDir>/config/<name>` — where the broker keeps its JSON config files. */
export function configFilePath(storePathRootDir: string, name: string): string {
  return path.join(storePathRootDir, 'config', name);
}
