/**
 * The OpenAPI 3.0 document of this server, generated from the routes and the process descriptions: every path,
 * parameter, status code and schema, plus one execute-request schema per process built from its inputs.
 */
import { JOB_STATUSES } from './jobs';
import { toOgcSchema } from './ogc-schema';
import type { InputDescription, ProcessDescription } from './process';
import { DEFAULT_LIMIT, MAX_LIMIT } from './query';

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const responseRef = (name: string): Schema => ({ $ref: `#/components/responses/${name}` });
const paramRef = (name: string): Schema => ({ $ref: `#/components/parameters/${name}` });
const stringArray: Schema = { type: 'array', items: { type: 'string' } };

const SCHEMAS: Record<string, Schema> = {
  link: {
    type: 'object',
    required: ['href'],
    properties: { href: { type: 'string' }, rel: { type: 'string' }, type: { type: 'string' }, hreflang: { type: 'string' }, title: { type: 'string' } },
  },
  exception: {
    type: 'object',
    required: ['type'],
    properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, instance: { type: 'string' } },
    additionalProperties: true,
  },
  landingPage: {
    type: 'object',
    required: ['links'],
    properties: { title: { type: 'string' }, description: { type: 'string' }, links: { type: 'array', items: ref('link') } },
  },
  confClasses: { type: 'object', required: ['conformsTo'], properties: { conformsTo: stringArray } },
  jobControlOptions: { type: 'string', enum: ['sync-execute', 'async-execute', 'dismiss'] },
  transmissionMode: { type: 'string', enum: ['value', 'reference'], default: 'value' },
  processSummary: {
    type: 'object',
    required: ['id', 'version'],
    properties: {
      id: { type: 'string' },
      version: { type: 'string' },
      title: { type: 'string' },
      description: { type: 'string' },
      keywords: stringArray,
      jobControlOptions: { type: 'array', items: ref('jobControlOptions') },
      outputTransmission: { type: 'array', items: ref('transmissionMode') },
      links: { type: 'array', items: ref('link') },
    },
  },
  processList: {
    type: 'object',
    required: ['processes', 'links'],
    properties: { processes: { type: 'array', items: ref('processSummary') }, links: { type: 'array', items: ref('link') } },
  },
  inputDescription: {
    type: 'object',
    required: ['schema'],
    properties: {
      title: { type: 'string' },
      description: { type: 'string' },
      keywords: stringArray,
      minOccurs: { type: 'integer', default: 1 },
      maxOccurs: { oneOf: [{ type: 'integer', default: 1 }, { type: 'string', enum: ['unbounded'] }] },
      schema: { type: 'object', description: 'An OpenAPI 3.0 Schema Object' },
    },
  },
  outputDescription: {
    type: 'object',
    required: ['schema'],
    properties: { title: { type: 'string' }, description: { type: 'string' }, schema: { type: 'object', description: 'An OpenAPI 3.0 Schema Object' } },
  },
  process: {
    allOf: [
      ref('processSummary'),
      {
        type: 'object',
        properties: {
          inputs: { type: 'object', additionalProperties: ref('inputDescription') },
          outputs: { type: 'object', additionalProperties: ref('outputDescription') },
        },
      },
    ],
  },
  bbox: {
    type: 'object',
    required: ['bbox'],
    properties: {
      bbox: { type: 'array', minItems: 4, maxItems: 6, items: { type: 'number' } },
      crs: { type: 'string', format: 'uri', default: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84' },
    },
  },
  format: { type: 'object', properties: { mediaType: { type: 'string' }, encoding: { type: 'string' }, schema: { oneOf: [{ type: 'string', format: 'url' }, { type: 'object' }] } } },
  qualifiedInputValue: { allOf: [ref('format'), { type: 'object', required: ['value'], properties: { value: {} } }] },
  inlineOrRefData: {
    anyOf: [
      { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }, { type: 'array', items: {} }] },
      ref('bbox'),
      ref('qualifiedInputValue'),
      ref('link'),
    ],
  },
  output: { type: 'object', properties: { format: ref('format'), transmissionMode: ref('transmissionMode') } },
  subscriber: {
    type: 'object',
    properties: { successUri: { type: 'string', format: 'uri' }, inProgressUri: { type: 'string', format: 'uri' }, failedUri: { type: 'string', format: 'uri' } },
  },
  execute: {
    type: 'object',
    properties: {
      inputs: { type: 'object', additionalProperties: { anyOf: [ref('inlineOrRefData'), { type: 'array', items: ref('inlineOrRefData') }] } },
      outputs: { type: 'object', additionalProperties: ref('output') },
      response: { type: 'string', enum: ['raw', 'document'], default: 'raw' },
      subscriber: ref('subscriber'),
    },
  },
  results: { type: 'object', additionalProperties: ref('inlineOrRefData') },
  statusCode: { type: 'string', enum: [...JOB_STATUSES] },
  statusInfo: {
    type: 'object',
    required: ['jobID', 'status', 'type'],
    properties: {
      jobID: { type: 'string' },
      id: { type: 'string', description: 'The job id again, as OGC API - Processes 2.0 names it' },
      type: { type: 'string', enum: ['process'] },
      processingEntityType: { type: 'string', enum: ['ogc-api-processes'] },
      processID: { type: 'string' },
      status: ref('statusCode'),
      message: { type: 'string' },
      created: { type: 'string', format: 'date-time' },
      started: { type: 'string', format: 'date-time' },
      finished: { type: 'string', format: 'date-time' },
      updated: { type: 'string', format: 'date-time' },
      progress: { type: 'integer', minimum: 0, maximum: 100 },
      exception: ref('exception'),
      links: { type: 'array', items: ref('link') },
    },
  },
  jobList: {
    type: 'object',
    required: ['jobs', 'links'],
    properties: { jobs: { type: 'array', items: ref('statusInfo') }, links: { type: 'array', items: ref('link') } },
  },
};

const htmlContent = { 'text/html': { schema: { type: 'string' } } };
const exceptionContent = { 'application/json': { schema: ref('exception') }, ...htmlContent };

const RESPONSES: Record<string, Schema> = {
  InvalidParameter: { description: 'A parameter has an invalid value.', content: exceptionContent },
  NotFound: { description: 'The requested resource does not exist.', content: exceptionContent },
  NotAllowed: { description: 'The method is not allowed at the path.', content: exceptionContent },
  ServerError: { description: 'A server error occurred.', content: exceptionContent },
  PayloadTooLarge: { description: 'The request body is too large.', content: exceptionContent },
};

const PARAMETERS: Record<string, Schema> = {
  f: { name: 'f', in: 'query', required: false, description: 'Output format; overrides the Accept header.', schema: { type: 'string', enum: ['json', 'html'] } },
  limit: { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT } },
  offset: { name: 'offset', in: 'query', required: false, description: 'Number of items to skip (paging).', schema: { type: 'integer', minimum: 0, default: 0 } },
  processIdPath: { name: 'processID', in: 'path', required: true, schema: { type: 'string' } },
  jobIdPath: { name: 'jobID', in: 'path', required: true, description: 'Local identifier of a job', schema: { type: 'string' } },
  filePath: { name: 'path', in: 'path', required: true, description: 'Path of a file in the job folder', schema: { type: 'string' } },
  type: { name: 'type', in: 'query', required: false, style: 'form', explode: false, schema: { type: 'array', items: { type: 'string', enum: ['process'] } } },
  processIdQuery: { name: 'processID', in: 'query', required: false, style: 'form', explode: false, schema: stringArray },
  status: { name: 'status', in: 'query', required: false, style: 'form', explode: false, schema: { type: 'array', items: ref('statusCode') } },
  datetime: { name: 'datetime', in: 'query', required: false, description: 'Instant or interval (start/end, `..` for open) of job creation.', schema: { type: 'string' } },
  minDuration: { name: 'minDuration', in: 'query', required: false, description: 'Minimum run time in seconds.', schema: { type: 'integer', minimum: 0 } },
  maxDuration: { name: 'maxDuration', in: 'query', required: false, description: 'Maximum run time in seconds.', schema: { type: 'integer', minimum: 0 } },
  prefer: { name: 'Prefer', in: 'header', required: false, description: '`respond-async` asks for asynchronous execution (RFC 7240).', schema: { type: 'string' } },
  range: { name: 'Range', in: 'header', required: false, description: 'A single byte range (RFC 9110).', schema: { type: 'string' } },
};

function jsonAndHtml(schemaName: string, description: string): Schema {
  return { description, content: { 'application/json': { schema: ref(schemaName) }, ...htmlContent } };
}

function get(operationId: string, summary: string, tag: string, ok: Schema, parameters: Schema[] = [], extra: Record<string, Schema> = {}): Schema {
  return { get: { operationId, summary, tags: [tag], parameters: [paramRef('f'), ...parameters], responses: { 200: ok, ...extra, 500: responseRef('ServerError') } } };
}

const STATIC_PATHS: Record<string, Schema> = {
  '/': get('getLandingPage', 'Landing page', 'Capabilities', jsonAndHtml('landingPage', 'Links to the API definition, conformance, processes and jobs.')),
  '/conformance': get('getConformanceClasses', 'Conformance classes', 'ConformanceDeclaration', jsonAndHtml('confClasses', 'The conformance classes this server implements.')),
  '/api': {
    get: {
      operationId: 'getAPI',
      summary: 'This OpenAPI document',
      tags: ['Capabilities'],
      responses: { 200: { description: 'The OpenAPI 3.0 document.', content: { 'application/vnd.oai.openapi+json;version=3.0': { schema: { type: 'object' } } } }, 500: responseRef('ServerError') },
    },
  },
  '/api.html': {
    get: {
      operationId: 'getAPIDocumentation',
      summary: 'Human-readable documentation of this API',
      tags: ['Capabilities'],
      responses: { 200: { description: 'An HTML page describing the API.', content: htmlContent }, 500: responseRef('ServerError') },
    },
  },
  '/processes': get('getProcesses', 'List the processes', 'Processes', jsonAndHtml('processList', 'The processes offered.'), [paramRef('limit'), paramRef('offset')], {
    400: responseRef('InvalidParameter'),
  }),
  '/processes/{processID}': get('getProcessDescription', 'Describe a process', 'Processes', jsonAndHtml('process', 'The process description.'), [paramRef('processIdPath')], {
    404: responseRef('NotFound'),
  }),
  '/jobs': get(
    'getJobs',
    'List the jobs',
    'Jobs',
    jsonAndHtml('jobList', 'The jobs matching the filters.'),
    ['type', 'processIdQuery', 'status', 'datetime', 'minDuration', 'maxDuration', 'limit', 'offset'].map(paramRef),
    { 400: responseRef('InvalidParameter') },
  ),
  '/jobs/{jobID}': {
    ...get('getStatus', 'Status of a job', 'Jobs', jsonAndHtml('statusInfo', 'The status of the job.'), [paramRef('jobIdPath')], { 404: responseRef('NotFound') }),
    delete: {
      operationId: 'dismiss',
      summary: 'Dismiss a job: cancel it if it runs, delete its outputs',
      tags: ['Jobs'],
      parameters: [paramRef('jobIdPath')],
      responses: { 200: { description: 'The job is dismissed.', content: { 'application/json': { schema: ref('statusInfo') } } }, 404: responseRef('NotFound'), 500: responseRef('ServerError') },
    },
  },
  '/jobs/{jobID}/results': {
    get: {
      operationId: 'getResult',
      summary: 'Results of a job, in the form its execute request asked for',
      tags: ['Jobs'],
      parameters: [paramRef('jobIdPath')],
      responses: {
        200: { description: 'The results: a document keyed by output id, or a raw value, or multipart/related.', content: { 'application/json': { schema: ref('results') }, 'multipart/related': { schema: { type: 'string', format: 'binary' } }, '*/*': { schema: { type: 'string', format: 'binary' } } } },
        204: { description: 'Raw results by reference: one Link header per output.', headers: { Link: { schema: { type: 'string' } } } },
        404: responseRef('NotFound'),
        500: responseRef('ServerError'),
      },
    },
  },
  '/jobs/{jobID}/files/{path}': {
    get: {
      operationId: 'getJobFile',
      summary: 'A file from the output folder of a job (supports byte ranges)',
      tags: ['Jobs'],
      parameters: [paramRef('jobIdPath'), paramRef('filePath'), paramRef('range')],
      responses: {
        200: { description: 'The whole file.', headers: { 'Accept-Ranges': { schema: { type: 'string' } } }, content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
        206: { description: 'One byte range of the file.', headers: { 'Content-Range': { schema: { type: 'string' } } }, content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
        404: responseRef('NotFound'),
        416: { description: 'The range starts beyond the end of the file.', content: { 'application/json': { schema: ref('exception') } } },
        500: responseRef('ServerError'),
      },
    },
    head: {
      operationId: 'headJobFile',
      summary: 'Headers of a job file',
      tags: ['Jobs'],
      parameters: [paramRef('jobIdPath'), paramRef('filePath')],
      responses: { 200: { description: 'The headers of the file.' }, 404: responseRef('NotFound') },
    },
  },
};

/** The JSON Schema of a process's inputs, as an execute request: required inputs, arrays where maxOccurs > 1. */
function processExecuteSchema(description: ProcessDescription): Schema {
  const inputProperties: Record<string, Schema> = {};
  const required: string[] = [];
  for (const [id, input] of Object.entries(description.inputs)) {
    inputProperties[id] = inputValueSchema(input);
    if ((input.minOccurs ?? 1) > 0 && input.schema.default === undefined) required.push(id);
  }
  return {
    allOf: [
      ref('execute'),
      {
        type: 'object',
        ...(required.length > 0 && { required: ['inputs'] }),
        properties: {
          inputs: { type: 'object', properties: inputProperties, ...(required.length > 0 && { required }), additionalProperties: false },
          outputs: { type: 'object', properties: Object.fromEntries(Object.keys(description.outputs).map((id) => [id, ref('output')])), additionalProperties: false },
        },
      },
    ],
  };
}

function inputValueSchema(input: InputDescription): Schema {
  const one = { anyOf: [toOgcSchema(input.schema), ref('qualifiedInputValue'), ref('link')] };
  const maxOccurs = input.maxOccurs === 'unbounded' ? undefined : input.maxOccurs ?? 1;
  if (maxOccurs === 1) return one;
  return { anyOf: [one, { type: 'array', items: one, minItems: input.minOccurs ?? 1, ...(maxOccurs !== undefined && { maxItems: maxOccurs }) }] };
}

function executePath(description: ProcessDescription): Schema {
  const schemaName = `execute-${description.id}`;
  return {
    post: {
      operationId: `execute-${description.id}`,
      summary: `Execute ${description.title ?? description.id}`,
      description: description.description,
      tags: ['Execution'],
      parameters: [paramRef('prefer')],
      requestBody: { required: true, content: { 'application/json': { schema: ref(schemaName) } } },
      responses: {
        200: { description: 'Synchronous execution: results as the request asked.', content: { 'application/json': { schema: ref('results') }, 'multipart/related': { schema: { type: 'string', format: 'binary' } }, '*/*': { schema: { type: 'string', format: 'binary' } } } },
        201: {
          description: 'Asynchronous execution: the job is created.',
          headers: { Location: { schema: { type: 'string' }, description: 'URL of the job status' }, 'Preference-Applied': { schema: { type: 'string' } } },
          content: { 'application/json': { schema: ref('statusInfo') } },
        },
        204: { description: 'Synchronous raw execution by reference: one Link header per output.', headers: { Link: { schema: { type: 'string' } } } },
        400: responseRef('InvalidParameter'),
        404: responseRef('NotFound'),
        413: responseRef('PayloadTooLarge'),
        500: responseRef('ServerError'),
      },
    },
  };
}

export function buildOpenApiDocument(baseUrl: string, descriptions: ProcessDescription[], title: string, version: string): Schema {
  const paths: Record<string, Schema> = { ...STATIC_PATHS };
  const schemas: Record<string, Schema> = { ...SCHEMAS };
  for (const description of descriptions) {
    paths[`/processes/${description.id}/execution`] = executePath(description);
    schemas[`execute-${description.id}`] = processExecuteSchema(description);
  }
  // The generic execution path for clients that substitute the process id themselves.
  paths['/processes/{processID}/execution'] = {
    post: {
      operationId: 'execute',
      summary: 'Execute a process',
      tags: ['Execution'],
      parameters: [paramRef('processIdPath'), paramRef('prefer')],
      requestBody: { required: true, content: { 'application/json': { schema: ref('execute') } } },
      responses: (executePath({ id: 'any', version: '', jobControlOptions: [], outputTransmission: [], inputs: {}, outputs: {} }).post as Schema).responses,
    },
  };
  return {
    openapi: '3.0.3',
    info: { title, version, description: 'OGC API - Processes - Part 1: Core 1.0 (OGC 18-062r2).', license: { name: 'MIT' } },
    servers: [{ url: baseUrl }],
    tags: ['Capabilities', 'ConformanceDeclaration', 'Processes', 'Execution', 'Jobs'].map((name) => ({ name })),
    paths,
    components: { schemas, responses: RESPONSES, parameters: PARAMETERS },
  };
}
