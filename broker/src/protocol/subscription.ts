/**
 * Subscription expressions (`FilterAPI.buildSubscriptionData`) and SubscriptionData, the JSON shape
 * inside HeartbeatData.
 */
import { javaStringHashCode } from './tag-hash';
import { ProtocolError } from './protocol-error';

export const SUB_ALL = '*';
export const ExpressionType = { TAG: 'TAG', SQL92: 'SQL92' } as const;

export interface SubscriptionData {
  topic: string;
  subString: string;
  tagsSet: string[];
  codeSet: number[];
  subVersion: number;
  /** 'TAG' (default) or 'SQL92'. */
  expressionType: string;
  classFilterMode?: boolean;
  filterClassSource?: string;
}

export class SubscriptionParseError extends ProtocolError {
  constructor(message: string) {
    super('SUBSCRIPTION_INVALID', message);
    this.name = 'SubscriptionParseError';
  }
}

/**
 * '' or '*' → SUB_ALL (tagsSet/codeSet empty); else split on '||', trim, drop empties; subString kept as
 * given. Java keeps sets (insertion order); duplicates are dropped here too. No tag left → SubscriptionParseError
 * (the broker answers SUBSCRIPTION_PARSE_FAILED).
 */
export function buildSubscriptionData(
  topic: string,
  subString: string | undefined | null,
  subVersion: number = Date.now(),
  expressionType: string = ExpressionType.TAG,
): SubscriptionData {
  const type = expressionType || ExpressionType.TAG;
  const sub: SubscriptionData = { topic, subString: subString ?? '', tagsSet: [], codeSet: [], subVersion, expressionType: type };
  if (type !== ExpressionType.TAG) {
    if (!subString) throw new SubscriptionParseError(`empty ${type} expression for topic ${topic}`);
    return sub;
  }
  // Java compares the raw string: ' * ' is the tag '*', not SUB_ALL.
  if (!subString || subString === SUB_ALL) {
    sub.subString = SUB_ALL;
    return sub;
  }
  const tags = new Set<string>();
  for (const part of subString.split('||')) {
    const tag = part.trim();
    if (tag.length > 0) tags.add(tag);
  }
  if (tags.size === 0) throw new SubscriptionParseError(`subString split error: ${JSON.stringify(subString)}`);
  sub.tagsSet = [...tags];
  sub.codeSet = sub.tagsSet.map(javaStringHashCode);
  return sub;
}

/** True when the subscription takes every tag. */
export function isSubAll(sub: Pick<SubscriptionData, 'subString' | 'expressionType'>): boolean {
  return (sub.expressionType ?? ExpressionType.TAG) === ExpressionType.TAG && (sub.subString === SUB_ALL || sub.subString === '');
}

/** Broker-side CQ filter: tagsCode against codeSet (SUB_ALL and non-TAG expressions pass). */
export function matchesTagsCode(sub: SubscriptionData, code: number): boolean {
  if (sub.expressionType !== ExpressionType.TAG || isSubAll(sub)) return true;
  return sub.codeSet.includes(code);
}

/** Exact tag check (the client-side second filter). */
export function matchesTag(sub: SubscriptionData, tag: string | undefined): boolean {
  if (sub.expressionType !== ExpressionType.TAG || isSubAll(sub)) return true;
  return tag !== undefined && sub.tagsSet.includes(tag);
}
