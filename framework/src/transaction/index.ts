/** `@TransactionalProducer`, its runtime (`createTransactionalProducers`) and the local transaction table. */
export * from './constants';
export * from './transaction-log.store';
export * from './transactional-producer.decorator';
export * from './transactional-metadata';
export * from './transactional-producer-options';
export {
  createTransactionalProducers,
  currentTrx,
  getTransactionalContext,
  TransactionalError,
  type TransactionalContext,
  type TransactionalErrorCode,
  type TransactionalProducers,
} from './transactional-runtime';
