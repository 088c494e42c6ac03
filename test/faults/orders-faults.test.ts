/**
 * The fault suite inside `npm test` (also `npm run test:faults`, through run.ts): the order flow of
 * samples/03-nest-orders (240 orders over HTTP) while the broker is SIGKILLed and restarted, the app
 * is SIGKILLed mid-batch and restarted, Redis is cut off and the database rejects writes; then the
 * ledger must show every committed order with exactly one inventory effect and no other effect.
 */
import { afterAll, expect, it } from 'vitest';
import { killAllChildren } from '../helpers/child-process';
import { runOrdersFaultScenario } from './orders-fault-scenario';

afterAll(async () => {
  await killAllChildren();
});

it('orders under broker kill, app kill mid-batch, Redis outage and DB write rejections: lost 0, duplicated 0', async () => {
  const result = await runOrdersFaultScenario({ log: (line) => console.log(line) });
  console.log(result.detailLine);
  console.log(result.summaryLine);

  // The faults really happened.
  const kinds = result.faults.map((f) => f.what).join('\n');
  expect(kinds).toMatch(/broker-kill/);
  expect(kinds).toMatch(/app-kill/);
  expect(kinds).toMatch(/redis-cut/);
  expect(result.inFlightAtAppKill).toBeGreaterThan(0);
  expect(result.driver.http503).toBeGreaterThan(0);
  expect(result.ledger.orders).toBeGreaterThanOrEqual(200);

  // The ledger holds.
  expect(result.ledger.lost, result.detailLine).toBe(0);
  expect(result.ledger.duplicated, result.detailLine).toBe(0);
  expect(result.ledger.orphans, result.detailLine).toBe(0);
  expect(result.ledger.stockDrift, result.detailLine).toBe(0);
  expect(result.ledger.acknowledgedNotCommitted, result.detailLine).toBe(0);
  expect(result.ledger.effects).toBe(result.ledger.orders);
  expect(result.summaryLine).toBe(`faults: orders ${result.ledger.orders}, effects ${result.ledger.orders}, lost 0, duplicated 0`);
}, 240_000);
