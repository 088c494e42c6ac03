/**
 * The orders app as a process: `node --import tsx main.ts '<OrdersAppConfig JSON + { send }>'`.
 * Prints `{"event":"ready"}` after bootstrap, sends `send` orders through RocketTemplate, and on
 * SIGTERM calls `app.close()` (graceful: drain, persist offsets, close) and prints
 * `{"event":"closed","ms":...}` before exiting 0.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Journal, OrdersAppModule, OrdersPublisher, type OrdersAppConfig } from './orders-app.module';

interface MainConfig extends OrdersAppConfig {
  /** Orders to send after boot (ids `o-0` .. `o-<send-1>`). */
  send: number;
}

const line = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as MainConfig;
  const app = await NestFactory.createApplicationContext(OrdersAppModule.forConfig({ ...cfg, jsonl: true }), { logger: ['error', 'warn', 'log'], abortOnError: false });
  let closing = false;
  process.once('SIGTERM', () => {
    closing = true;
    const began = Date.now();
    const consumedBeforeClose = app.get(Journal).of('consumed').length;
    line({ event: 'closing', consumedBeforeClose });
    app
      .close()
      .then(() => {
        line({ event: 'closed', ms: Date.now() - began });
        process.exit(0);
      })
      .catch((err: unknown) => {
        line({ event: 'close-failed', error: String(err) });
        process.exit(1);
      });
  });
  line({ event: 'ready', pid: process.pid });
  if (cfg.send > 0 && !closing) {
    const ids = Array.from({ length: cfg.send }, (_, i) => `o-${i}`);
    await app.get(OrdersPublisher).sendOrders(ids);
    line({ event: 'sent', count: ids.length });
  }
}

main().catch((err: unknown) => {
  line({ event: 'fatal', error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  process.exit(1);
});
