/**
 * Process input/output schemas are written as JSON Schema; OGC 18-062r2 process descriptions must use the
 * OpenAPI 3.0 Schema Object subset of `schema.yaml`, which rejects `const`, `examples`, `$schema`, numeric
 * `exclusiveMinimum`, type arrays, `$defs`... This turns the one into the other for publication only; inputs
 * are still validated against the original JSON Schema.
 */
import type { JsonSchema } from './process';

const SCALAR_KEYWORDS = new Set([
  'title', 'description', 'multipleOf', 'maximum', 'minimum', 'maxLength', 'minLength', 'pattern', 'maxItems',
  'minItems', 'uniqueItems', 'maxProperties', 'minProperties', 'required', 'enum', 'format', 'default', 'nullable',
  'readOnly', 'writeOnly', 'example', 'deprecated', 'contentMediaType', 'contentEncoding', 'exclusiveMinimum',
  'exclusiveMaximum',
]);
const SCHEMA_LIST_KEYWORDS = ['allOf', 'oneOf', 'anyOf'] as const;
const MAX_REF_DEPTH = 16;

type Definitions = Record<string, unknown>;

export function toOgcSchema(schema: JsonSchema): JsonSchema {
  const definitions = { ...(schema.definitions as Definitions), ...(schema.$defs as Definitions) };
  return convert(schema, definitions, 0);
}

function convert(schema: JsonSchema, definitions: Definitions, depth: number): JsonSchema {
  if (typeof schema.$ref === 'string') return convertRef(schema.$ref, definitions, depth);
  const result: JsonSchema = {};
  let typeAlternatives: JsonSchema[] | undefined;
  for (const [keyword, value] of Object.entries(schema)) {
    if (keyword === 'exclusiveMinimum' || keyword === 'exclusiveMaximum') {
      Object.assign(result, exclusiveBound(keyword, value));
    } else if (keyword === 'const') {
      result.enum = [value];
    } else if (keyword === 'examples') {
      if (Array.isArray(value) && value.length > 0 && schema.example === undefined) result.example = value[0];
    } else if (keyword === 'type') {
      const { oneOf, ...converted } = convertType(value);
      Object.assign(result, converted);
      typeAlternatives = oneOf as JsonSchema[] | undefined;
    } else if (keyword === 'required') {
      if (Array.isArray(value) && value.length > 0) result.required = [...new Set(value)];
    } else if (SCALAR_KEYWORDS.has(keyword)) {
      result[keyword] = value;
    } else if ((SCHEMA_LIST_KEYWORDS as readonly string[]).includes(keyword) && Array.isArray(value)) {
      result[keyword] = value.map((item) => convertChild(item, definitions, depth));
    } else if (keyword === 'not' || keyword === 'items') {
      result[keyword] = Array.isArray(value) ? {} : convertChild(value, definitions, depth);
    } else if (keyword === 'additionalProperties') {
      result[keyword] = typeof value === 'boolean' ? value : convertChild(value, definitions, depth);
    } else if (keyword === 'properties' && value && typeof value === 'object') {
      result[keyword] = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([name, child]) => [name, convertChild(child, definitions, depth)]),
      );
    }
    // Anything else ($schema, $id, $comment, $defs, if/then/else, patternProperties...) has no OpenAPI 3.0 form.
  }
  return typeAlternatives ? withTypeAlternatives(result, typeAlternatives) : result;
}

function convertChild(child: unknown, definitions: Definitions, depth: number): JsonSchema {
  if (child === true || child === undefined || child === null || typeof child !== 'object') return {};
  return convert(child as JsonSchema, definitions, depth);
}

/** Local references are inlined (the definitions do not survive); remote ones are kept as references. */
function convertRef(ref: string, definitions: Definitions, depth: number): JsonSchema {
  const local = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(ref);
  if (!local) return { $ref: ref };
  const target = definitions[decodeURIComponent(local[1])];
  if (depth >= MAX_REF_DEPTH || !target || typeof target !== 'object') return {};
  return convert(target as JsonSchema, definitions, depth + 1);
}

function exclusiveBound(keyword: 'exclusiveMinimum' | 'exclusiveMaximum', value: unknown): JsonSchema {
  if (typeof value === 'boolean') return { [keyword]: value };
  if (typeof value !== 'number') return {};
  return { [keyword === 'exclusiveMinimum' ? 'minimum' : 'maximum']: value, [keyword]: true };
}

/** `type: ["string", "null"]` becomes `type: string, nullable: true`; several types become a oneOf. */
function convertType(value: unknown): JsonSchema {
  if (typeof value === 'string') return value === 'null' ? { nullable: true } : { type: value };
  if (!Array.isArray(value)) return {};
  const types = value.filter((type): type is string => typeof type === 'string' && type !== 'null');
  const nullable = value.includes('null') ? { nullable: true } : {};
  if (types.length === 1) return { type: types[0], ...nullable };
  return types.length === 0 ? nullable : { oneOf: types.map((type) => ({ type })), ...nullable };
}

function withTypeAlternatives(result: JsonSchema, alternatives: JsonSchema[]): JsonSchema {
  if (!result.oneOf) return { ...result, oneOf: alternatives };
  return { ...result, allOf: [...((result.allOf as JsonSchema[]) ?? []), { oneOf: alternatives }] };
}
