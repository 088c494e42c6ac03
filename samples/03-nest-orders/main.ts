/**
 * Sample 03: a NestJS orders service (HTTP + outbox + transactional messages + an idempotent
 * consumer + a dead-letter handler). README.md explains which guarantee comes from where.
 *
 *   node --import tsx samples/03-nest-orders/main.ts        (from the repository root)
 *
 * Defaults: an embedded NameServer + Broker in this process (data in samples/03-nest-orders/data/broker),
 * SQLite in samples/03-nest-orders/data/orders.sqlite, dedup in the database, HTTP on 127.0.0.1:3000.
 * Environment: ROCKETMQ_NAME_SERVER, DATABASE_URL (postgres://… | mysql://…), REDIS_URL, PORT, … (src/config.ts).
 *
 * Prints `orders service ready http://127.0.0.1:<port> namesrv=<addr>` when it serves. SIGTERM/SIGINT:
 * graceful close (relay stops, consumers drain and commit offsets, producers close), then exit 0.
 */
import 'reflect-metadata';
import path from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { startEmbeddedBroker } from '@rocketry/framework';
import { AppModule } from './src/app.module';
import { appConfig } from './src/config';

async function main(): Promise<void> {
  const cfg = appConfig;
  const broker = cfg.nameServer
    ? undefined
    : await startEmbeddedBroker({ dataDir: path.join(path.dirname(cfg.sqliteFile), 'broker'), topics: [cfg.ordersTopic] });
  const nameServer = cfg.nameServer ?? broker!.namesrvAddr;

  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(cfg, nameServer), { logger: ['log', 'warn', 'error'] });
  let closing: Promise<void> | undefined;
  const close = (signal: string) => {
    closing ??= (async () => {
      const began = Date.now();
      try {
        await app.close();
        await broker?.stop();
        console.log(`orders service closed (${signal}) in ${Date.now() - began} ms`);
        process.exit(0);
      } catch (err) {
        console.error('close failed', err);
        process.exit(1);
      }
    })();
  };
  process.once('SIGTERM', () => close('SIGTERM'));
  process.once('SIGINT', () => close('SIGINT'));

  await app.listen(cfg.httpPort, '127.0.0.1');
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : cfg.httpPort;
  console.log(`orders service ready http://127.0.0.1:${port} namesrv=${nameServer}`);
}

main().catch((err: unknown) => {
  console.error('orders service failed to start', err);
  process.exit(1);
});
