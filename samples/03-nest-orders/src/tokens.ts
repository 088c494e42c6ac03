/**
 * Injection tokens. Every constructor parameter in this sample names its token with @Inject(...):
 * tsx/vitest compile with esbuild, which emits no decorator metadata (`design:paramtypes`), so Nest
 * cannot infer parameter types on its own.
 */
/** The service's knex (Knex). */
export const KNEX = Symbol('KNEX');
/** The resolved OrdersSampleConfig. */
export const SAMPLE_CONFIG = Symbol('SAMPLE_CONFIG');
/** The outbox handle of `createOutbox`. */
export const OUTBOX = Symbol('OUTBOX');
/** The handle of `createTransactionalProducers` (binds TransactionalOrdersService). */
export const TRANSACTIONAL_PRODUCERS = Symbol('TRANSACTIONAL_PRODUCERS');
