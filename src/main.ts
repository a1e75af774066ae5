/** `npm start`: the OGC API - Processes server, configured from the environment (see src/config.ts). */
import { ConfigError, loadConfig } from './config';
import { startServer } from './http/server';

async function main(): Promise<void> {
  const config = loadConfig();
  const running = await startServer(config);
  const mode = config.redisUrl ? `BullMQ on ${config.redisUrl}` : 'embedded job backend';
  console.log(`OGC API - Processes listening on ${running.url} (${mode}); data in ${config.dataDir}, outputs in ${config.outputDir}`);
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      console.log(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    console.log(`${signal}: shutting down`);
    running.close().then(
      () => process.exit(0),
      (error) => {
        console.error('shutdown failed:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error) => {
  console.error(error instanceof ConfigError ? `configuration error: ${error.message}` : error);
  process.exit(1);
});
