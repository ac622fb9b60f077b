/**
 * A DolphinScheduler to try the integration against by hand: reuses the one the environment
 * names (DOLPHINSCHEDULER_URL, DOLPHINSCHEDULER_TOKEN) or a running local one, or starts the
 * 3.1.1 standalone server (see scripts/lib/dolphinscheduler.ts). Prints its URL, a fresh access
 * token and the tenant; Ctrl-C leaves it (and stops it if this started it and nothing else uses it).
 */
import { useDolphinScheduler } from './lib/dolphinscheduler';

async function main(): Promise<void> {
  const server = await useDolphinScheduler((line) => console.log(`dolphinscheduler: ${line}`));
  console.log(`DOLPHINSCHEDULER_URL=${server.url}`);
  console.log(`DOLPHINSCHEDULER_TOKEN=${server.token}`);
  console.log(`DOLPHINSCHEDULER_TENANT=${server.tenantCode}`);
  console.log('Ctrl-C to leave it');
  // Signal listeners alone do not keep Node running; the timer does, until a signal comes.
  const keepAlive = setInterval(() => undefined, 60_000);
  await new Promise<void>((done) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => done());
  });
  clearInterval(keepAlive);
  await server.release();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
