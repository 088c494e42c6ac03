/**
 * Tag hash = Java `String.hashCode()` (int32 over UTF-16 code units, `h = 31*h + c`). Stored in the
 * ConsumeQueue tagsCode (sign-extended to int64) and in SubscriptionData.codeSet.
 */
export function javaStringHashCode(s: string): number {
  return continueJavaStringHash(0, s);
}

/** Hash of `prefix + s` from the prefix's hash: hash(a + b) === continueJavaStringHash(hash(a), b). */
export function continueJavaStringHash(prefixHash: number, s: string): number {
  let h = prefixHash;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** `MessageExtBrokerInner.tagsString2tagsCode`: empty / missing tag → 0. */
export function tagsCode(tags: string | undefined | null): number {
  if (!tags) return 0;
  return javaStringHashCode(tags);
}
