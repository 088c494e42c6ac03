export * from './listener-definition';
export * from './listener-metadata-explorer';
export * from './rocket-listener-container';
