/**
 * Validates response bodies against the official OGC API - Processes schemas (../shared/ogcapi-processes, loaded,
 * never copied). The files are OpenAPI 3.0 Schema Objects with relative `$ref`s across files; they are converted
 * for Ajv (nullable, boolean exclusiveMinimum/Maximum, formats byte/binary/url) and their known defects are
 * patched as listed in the README of that folder.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

export const SHARED_SCHEMAS_ROOT = path.resolve(__dirname, '..', '..', '..', 'shared', 'ogcapi-processes');
const CORE_1_0 = path.join(SHARED_SCHEMAS_ROOT, '1.0', 'core', 'openapi');
const CORE_2_0 = path.join(SHARED_SCHEMAS_ROOT, '2.0-draft', 'openapi', 'schemas', 'processes-core');

type Schema = Record<string, unknown>;

/** Files whose `oneOf` branches overlap (ogcapi-processes issues #350 and #367): validated as `anyOf`. */
const OVERLAPPING_ONE_OF = new Set(['inlineOrRefData.yaml', 'inputValue.yaml', 'inputValueNoObject.yaml', 'schema.yaml', 'additionalParameter.yaml', 'ExecuteSync.yaml']);

/** Defects of the published files, fixed on load (the copies on disk stay unmodified). */
function patchKnownDefects(file: string, schema: Schema): Schema {
  const name = path.basename(file);
  if (file.startsWith(CORE_1_0) && name === 'subscriber.yaml') return { ...schema, required: ['successUri'] };
  if (file.startsWith(CORE_1_0) && name === 'limit.yaml') {
    return { ...schema, schema: { ...(schema.schema as Schema), maximum: 10_000 } };
  }
  if (file.startsWith(CORE_2_0) && name === 'statusInfo.yaml') {
    // 2.0 expects a URI as processID; 1.0 process ids are local identifiers, which the server keeps for both.
    const [base, own] = schema.allOf as Schema[];
    const properties = { ...(own.properties as Schema), processID: { type: 'string' } };
    return { ...schema, allOf: [base, { ...own, properties }] };
  }
  return schema;
}

/** OpenAPI 3.0 Schema Object → JSON Schema (draft-07, as Ajv reads it). */
function toJsonSchema(node: unknown, overlapping: boolean): unknown {
  if (Array.isArray(node)) return node.map((item) => toJsonSchema(item, overlapping));
  if (!node || typeof node !== 'object') return node;
  const source = node as Schema;
  const result: Schema = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === 'properties' && value && typeof value === 'object') {
      // Property names are data: a property may well be called `nullable` or `exclusiveMinimum`.
      result.properties = Object.fromEntries(Object.entries(value).map(([name, child]) => [name, toJsonSchema(child, overlapping)]));
      continue;
    }
    if (key === 'nullable' || key === 'example' || key === 'examples' || key === 'externalValue') continue;
    if (key === 'exclusiveMinimum' || key === 'exclusiveMaximum') {
      const bound = source[key === 'exclusiveMinimum' ? 'minimum' : 'maximum'];
      if (value === true && typeof bound === 'number') result[key] = bound;
      else if (typeof value === 'number') result[key] = value;
      continue;
    }
    const target = key === 'oneOf' && overlapping ? 'anyOf' : key;
    // `properties`, `required`, `enum`, `default` hold data, not schemas, at their first level.
    result[target] = key === 'enum' || key === 'default' || key === 'required' ? value : toJsonSchema(value, overlapping);
  }
  if (result.exclusiveMinimum !== undefined && source.exclusiveMinimum === true) delete result.minimum;
  if (result.exclusiveMaximum !== undefined && source.exclusiveMaximum === true) delete result.maximum;
  if (source.nullable === true) return { anyOf: [result, { type: 'null' }] };
  return result;
}

/** Formats of the OpenAPI files and of OGC process descriptions that Ajv does not know. */
function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  ajv.addFormat('url', (text: string) => /^[a-z][a-z0-9+.-]*:/i.test(text));
  for (const format of ['binary', 'ogc-bbox', 'geojson-geometry', 'geojson-feature', 'geojson-feature-collection', 'epsg-code', 'wkt']) ajv.addFormat(format, true);
  return ajv;
}

class OfficialSchemas {
  private readonly ajv: Ajv;
  private readonly loaded = new Set<string>();
  private readonly validators = new Map<string, ValidateFunction>();

  constructor() {
    this.ajv = createAjv();
  }

  /** Loads a YAML file and every file it references (relative `$ref`s), each under its file URL as `$id`. */
  private load(file: string): string {
    const id = pathToFileURL(file).href;
    if (this.loaded.has(file)) return id;
    if (!existsSync(file)) throw new Error(`official schema not found: ${file}`);
    this.loaded.add(file);
    const raw = patchKnownDefects(file, parseYaml(readFileSync(file, 'utf8')) as Schema);
    const converted = toJsonSchema(raw, OVERLAPPING_ONE_OF.has(path.basename(file))) as Schema;
    for (const reference of collectRefs(converted)) {
      const target = reference.split('#')[0];
      if (target && !/^[a-z]+:/i.test(target)) this.load(path.resolve(path.dirname(file), target));
    }
    this.ajv.addSchema({ ...converted, $id: id });
    return id;
  }

  validator(file: string): ValidateFunction {
    let validate = this.validators.get(file);
    if (!validate) {
      const id = this.load(file);
      validate = this.ajv.getSchema(id);
      if (!validate) throw new Error(`could not compile ${file}`);
      this.validators.set(file, validate);
    }
    return validate;
  }

  /** Error messages of a value against the `schema` of a parameter file (`parameters/*.yaml`, not a schema itself). */
  errorsOfParameter(file: string, value: unknown): string[] {
    let validate = this.validators.get(`${file} schema`);
    if (!validate) {
      const parameter = patchKnownDefects(file, parseYaml(readFileSync(file, 'utf8')) as Schema);
      validate = this.compileEmbedded(file, 'schema', parameter.schema);
      this.validators.set(`${file} schema`, validate);
    }
    return validate(value) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message}`);
  }

  /** Compiles a schema embedded in a non-schema file, its relative `$ref`s resolved from that file. */
  private compileEmbedded(file: string, fragment: string, embedded: unknown): ValidateFunction {
    const schema = toJsonSchema(embedded, OVERLAPPING_ONE_OF.has(path.basename(file))) as Schema;
    for (const reference of collectRefs(schema)) this.load(path.resolve(path.dirname(file), reference.split('#')[0]));
    return this.ajv.compile({ ...schema, $id: `${pathToFileURL(file).href}#${encodeURIComponent(fragment)}` });
  }

  /** Error messages of `data` against the schema of one media type of a response file (`responses/*.yaml`). */
  errorsOfResponse(file: string, mediaType: string, data: unknown): string[] {
    const key = `${file} ${mediaType}`;
    let validate = this.validators.get(key);
    if (!validate) {
      const response = parseYaml(readFileSync(file, 'utf8')) as { content: Record<string, { schema: Schema }> };
      validate = this.compileEmbedded(file, mediaType, response.content[mediaType].schema);
      this.validators.set(key, validate);
    }
    return validate(data) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message}`);
  }

  /** Error messages of `data` against the schema (empty when valid). */
  errors(file: string, data: unknown): string[] {
    const validate = this.validator(file);
    if (validate(data)) return [];
    return (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message} ${JSON.stringify(error.params)}`);
  }
}

function collectRefs(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((item) => collectRefs(item, found));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') found.push(value);
      else collectRefs(value, found);
    }
  }
  return found;
}

const schemas = new OfficialSchemas();

export type Schema10 =
  | 'landingPage' | 'confClasses' | 'processList' | 'process' | 'statusInfo' | 'jobList' | 'results' | 'exception' | 'execute' | 'schema';

/** The errors of `data` against a 1.0 schema (`core/openapi/schemas/<name>.yaml`). */
export function errors10(name: Schema10, data: unknown): string[] {
  return schemas.errors(path.join(CORE_1_0, 'schemas', `${name}.yaml`), data);
}

/** The errors of a query parameter value against a 1.0 parameter definition (`core/openapi/parameters/<name>.yaml`). */
export function errorsParameter(name: 'limit' | 'status' | 'type' | 'minDuration' | 'maxDuration' | 'datetime', value: unknown): string[] {
  return schemas.errorsOfParameter(path.join(CORE_1_0, 'parameters', `${name}.yaml`), value);
}

/** The errors of `data` against the 2.0-draft statusInfo. */
export function errorsStatusInfo20(data: unknown): string[] {
  return schemas.errors(path.join(CORE_2_0, 'statusInfo.yaml'), data);
}

/** The errors of `data` against the 1.0 response schema of ExecuteSync (any sync result body). */
export function errorsExecuteSync(data: unknown): string[] {
  return schemas.errorsOfResponse(path.join(CORE_1_0, 'responses', 'ExecuteSync.yaml'), '/*', data);
}

/** The 1.0 statusInfo schema and the 2.0-draft one, both. */
export function statusInfoErrors(data: unknown): string[] {
  return [...errors10('statusInfo', data), ...errorsStatusInfo20(data).map((error) => `2.0: ${error}`)];
}

/** Every schema inside a 1.0 process description must also pass the strict `schema.yaml`. */
export function processDescriptionErrors(data: unknown): string[] {
  const description = data as { inputs?: Record<string, { schema: unknown }>; outputs?: Record<string, { schema: unknown }> };
  const nested = [...Object.entries(description.inputs ?? {}), ...Object.entries(description.outputs ?? {})].flatMap(([id, io]) =>
    errors10('schema', io.schema).map((error) => `${id}: ${error}`),
  );
  return [...errors10('process', data), ...nested];
}

/**
 * A validator for the component schemas of the server's own OpenAPI document, so tests can check that what the
 * server answers is what its /api says. Returns the errors of `data` against `components.schemas[name]`.
 */
export function openApiComponentValidator(document: { components: { schemas: Record<string, unknown> } }): (name: string, data: unknown) => string[] {
  const ajv = createAjv();
  const definitions = Object.fromEntries(Object.entries(document.components.schemas).map(([name, schema]) => [name, toJsonSchema(schema, false)]));
  const rewritten = JSON.parse(JSON.stringify(definitions).replace(/"#\/components\/schemas\//g, '"openapi-components#/definitions/'));
  ajv.addSchema({ $id: 'openapi-components', definitions: rewritten });
  return (name, data) => {
    const validate = ajv.getSchema(`openapi-components#/definitions/${name}`);
    if (!validate) throw new Error(`no component schema ${name}`);
    return validate(data) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message}`);
  };
}
