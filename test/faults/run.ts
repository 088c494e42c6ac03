/**
 * `npm run test:faults`: the order flow of samples/03-nest-orders under broker kill, app kill, Redis
 * outage and database write rejections (orders-fault-scenario.ts), ending with the line
 *
 *   faults: orders N, effects N, lost 0, duplicated 0
 *
 * Exit code 0 when the ledger holds, 1 otherwise. Flags: --orders N (default 240), --drive-ms MS.
 * The same scenario runs inside `npm test` as test/faults/orders-faults.test.ts.
 */
import { killAllChildren } from '../helpers/child-process';
import { runOrdersFaultScenario } from './orders-fault-scenario';

function flag(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  return v === undefined ? undefined : Number(v);
}

async function main(): Promise<number> {
  const orders = flag('--orders');
  const driveMs = flag('--drive-ms');
  const result = await runOrdersFaultScenario({
    ...(orders !== undefined ? { orders } : {}),
    ...(driveMs !== undefined ? { driveMs } : {}),
    log: (line) => console.log(line),
  });
  console.log(result.detailLine);
  if (!result.ok) console.log('faults: FAILED — see the detail line above');
  console.log(result.summaryLine);
  return result.ok ? 0 : 1;
}

main()
  .then(async (code) => {
    await killAllChildren();
    process.exit(code);
  })
  .catch(async (err: unknown) => {
    console.error(err);
    await killAllChildren();
    process.exit(1);
  });
