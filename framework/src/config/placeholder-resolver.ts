/**
 * `${name}` / `${name:default}` resolution (Spring's PropertySourcesPlaceholderConfigurer syntax).
 * Lookup order: the property source, then the environment by Spring's relaxed name
 * (`orders.topic` → `ORDERS_TOPIC`), then the environment by the exact name. A default may itself
 * contain placeholders; nesting is bounded so a self-reference cannot loop.
 */
import { RocketryConfigError } from './config-errors';

export type PropertyLookup = (name: string) => string | undefined;

const MAX_PASSES = 10;

/** `rocketmq.producer.send-message-timeout` → `ROCKETMQ_PRODUCER_SEND_MESSAGE_TIMEOUT`. */
export function relaxedEnvName(key: string): string {
  return key.replace(/[.\-[\]]/g, '_').toUpperCase();
}

/** True when the text contains at least one `${...}`. */
export function hasPlaceholder(text: string): boolean {
  return /\$\{[^}]*\}/.test(text);
}

/**
 * Replaces every innermost `${...}` until none is left. Throws RocketryConfigError naming the
 * placeholder when it has no value and no default.
 */
export function resolvePlaceholders(text: string, lookup: PropertyLookup, what = 'value'): string {
  let out = text;
  for (let pass = 0; pass < MAX_PASSES && out.includes('${'); pass++) {
    // Innermost first: `${a:${b}}` resolves `${b}` in this pass and `${a:...}` in the next.
    out = out.replace(/\$\{([^${}]*)\}/g, (_m, body: string) => {
      const colon = body.indexOf(':');
      const name = (colon >= 0 ? body.slice(0, colon) : body).trim();
      const fallback = colon >= 0 ? body.slice(colon + 1) : undefined;
      if (name.length === 0) throw new RocketryConfigError(`${what}: empty placeholder in ${JSON.stringify(text)}`);
      const value = lookup(name);
      if (value !== undefined) return value;
      if (fallback !== undefined) return fallback;
      throw new RocketryConfigError(`${what}: placeholder \${${name}} in ${JSON.stringify(text)} has no value (set it in the configuration or as ${relaxedEnvName(name)}, or give a default: \${${name}:default})`);
    });
  }
  if (/\$\{[^}]*\}/.test(out)) throw new RocketryConfigError(`${what}: placeholders in ${JSON.stringify(text)} nest deeper than ${MAX_PASSES} levels`);
  return out;
}
