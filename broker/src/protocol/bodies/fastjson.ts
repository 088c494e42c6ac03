/**
 * JSON in the dialect Java RocketMQ writes with fastjson: object keys sorted, no whitespace, null
 * and undefined left out. Optional quirk: map keys that are integers written WITHOUT quotes, as
 * fastjson does for `Map<Long, String>` (TopicRouteData.brokerAddrs for clients older than V4_9_4,
 * ClusterInfo always). The reader, parseLenientJson, accepts both forms and fastjson's object-valued
 * map keys (Java TopicStatsTable / ConsumeStats).
 */

import { ProtocolError } from '../protocol-error';

export interface FastJsonOptions {
  /**
   * Integer-looking keys written unquoted. `true`: in every object. A set: only inside objects held
   * by a property of one of these names (e.g. `new Set(['brokerAddrs'])`), which is what Java does.
   */
  unquotedIntKeys?: boolean | ReadonlySet<string>;
  /** Escape non-ASCII as \uXXXX (fastjson BrowserCompatible, used by the standard route form). */
  asciiOnly?: boolean;
}

const INT_KEY_RE = /^-?\d+$/;

function quote(s: string, asciiOnly: boolean): string {
  const q = JSON.stringify(s);
  if (!asciiOnly) return q;
  return q.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function write(value: unknown, opts: FastJsonOptions, unquoteHere: boolean, out: string[]): void {
  if (value === null || value === undefined) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'string':
      out.push(quote(value, opts.asciiOnly ?? false));
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`cannot write non-finite number ${value} as JSON`);
      out.push(String(value));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'bigint':
      out.push(value.toString());
      return;
    case 'object':
      break;
    default:
      throw new TypeError(`cannot write ${typeof value} as JSON`);
  }
  if (Array.isArray(value) || value instanceof Set) {
    out.push('[');
    let first = true;
    for (const item of value) {
      if (!first) out.push(',');
      first = false;
      write(item === undefined ? null : item, opts, false, out);
    }
    out.push(']');
    return;
  }
  const entries: Array<[string, unknown]> =
    value instanceof Map ? [...value.entries()].map(([k, v]) => [String(k), v]) : Object.entries(value as Record<string, unknown>);
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const ukeys = opts.unquotedIntKeys;
  out.push('{');
  let first = true;
  for (const [k, v] of entries) {
    if (v === undefined || v === null || typeof v === 'function') continue;
    if (!first) out.push(',');
    first = false;
    out.push(unquoteHere && INT_KEY_RE.test(k) ? k : quote(k, opts.asciiOnly ?? false));
    out.push(':');
    const childUnquote = ukeys === true || (ukeys instanceof Set && ukeys.has(k));
    write(v, opts, childUnquote, out);
  }
  out.push('}');
}

/** Serialises like fastjson (sorted keys, compact, nulls left out). */
export function toFastJson(value: unknown, opts: FastJsonOptions = {}): string {
  const out: string[] = [];
  write(value, opts, opts.unquotedIntKeys === true, out);
  return out.join('');
}

export function toFastJsonBuffer(value: unknown, opts: FastJsonOptions = {}): Buffer {
  return Buffer.from(toFastJson(value, opts), 'utf8');
}

export class BodyError extends ProtocolError {
  constructor(message: string) {
    super('BODY_INVALID', message);
    this.name = 'BodyError';
  }
}

/**
 * Quotes bare integer keys (`{0:"a"}` → `{"0":"a"}`) outside strings, so JSON.parse can read
 * fastjson's non-standard output. Anything else is left to JSON.parse to judge.
 */
export function quoteBareIntKeys(text: string): string {
  let out = '';
  let last = 0;
  let inString = false;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped char
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      expectKey = false;
    } else if (c === 0x7b || c === 0x2c) {
      // '{' or ',': a key may follow (inside arrays a number may follow, but then no ':' comes after it)
      expectKey = true;
    } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      // whitespace keeps the state
    } else if (expectKey && (c === 0x2d || (c >= 0x30 && c <= 0x39))) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) >= 0x30 && text.charCodeAt(j) <= 0x39) j++;
      let k = j;
      while (k < text.length && (text[k] === ' ' || text[k] === '\n' || text[k] === '\r' || text[k] === '\t')) k++;
      if (text[k] === ':') {
        out += `${text.slice(last, i)}"${text.slice(i, j)}"`;
        last = j;
      }
      i = j - 1;
      expectKey = false;
    } else {
      expectKey = false;
    }
  }
  return last === 0 ? text : out + text.slice(last);
}

/** Nesting bound of the structural reader: bodies are a few levels deep; deeper input is hostile or broken. */
const MAX_LENIENT_DEPTH = 64;

/**
 * Parses JSON in any dialect fastjson writes. Throws BodyError.
 *   - standard JSON
 *   - unquoted integer keys:  {"brokerAddrs":{0:"127.0.0.1:10911"}}          (ClusterInfo, old routes)
 *   - object keys:            {"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{...}}}
 *                                                                           (Java TopicStatsTable, ConsumeStats)
 * An object key becomes its `JSON.stringify` text, so callers can `JSON.parse` it back.
 * Fast path: quote bare int keys and use the native JSON.parse; only input that still fails (object
 * keys, or broken input, which then gets an error with a position) goes through the structural reader.
 */
export function parseLenientJson(input: string | Buffer): unknown {
  const text = typeof input === 'string' ? input : input.toString('utf8');
  try {
    return JSON.parse(quoteBareIntKeys(text));
  } catch {
    // not JSON after quoting int keys: object keys, or broken
  }
  const p = new LenientParser(text);
  const value = p.value(0);
  p.skipWs();
  if (p.pos !== text.length) p.fail('trailing characters');
  return value;
}

class LenientParser {
  pos = 0;
  constructor(private readonly s: string) {}

  fail(what: string): never {
    throw new BodyError(`body is not valid JSON: ${what} at position ${this.pos}`);
  }

  skipWs(): void {
    while (this.pos < this.s.length && ' \t\r\n'.includes(this.s[this.pos]!)) this.pos++;
  }

  value(depth: number): unknown {
    if (depth > MAX_LENIENT_DEPTH) this.fail('nesting too deep');
    this.skipWs();
    const c = this.s[this.pos];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return Number(this.numberText());
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.s.startsWith(word, this.pos)) {
        this.pos += word.length;
        return v;
      }
    }
    return this.fail('unexpected character');
  }

  private object(depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.pos++; // {
    this.skipWs();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return out;
    }
    while (true) {
      this.skipWs();
      const c = this.s[this.pos];
      let key: string;
      if (c === '"') key = this.string();
      else if (c === '{' || c === '[') key = JSON.stringify(this.value(depth + 1));
      else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) key = this.numberText();
      else return this.fail('expected an object key');
      this.skipWs();
      if (this.s[this.pos] !== ':') this.fail('expected ":"');
      this.pos++;
      // defineProperty: a "__proto__" key must stay a plain property, as with JSON.parse
      Object.defineProperty(out, key, { value: this.value(depth + 1), enumerable: true, writable: true, configurable: true });
      this.skipWs();
      const next = this.s[this.pos++];
      if (next === '}') return out;
      if (next !== ',') this.fail('expected "," or "}"');
    }
  }

  private array(depth: number): unknown[] {
    const out: unknown[] = [];
    this.pos++; // [
    this.skipWs();
    if (this.s[this.pos] === ']') {
      this.pos++;
      return out;
    }
    while (true) {
      out.push(this.value(depth + 1));
      this.skipWs();
      const next = this.s[this.pos++];
      if (next === ']') return out;
      if (next !== ',') this.fail('expected "," or "]"');
    }
  }

  private string(): string {
    const start = this.pos;
    this.pos++; // opening quote
    while (this.pos < this.s.length) {
      const c = this.s[this.pos];
      if (c === '\\') this.pos += 2;
      else if (c === '"') {
        this.pos++;
        try {
          return JSON.parse(this.s.slice(start, this.pos)) as string;
        } catch {
          return this.fail('bad string');
        }
      } else this.pos++;
    }
    return this.fail('unterminated string');
  }

  /** The text of a JSON number (kept as text for keys, so `{0:..}` reads like the fast path's `{"0":..}`). */
  private numberText(): string {
    const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(this.s.slice(this.pos, this.pos + 64));
    if (!m) return this.fail('bad number');
    this.pos += m[0].length;
    return m[0];
  }
}
