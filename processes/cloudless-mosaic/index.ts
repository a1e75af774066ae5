import { rm } from 'node:fs/promises';
import type { ProcessDescription, ProcessPlugin, RunContext } from '../../src/ogc/process';
import { gridFootprintWgs84, subGrid, tileWindows, type Bbox } from '../../src/raster/grid';
import type { Grid } from '../../src/raster/types';
import { resolveItemBands, type ResolvedItem } from '../../src/stac/bands';
import { searchItems } from '../../src/stac/client';
import { signerFor, signingConfigFor, type SigningConfig } from '../../src/stac/signing';
import type { StacItem } from '../../src/stac/types';
import { writeCatalog, type MosaicItemInput } from '../../src/stac/writer';
import { writeMonth, type MonthOutput } from './assemble';
import description from './description.json';
import { checkMosaicInputs, outputGrid, toMosaicRequest, type MosaicRequest } from './inputs';
import { groupByMonth, type MonthGroup } from './months';
import { compositeTile, type SceneBands, type TilePayload, type TileResult } from './tile';

/** Output tile edge of a work unit: memory per unit is tile² × scenes × bands, whatever the AOI. */
export const UNIT_TILE_SIZE = 512;
const WORK_FOLDER = '.work';

/** Progress shares: search, then compositing units and writing months, then the catalog. */
const SEARCH_DONE = 5;
const WRITTEN = 98;

function overlaps(a: Bbox, b: Bbox): boolean {
  return a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
}

async function findScenes(request: MosaicRequest, ctx: RunContext): Promise<StacItem[]> {
  ctx.progress(1, `searching ${request.stacApi} for ${request.collection} scenes`);
  const items = await searchItems({
    stacApi: request.stacApi,
    collections: [request.collection],
    bbox: request.bbox,
    datetime: `${request.startDate}T00:00:00Z/${request.endDate}T23:59:59Z`,
    maxCloudCover: request.maxCloudCover,
    maxItems: request.maxItems,
    signal: ctx.signal,
  });
  if (items.length === 0) {
    throw new Error(
      `no ${request.collection} scenes found in ${request.stacApi} over ${request.bbox.join(',')} ` +
        `from ${request.startDate} to ${request.endDate} with eo:cloud_cover below ${request.maxCloudCover} %`,
    );
  }
  return items;
}

async function sceneBands(item: ResolvedItem, request: MosaicRequest, signing: SigningConfig | undefined, ctx: RunContext): Promise<SceneBands> {
  const signer = signing ? signerFor(signing) : undefined;
  const sign = (href: string) => (signer ? signer.signHref(href, signing!.collection, ctx.signal) : Promise.resolve(href));
  return {
    id: item.itemId,
    bands: await Promise.all(item.bands.map(async (band) => ({ href: await sign(band.href), dnOffset: request.harmonize ? band.dnOffset : 0 }))),
    scl: request.mask.length > 0 ? await sign(item.scl.href) : undefined,
  };
}

interface Scene {
  item: ResolvedItem;
  bbox: Bbox;
  bands: SceneBands;
}

function tilePayloads(months: MonthGroup<Scene>[], grid: Grid, request: MosaicRequest, signing: SigningConfig | undefined) {
  const windows = tileWindows(grid, UNIT_TILE_SIZE);
  return months.flatMap((month) =>
    windows.flatMap((window, index) => {
      const tileGrid = subGrid(grid, window.x, window.y, window.width, window.height);
      const footprint = gridFootprintWgs84(tileGrid).bbox;
      const scenes = month.scenes.filter((scene) => overlaps(scene.bbox, footprint)).map((scene) => scene.bands);
      if (scenes.length === 0) return [];
      const payload: TilePayload = {
        month: month.month,
        label: `${month.month} tile ${index + 1}/${windows.length}`,
        grid: tileGrid,
        scenes,
        mask: request.mask,
        resampling: 'nearest',
        workFile: `${WORK_FOLDER}/${month.month}/tile-${window.x}-${window.y}.bin`,
        signing,
      };
      return [{ payload, window }];
    }),
  );
}

type Unit = ReturnType<typeof tilePayloads>[number];

/** Writes one month's COGs from its units' tiles; undefined when no scene gave the month a valid pixel. */
async function writeMonthOf(month: MonthGroup<Scene>, units: Unit[], results: TileResult[], grid: Grid, request: MosaicRequest, ctx: RunContext): Promise<MosaicItemInput | undefined> {
  ctx.signal.throwIfAborted();
  const monthUnits = units.map((unit, index) => ({ ...unit, result: results[index] })).filter((unit) => unit.payload.month === month.month);
  const used = new Set(monthUnits.flatMap((unit) => unit.result.scenesUsed));
  const output: MonthOutput = {
    month: month.month,
    grid,
    bandNames: request.bands,
    tiles: monthUnits.map((unit) => ({ window: unit.window, workFile: unit.payload.workFile })),
    acquisitions: month.scenes.filter((scene) => used.has(scene.item.itemId)).map((scene) => scene.item.datetime),
    sources: month.scenes.map((scene) => scene.item.itemId).filter((id) => used.has(id)),
    collection: request.collection,
  };
  if (output.sources.length === 0) return undefined;
  return writeMonth(ctx.store, output, ctx.signal);
}

async function run(inputs: Record<string, unknown>, ctx: RunContext) {
  const request = toMosaicRequest(inputs);
  const items = await findScenes(request, ctx);
  const signing = signingConfigFor(request.stacApi, request.collection);
  const scenes: Scene[] = await Promise.all(
    items.map(async (item) => {
      const resolved = resolveItemBands(item, request.bands);
      return { item: resolved, bbox: (item.bbox ?? [-180, -90, 180, 90]).slice(0, 4) as Bbox, bands: await sceneBands(resolved, request, signing, ctx) };
    }),
  );
  const grid = outputGrid(request);
  const months = groupByMonth(scenes, (scene) => scene.item.datetime);
  const units = tilePayloads(months, grid, request, signing);
  ctx.progress(SEARCH_DONE, `${items.length} scenes in ${months.length} month(s): ${units.length} work units on a ${grid.width} × ${grid.height} grid`);

  // A month's COGs are written as soon as its last unit is done, while the other months are still compositing;
  // one month at a time, since each holds its full-grid bands while they are encoded.
  const results = new Array<TileResult>(units.length);
  const unitsLeft = new Map<string, number>();
  for (const unit of units) unitsLeft.set(unit.payload.month, (unitsLeft.get(unit.payload.month) ?? 0) + 1);
  const steps = units.length + unitsLeft.size;
  let stepsDone = 0;
  const step = (message: string) => ctx.progress(SEARCH_DONE + ((WRITTEN - SEARCH_DONE) * ++stepsDone) / steps, message);
  const writes = new Map<string, Promise<MosaicItemInput | undefined>>();
  let lastWrite: Promise<unknown> = Promise.resolve();
  let writeFailure: { error: unknown } | undefined;
  const writeWhenComplete = (month: MonthGroup<Scene>) => {
    const write = lastWrite.then(async () => {
      if (writeFailure) throw writeFailure.error;
      const item = await writeMonthOf(month, units, results, grid, request, ctx);
      step(`wrote monthly-mosaic-${month.month}`);
      return item;
    });
    write.catch((error: unknown) => {
      writeFailure ??= { error };
    });
    lastWrite = write.catch(() => undefined);
    writes.set(month.month, write);
  };
  try {
    await ctx.map<TilePayload, TileResult>(
      'tile',
      units.map((unit) => unit.payload),
      (index, result) => {
        // A failed write fails the job now: throwing here cancels the units still queued or running.
        if (writeFailure) throw writeFailure.error;
        results[index] = result;
        const { month, label } = units[index].payload;
        step(`composited ${label}`);
        unitsLeft.set(month, unitsLeft.get(month)! - 1);
        if (unitsLeft.get(month) === 0) writeWhenComplete(months.find((group) => group.month === month)!);
      },
      { groups: units.map((unit) => unit.payload.month) }, // a month's units share its scenes' source tiles
    );
  } finally {
    // Let a write in progress end (on abort it stops between tiles) before a failure or dismissal goes up.
    await lastWrite;
  }
  const mosaicItems: MosaicItemInput[] = [];
  for (const month of months) {
    const item = await writes.get(month.month);
    if (item) mosaicItems.push(item);
  }
  await rm(ctx.store.path(WORK_FOLDER), { recursive: true, force: true });
  await writeCatalog((relative, data) => ctx.store.writeFile(relative, data), { items: mosaicItems });
  const bytesRead = results.reduce((sum, r) => sum + r.bytesRead, 0);
  ctx.progress(100, `${mosaicItems.length} monthly mosaic(s) from ${items.length} scenes; ${(bytesRead / 2 ** 20).toFixed(1)} MiB read`);
  return { 'stac-catalog': { href: ctx.store.href('catalog.json'), type: 'application/json', rel: 'related', title: 'STAC catalog of the monthly mosaics' } };
}

const cloudlessMosaic: ProcessPlugin = {
  description: description as ProcessDescription,
  check: (inputs) => checkMosaicInputs(inputs),
  run,
  units: { tile: compositeTile },
};

export default cloudlessMosaic;
