import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateSyntheticData } from './fixtures/sentinel2';

/** A temporary folder with the tiny synthetic data set's STAC items (no COGs): enough for the STAC-side tests. */
export async function tinyItemsDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'stac-items-'));
  await generateSyntheticData({ out: dir, size: 'tiny', itemsOnly: true });
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

const SCHEMA_DIR = path.join(__dirname, '..', 'schemas', 'stac');
const PROJJSON_ID = 'https://proj.org/schemas/v0.5/projjson.schema.json';

/** ajv validators for the vendored STAC 1.0.0 schemas (schemas/stac), looked up by their canonical ids. */
export async function loadStacValidators(): Promise<{ item: ValidateFunction; catalog: ValidateFunction; extension: (url: string) => ValidateFunction }> {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addFormat('iri', (value: string) => URL.canParse(value));
  ajv.addFormat('iri-reference', (value: string) => URL.canParse(value, 'http://example.com/base/'));
  // We never write proj:projjson; the projection schema only needs the reference to resolve.
  ajv.addSchema({ $id: PROJJSON_ID });
  for (const file of await readdir(SCHEMA_DIR)) {
    if (file.endsWith('.json')) ajv.addSchema(JSON.parse(await readFile(path.join(SCHEMA_DIR, file), 'utf8')));
  }
  const get = (id: string) => {
    const validate = ajv.getSchema(id);
    if (!validate) throw new Error(`schema ${id} not loaded`);
    return validate;
  };
  return {
    item: get('https://schemas.stacspec.org/v1.0.0/item-spec/json-schema/item.json'),
    catalog: get('https://schemas.stacspec.org/v1.0.0/catalog-spec/json-schema/catalog.json'),
    extension: (url) => get(url),
  };
}

export function expectValid(validate: ValidateFunction, document: unknown): void {
  const valid = validate(document);
  expect(validate.errors ?? []).toEqual([]);
  expect(valid).toBe(true);
}
