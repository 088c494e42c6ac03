/**
 * One declarative mechanism for every typed "custom header" (RocketMQ `CommandCustomHeader`): a
 * schema maps each extFields key to a wire type and a required flag (`@CFNotNull`).
 *
 * Decoding follows Java `RemotingCommand.decodeCommandCustomHeader`: a missing required field is an
 * error; ints/longs must be plain decimal integers; booleans follow `Boolean.parseBoolean` (only a
 * case-insensitive "true" is true). Unknown extFields (bname, ns, lo, ACL keys...) are ignored.
 * Encoding writes strings only (the Go client cannot read anything else) and leaves out undefined.
 */

import { ProtocolError } from '../protocol-error';

export type FieldType = 'string' | 'int' | 'long' | 'boolean' | 'double';

export interface FieldSpec<T extends FieldType = FieldType, R extends boolean = boolean> {
  readonly type: T;
  readonly required: R;
}

export type HeaderSchema = Readonly<Record<string, FieldSpec>>;

type ValueOf<T extends FieldType> = T extends 'string' ? string : T extends 'boolean' ? boolean : number;
type RequiredKeys<S extends HeaderSchema> = { [K in keyof S]: S[K]['required'] extends true ? K : never }[keyof S];
type OptionalKeys<S extends HeaderSchema> = Exclude<keyof S, RequiredKeys<S>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The decoded header type of a schema: required fields present, optional ones may be undefined. */
export type HeaderOf<S extends HeaderSchema> = Simplify<
  { -readonly [K in RequiredKeys<S>]: ValueOf<S[K]['type']> } & { -readonly [K in OptionalKeys<S>]?: ValueOf<S[K]['type']> }
>;

const spec = <T extends FieldType, R extends boolean>(type: T, required: R): FieldSpec<T, R> => ({ type, required });

/** Required (`@CFNotNull`) fields. */
export const req = {
  string: spec('string', true),
  int: spec('int', true),
  long: spec('long', true),
  boolean: spec('boolean', true),
  double: spec('double', true),
} as const;

/** Optional (nullable) fields. */
export const opt = {
  string: spec('string', false),
  int: spec('int', false),
  long: spec('long', false),
  boolean: spec('boolean', false),
  double: spec('double', false),
} as const;

/** A header field is missing or unparsable. Java answers such requests with SYSTEM_ERROR + remark. */
export class HeaderError extends ProtocolError {
  constructor(
    readonly field: string,
    readonly value: string | undefined,
    message: string,
  ) {
    super('HEADER_INVALID', message);
    this.name = 'HeaderError';
  }
}

const INT_RE = /^[+-]?\d+$/;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const INT64_MAX = 9223372036854775807n;

function parseField(name: string, type: FieldType, raw: string): string | number | boolean {
  switch (type) {
    case 'string':
      return raw;
    case 'boolean':
      return raw.toLowerCase() === 'true';
    case 'int': {
      const n = INT_RE.test(raw) ? Number(raw) : NaN;
      if (!Number.isInteger(n) || n < INT32_MIN || n > INT32_MAX) {
        throw new HeaderError(name, raw, `header field ${name} is not an int: ${JSON.stringify(raw)}`);
      }
      return n;
    }
    case 'long': {
      // Values beyond 2^53 keep their magnitude but lose precision; no RocketMQ field needs more.
      const n = INT_RE.test(raw) ? Number(raw) : NaN;
      if (!Number.isFinite(n) || (!Number.isSafeInteger(n) && (BigInt(raw) > INT64_MAX || BigInt(raw) < -INT64_MAX - 1n))) {
        throw new HeaderError(name, raw, `header field ${name} is not a long: ${JSON.stringify(raw)}`);
      }
      return n;
    }
    case 'double': {
      const n = raw.trim() === '' ? NaN : Number(raw);
      if (Number.isNaN(n)) throw new HeaderError(name, raw, `header field ${name} is not a number: ${JSON.stringify(raw)}`);
      return n;
    }
  }
}

/** Decodes and validates extFields against a schema. Throws HeaderError naming the field. */
export function decodeHeader<S extends HeaderSchema>(schema: S, extFields: Readonly<Record<string, string>> | undefined): HeaderOf<S> {
  const out: Record<string, string | number | boolean> = {};
  const ext = extFields ?? {};
  for (const name in schema) {
    const field = schema[name]!;
    const raw = Object.prototype.hasOwnProperty.call(ext, name) ? ext[name] : undefined;
    if (raw === undefined || raw === null) {
      if (field.required) throw new HeaderError(name, undefined, `the custom field <${name}> is null`);
      continue;
    }
    out[name] = parseField(name, field.type, String(raw));
  }
  return out as HeaderOf<S>;
}

/** Encodes a header to string-only extFields; undefined/null fields and keys outside the schema are left out. */
export function encodeHeader<S extends HeaderSchema>(schema: S, header: Partial<HeaderOf<S>>): Record<string, string> {
  const out: Record<string, string> = {};
  const h = header as Record<string, unknown>;
  for (const name in schema) {
    const v = h[name];
    if (v === undefined || v === null) continue;
    out[name] = typeof v === 'string' ? v : String(v);
  }
  return out;
}

export interface HeaderCodec<S extends HeaderSchema> {
  readonly schema: S;
  decode(extFields: Readonly<Record<string, string>> | undefined): HeaderOf<S>;
  encode(header: Partial<HeaderOf<S>>): Record<string, string>;
}

/** Binds a schema to typed decode/encode. Export the result and `type X = HeaderOf<typeof X.schema>` under one name. */
export function defineHeader<const S extends HeaderSchema>(schema: S): HeaderCodec<S> {
  return {
    schema,
    decode: (ext) => decodeHeader(schema, ext),
    encode: (header) => encodeHeader(schema, header),
  };
}
