export * from './config-errors';
export * from './placeholder-resolver';
export * from './rocketry-config';
