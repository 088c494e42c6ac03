export * from './message-converter';
