export * from './dead-letter';
export * from './dlq-admin';
