import { describe, expect, it } from 'vitest';
import { buildSubscriptionData, isSubAll, matchesTag, matchesTagsCode, SUB_ALL, SubscriptionParseError } from './subscription';
import { javaStringHashCode } from './tag-hash';

describe('buildSubscriptionData (FilterAPI)', () => {
  it('maps empty, null and * to SUB_ALL', () => {
    for (const s of ['', '*', undefined, null]) {
      const sub = buildSubscriptionData('T', s, 5);
      expect(sub).toEqual({ topic: 'T', subString: SUB_ALL, tagsSet: [], codeSet: [], subVersion: 5, expressionType: 'TAG' });
      expect(isSubAll(sub)).toBe(true);
    }
  });

  it('splits on ||, trims, drops empty parts and keeps subString as given', () => {
    const sub = buildSubscriptionData('T', ' TagA || TagB||||TagA ', 1);
    expect(sub.subString).toBe(' TagA || TagB||||TagA ');
    expect(sub.tagsSet).toEqual(['TagA', 'TagB']);
    expect(sub.codeSet).toEqual([javaStringHashCode('TagA'), javaStringHashCode('TagB')]);
    expect(isSubAll(sub)).toBe(false);
  });

  it('rejects an expression with no tag', () => {
    expect(() => buildSubscriptionData('T', ' || ')).toThrow(SubscriptionParseError);
  });

  it('keeps SQL92 expressions unparsed', () => {
    const sub = buildSubscriptionData('T', 'a > 1', 1, 'SQL92');
    expect(sub).toMatchObject({ expressionType: 'SQL92', subString: 'a > 1', tagsSet: [] });
    expect(matchesTagsCode(sub, 123)).toBe(true);
  });

  it('filters by code and by exact tag', () => {
    const sub = buildSubscriptionData('T', 'TagA||TagB', 1);
    expect(matchesTagsCode(sub, javaStringHashCode('TagA'))).toBe(true);
    expect(matchesTagsCode(sub, javaStringHashCode('TagC'))).toBe(false);
    expect(matchesTag(sub, 'TagB')).toBe(true);
    expect(matchesTag(sub, undefined)).toBe(false);
    expect(matchesTagsCode(buildSubscriptionData('T', '*'), 42)).toBe(true);
  });
});
