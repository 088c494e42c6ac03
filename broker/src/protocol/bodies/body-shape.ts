/**
 * Small shape checks for JSON bodies that arrive from the network: each getter names the path of
 * the bad field in its BodyError, so a client (or our log) sees exactly what was wrong.
 */
import { BodyError } from './fastjson';

export type JsonObject = Record<string, unknown>;

export function asObject(v: unknown, path: string): JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BodyError(`${path} must be an object`);
  return v as JsonObject;
}

export function asArray(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new BodyError(`${path} must be an array`);
  return v;
}

export function reqString(o: JsonObject, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new BodyError(`${path}.${key} must be a string`);
  return v;
}

export function optString(o: JsonObject, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new BodyError(`${path}.${key} must be a string`);
  return v;
}

function toInt(v: unknown, where: string): number {
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new BodyError(`${where} must be an integer`);
  return n;
}

export function reqInt(o: JsonObject, key: string, path: string): number {
  return toInt(o[key], `${path}.${key}`);
}

export function optInt(o: JsonObject, key: string, path: string, dflt?: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  return toInt(v, `${path}.${key}`);
}

/** Any finite number (Java double fields such as ConsumeStats.consumeTps). */
export function optNumber(o: JsonObject, key: string, path: string, dflt?: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new BodyError(`${path}.${key} must be a number`);
  return n;
}

export function optBool(o: JsonObject, key: string, path: string, dflt?: boolean): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new BodyError(`${path}.${key} must be a boolean`);
}

export function stringArray(v: unknown, path: string): string[] {
  if (v === undefined || v === null) return [];
  return asArray(v, path).map((x, i) => {
    if (typeof x !== 'string') throw new BodyError(`${path}[${i}] must be a string`);
    return x;
  });
}

export function intArray(v: unknown, path: string): number[] {
  if (v === undefined || v === null) return [];
  return asArray(v, path).map((x, i) => toInt(x, `${path}[${i}]`));
}

export function stringMap(v: unknown, path: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  const o = asObject(v, path);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(o)) {
    if (typeof x !== 'string') throw new BodyError(`${path}.${k} must be a string`);
    out[k] = x;
  }
  return out;
}
