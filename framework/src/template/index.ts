export * from './rocket-template';
