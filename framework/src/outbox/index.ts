/** Transactional outbox (local message table) on knex: createOutbox, its relay, table and migration. */
export * from './outbox-options';
export * from './outbox-table';
export { OutboxStore, type ClaimedRow, type NewOutboxRow } from './outbox.store';
export { OutboxRelay, type OutboxRelaySettings } from './outbox-relay';
export { createOutbox, type OutboxListOptions, type Outbox } from './outbox';
