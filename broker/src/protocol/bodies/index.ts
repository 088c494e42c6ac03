export * from './fastjson';
export * from './message-queue';
export * from './route.body';
export * from './heartbeat.body';
export * from './topic-config.body';
export * from './misc.body';
export * from './admin-stats.body';
