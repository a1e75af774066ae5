/** Builds and starts the HTTP server around a job backend; closes both gracefully. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServerConfig } from '../config';
import { createBackend } from '../jobs';
import type { JobBackend } from '../jobs/types';
import { OgcApi } from '../ogc/api';
import type { ReferenceLimits } from '../ogc/execute-request';
import { ProcessRegistry } from '../ogc/registry';
import { createRequestListener } from './app';

export interface RunningServer {
  server: Server;
  /** The URL the server listens on, e.g. `http://127.0.0.1:8080`. */
  url: string;
  api: OgcApi;
  backend: JobBackend;
  close(): Promise<void>;
}

export interface ServeOptions {
  registry: ProcessRegistry;
  backend: JobBackend;
  outputDir: string;
  host: string;
  port: number;
  publicUrl?: string;
  jsonLimit?: string;
  /** Size and time bounds of by-reference inputs. */
  referenceLimits?: ReferenceLimits;
  log?: (message: string) => void;
}

/** How long open connections (a sync execute waiting for its job, a file download) get to finish at shutdown. */
const SHUTDOWN_GRACE_MS = 5_000;

export async function serve(options: ServeOptions): Promise<RunningServer> {
  const api = new OgcApi({ registry: options.registry, backend: options.backend, outputDir: options.outputDir, referenceLimits: options.referenceLimits });
  const server = createServer(createRequestListener(api, { publicUrl: options.publicUrl, jsonLimit: options.jsonLimit, log: options.log }));
  // Longer than the usual 60 s idle timeout of proxies and load balancers, so they close first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const forced = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await options.backend.close();
      await closed;
      clearTimeout(forced);
    })();
    return closing;
  };
  return { server, url: `http://${host}:${address.port}`, api, backend: options.backend, close };
}

/** The whole server from a configuration: processes, backend, HTTP. */
export async function startServer(config: ServerConfig, registry: ProcessRegistry = ProcessRegistry.load()): Promise<RunningServer> {
  const backend = await createBackend({
    registry,
    outputDir: config.outputDir,
    dataDir: config.dataDir,
    redisUrl: config.redisUrl,
    queuePrefix: config.queuePrefix,
    workers: config.workers,
    callbacks: { publicUrl: config.publicUrl },
  });
  try {
    return await serve({ registry, backend, outputDir: config.outputDir, host: config.host, port: config.port, publicUrl: config.publicUrl, jsonLimit: config.jsonLimit });
  } catch (error) {
    await backend.close();
    throw error;
  }
}
