export * from './types';
export * from './errors';
export { Connection, normaliseHost, DEFAULT_MAX_IN_FLIGHT_REQUESTS, type ConnectionOptions, type ConnectionStats } from './connection';
export { ProcessorTable, DEFAULT_MAX_IN_FLIGHT_REQUESTS_PER_CHANNEL, type ProcessorTableOptions } from './processor-table';
export { RemotingServer, DEFAULT_CHANNEL_IDLE_TIMEOUT_MS } from './remoting-server';
export { RemotingClient, NamesrvClient, invokeNamesrv, parseAddress, DEFAULT_CONNECT_TIMEOUT_MS } from './remoting-client';
