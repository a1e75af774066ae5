/** The Express 5 adapter: routes to OgcApi, content negotiation, CORS, and OGC exceptions for every error. */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { OgcApi } from '../ogc/api';
import { ApiError, ExceptionType, notFound } from '../ogc/exceptions';
import type { ApiRequest, ApiResponse } from '../ogc/model';
import { renderApiDocumentation, renderView } from './html';
import { baseUrlOf, prefersHtml } from './negotiation';
import { ReplayCache } from './replay-cache';

export interface AppOptions {
  publicUrl?: string;
  jsonLimit?: string;
  log?: (message: string) => void;
}

type Handler = (request: ApiRequest) => ApiResponse | Promise<ApiResponse>;
type Operation = 'landingPage' | 'conformance' | 'openApi' | 'processes' | 'process' | 'execute' | 'jobs' | 'job' | 'results' | 'dismiss';

const EXPOSED_HEADERS = 'Location, Link, Preference-Applied, Content-Range, Accept-Ranges, Content-Length';
const ALLOWED_HEADERS = 'Accept, Content-Type, Prefer, Range, Authorization';

/** Path → methods, both for routing and for the 405 answers with their Allow header. */
const ROUTES: Array<[string, Partial<Record<'get' | 'post' | 'delete', Operation>>]> = [
  ['/', { get: 'landingPage' }],
  ['/conformance', { get: 'conformance' }],
  ['/api', { get: 'openApi' }],
  ['/processes', { get: 'processes' }],
  ['/processes/:processId', { get: 'process' }],
  ['/processes/:processId/execution', { post: 'execute' }],
  ['/jobs', { get: 'jobs' }],
  ['/jobs/:jobId', { get: 'job', delete: 'dismiss' }],
  ['/jobs/:jobId/results', { get: 'results' }],
];

/** The server's request listener: immutable JSON reads replayed from memory, everything else through Express. */
export function createRequestListener(api: OgcApi, options: AppOptions = {}): RequestListener {
  const replays = new ReplayCache(options.publicUrl);
  const app = createApp(api, options, replays);
  return (req: IncomingMessage, res: ServerResponse) => {
    if (!replays.serve(req, res)) void app(req, res);
  };
}

export function createApp(api: OgcApi, options: AppOptions = {}, replays?: ReplayCache): express.Express {
  const log = options.log ?? ((message: string) => console.error(message));
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');

  app.use(cors);
  const toApiRequest = (req: Request): ApiRequest => ({
    baseUrl: baseUrlOf(req.headers, Boolean((req.socket as { encrypted?: boolean }).encrypted), `${req.socket.localAddress}:${req.socket.localPort}`, options.publicUrl),
    method: req.method,
    path: req.path,
    params: req.params as Record<string, string>,
    query: req.query as ApiRequest['query'],
    headers: req.headers,
    body: req.body,
  });
  const run = (handler: Handler) => async (req: Request, res: Response, next: NextFunction) => {
    const signal = req.method === 'POST' ? abortedOnClose(res) : undefined;
    try {
      const request = { ...toApiRequest(req), signal };
      const html = prefersHtml(request.query.f, req.headers.accept);
      const response = await handler(request);
      const remember = replays && response.immutable && !html && response.status === 200 ? (payload: Buffer | string) => replays.remember(req, res, payload) : undefined;
      await send(res, response, html, request.baseUrl, remember);
    } catch (error) {
      // The client is gone (e.g. it gave up waiting for a synchronous execution): nobody to answer.
      if (signal?.aborted) return;
      next(error);
    }
  };

  const apiDocumentation = (req: Request, res: Response, next: NextFunction) => {
    try {
      const request = toApiRequest(req);
      res.status(200).type('text/html; charset=utf-8').send(renderApiDocumentation(api.openApiDocument(request), request.baseUrl));
    } catch (error) {
      next(error);
    }
  };
  // Browsers following the service-desc link get the documentation page.
  app.get('/api', (req, res, next) => (wantsHtmlSafely(req) ? apiDocumentation(req, res, next) : next()));
  app.get('/api.html', apiDocumentation);

  const jsonBody = express.json({ limit: options.jsonLimit ?? '10mb', strict: false, type: () => true });
  for (const [path, methods] of ROUTES) {
    for (const [method, operation] of Object.entries(methods) as Array<['get' | 'post' | 'delete', Operation]>) {
      const handler: Handler = api[operation].bind(api);
      if (method === 'post') app.post(path, jsonBody, run(handler));
      else app[method](path, run(handler));
    }
  }
  app.get('/jobs/:jobId/files/*path', (req, res, next) => {
    const encodedPath = rawPathAfter(req.originalUrl, '/files/');
    run((request) => api.jobFile({ ...request, params: { jobId: String(req.params.jobId), path: encodedPath } }))(req, res, next);
  });

  const allowed = [...ROUTES.map(([path, methods]) => [path, Object.keys(methods)] as const), ['/api.html', ['get']] as const, ['/jobs/:jobId/files/*path', ['get']] as const];
  for (const [path, methods] of allowed) {
    const allow = [...methods.map((method) => method.toUpperCase()), ...(methods.includes('get') ? ['HEAD'] : []), 'OPTIONS'].join(', ');
    app.all(path, (req, res) => {
      res.setHeader('Allow', allow);
      sendError(res, new ApiError(405, ExceptionType.notAllowed, 'Method not allowed', `${req.method} is not allowed on ${req.path}; use ${allow}.`), req.path);
    });
  }
  app.use((req: Request, res: Response) => sendError(res, notFound(req.path), req.path));
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendError(res, asApiError(error, req, log), req.path, wantsHtmlSafely(req) ? baseUrlOf(req.headers, false, String(req.headers.host), options.publicUrl) : undefined);
  });
  return app;
}

function cors(req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
  if (req.method === 'OPTIONS') {
    res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, POST, DELETE, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', req.headers['access-control-request-headers'] ?? ALLOWED_HEADERS);
    res.setHeader('Access-Control-Max-Age', '86400');
    res.status(204).end();
    return;
  }
  next();
}

/** Errors of the body parser keep their 4xx meaning; anything unexpected is logged and answered as a 500. */
function asApiError(error: unknown, req: Request, log: (message: string) => void): ApiError {
  if (error instanceof ApiError) return error;
  const parserError = error as { type?: string; status?: number; message?: string };
  if (parserError?.type === 'entity.parse.failed') {
    return new ApiError(400, ExceptionType.invalidParameter, 'Malformed JSON', `The request body is not valid JSON: ${parserError.message}`);
  }
  if (parserError?.type === 'entity.too.large') return new ApiError(413, ExceptionType.payloadTooLarge, 'Payload too large', 'The request body is too large.');
  if (typeof parserError?.status === 'number' && parserError.status >= 400 && parserError.status < 500) {
    return new ApiError(parserError.status, ExceptionType.invalidParameter, 'Bad request', parserError.message);
  }
  log(`${req.method} ${req.originalUrl} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return new ApiError(500, ExceptionType.serverError, 'Server error', 'The server could not answer the request; the error is logged.');
}

function wantsHtmlSafely(req: Request): boolean {
  try {
    return prefersHtml(req.query?.f, req.headers.accept);
  } catch {
    return false;
  }
}

function sendError(res: Response, error: ApiError, instance: string, htmlBaseUrl?: string): void {
  void send(res, error.toResponse(instance), htmlBaseUrl !== undefined, htmlBaseUrl ?? '');
}

/** Writes an ApiResponse; `remember` receives the JSON bytes of a response that may be replayed. */
async function send(res: Response, response: ApiResponse, html: boolean, baseUrl: string, remember?: (payload: Buffer | string) => void): Promise<void> {
  res.status(response.status);
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  if (response.view) res.setHeader('Vary', 'Accept');
  if (html && response.view && response.json !== undefined) {
    const text = renderView(response.view, response.json, baseUrl);
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.end(text);
  } else if (response.payload !== undefined) {
    res.setHeader('Content-Length', Buffer.byteLength(response.payload));
    remember?.(response.payload);
    res.end(response.payload);
  } else if (response.stream) {
    await pipeline(response.stream, res).catch(() => res.destroy());
  } else if (response.json !== undefined) {
    const text = JSON.stringify(response.json);
    res.setHeader('Content-Length', Buffer.byteLength(text));
    remember?.(text);
    res.end(text);
  } else {
    res.end();
  }
}

/** Aborted when the client closes the connection before the response is complete (a sync execute gives up waiting). */
function abortedOnClose(res: Response): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort(new Error('the client closed the connection'));
  });
  return controller.signal;
}

/** The still-encoded remainder of the URL path after `marker`, so traversal can be judged per raw segment. */
function rawPathAfter(originalUrl: string, marker: string): string {
  const path = originalUrl.split('?')[0];
  const index = path.indexOf(marker);
  return index < 0 ? '' : path.slice(index + marker.length);
}
