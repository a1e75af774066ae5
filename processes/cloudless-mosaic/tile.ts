import { setMaxListeners } from 'node:events';
import { medianComposite, sclValidMask, applyOffset } from '../../src/raster/composite';
import { readToGrid } from '../../src/raster/read-to-grid';
import type { Grid, Resampling } from '../../src/raster/types';
import type { UnitContext } from '../../src/ogc/process';
import { syncDecoder } from '../../src/raster/cog-reader';
import { RangeClient, defaultRangeClient } from '../../src/raster/http-client';
import { TileCache } from '../../src/raster/tile-cache';
import { NearestMapCache } from '../../src/raster/warp';
import { signerFor, type SigningConfig } from '../../src/stac/signing';

export const NODATA = 0;
/** Scenes read at once within one work unit: enough to keep the connections busy, few enough to bound memory. */
const SCENES_IN_FLIGHT = 4;

export interface SceneBands {
  id: string;
  /** One per requested band, in the requested order. */
  bands: { href: string; dnOffset: number }[];
  scl?: string;
}

/** One work unit: the median of one month over one output tile. */
export interface TilePayload {
  month: string;
  label: string;
  grid: Grid;
  scenes: SceneBands[];
  mask: number[];
  resampling: Resampling;
  /** Job-folder path where the tile's bands are written, band after band, as little-endian UInt16. */
  workFile: string;
  signing?: SigningConfig;
}

export interface TileResult {
  bytesRead: number;
  requests: number;
  scenesUsed: string[];
}

interface SceneLayers {
  id: string;
  bands: Uint16Array[];
  valid?: Uint8Array;
  bytesRead: number;
  requests: number;
}

/**
 * Units already run one per core, so each decodes on its own thread (no decode pool behind it). The units of
 * a month share source tiles, the pool keeps a thread on one month, and tiles come in serpentine order, so a
 * cache that holds about one row of a month's source tiles reads each one about once (the 10 m bench job:
 * 1.3× the unique bytes at 128 MiB, 1.5× at 96, 1.07× at 192 with more memory, on one thread).
 */
const unitTileCache = new TileCache(Number(process.env.UNIT_TILE_CACHE_MB || 128) * 2 ** 20);

/** One pooled client per signing configuration in this worker, so expired tokens are refreshed once for all units. */
const signedClients = new Map<string, RangeClient>();

function clientFor(signing: SigningConfig | undefined): RangeClient {
  if (!signing) return defaultRangeClient();
  const key = `${signing.tokenEndpoint} ${signing.collection}`;
  let client = signedClients.get(key);
  if (!client) {
    client = new RangeClient({ onForbidden: signerFor(signing).forbiddenHandler(signing.collection) });
    signedClients.set(key, client);
  }
  return client;
}

async function readScene(scene: SceneBands, payload: TilePayload, maps: NearestMapCache, ctx: UnitContext): Promise<SceneLayers> {
  const client = clientFor(payload.signing);
  const read = (href: string, resampling: Resampling) =>
    readToGrid(href, payload.grid, { resampling, nodata: NODATA, signal: ctx.signal, client, cache: unitTileCache, decoder: syncDecoder, maps });
  const bandReads = await Promise.all(scene.bands.map((band) => read(band.href, payload.resampling)));
  const bands = bandReads.map((result, i) => {
    const layer = result.data as Uint16Array;
    if (scene.bands[i].dnOffset !== 0) applyOffset(layer, scene.bands[i].dnOffset, NODATA);
    return layer;
  });
  const classes = payload.mask.length > 0 && scene.scl ? await read(scene.scl, 'nearest') : undefined;
  const all = classes ? [...bandReads, classes] : bandReads;
  return {
    id: scene.id,
    bands,
    valid: classes ? sclValidMask(classes.data as Uint8Array, payload.mask) : undefined,
    bytesRead: all.reduce((sum, r) => sum + r.bytesRead, 0),
    requests: all.reduce((sum, r) => sum + r.requests, 0),
  };
}

async function readScenes(payload: TilePayload, ctx: UnitContext): Promise<SceneLayers[]> {
  const layers: SceneLayers[] = [];
  const maps = new NearestMapCache();
  for (let i = 0; i < payload.scenes.length; i += SCENES_IN_FLIGHT) {
    ctx.signal.throwIfAborted();
    const batch = payload.scenes.slice(i, i + SCENES_IN_FLIGHT);
    layers.push(...(await Promise.all(batch.map((scene) => readScene(scene, payload, maps, ctx)))));
  }
  return layers;
}

function hasValidPixel(scene: SceneLayers): boolean {
  const { valid } = scene;
  return scene.bands.some((band) => {
    for (let i = 0; i < band.length; i++) if (band[i] !== NODATA && (!valid || valid[i])) return true;
    return false;
  });
}

/** Reads every scene over the tile, masks, composites each band, and writes the tile's bands to `workFile`. */
export async function compositeTile(payload: TilePayload, ctx: UnitContext): Promise<TileResult> {
  // Every concurrent range request listens on the unit's signal: scenes in flight × (bands + SCL) × requests each.
  setMaxListeners(0, ctx.signal);
  const read = await readScenes(payload, ctx);
  ctx.signal.throwIfAborted();
  // Scenes with no usable pixel on this tile (outside their swath, or all cloud) add nothing to the median.
  const scenes = read.filter(hasValidPixel);
  const bandCount = payload.scenes[0]?.bands.length ?? 0;
  const pixels = payload.grid.width * payload.grid.height;
  const output = new Uint16Array(pixels * bandCount);
  const valid = scenes.map((scene) => scene.valid);
  for (let band = 0; band < bandCount && scenes.length > 0; band++) {
    medianComposite(scenes.map((scene) => scene.bands[band]), {
      nodata: NODATA,
      valid,
      out: output.subarray(band * pixels, (band + 1) * pixels),
    });
  }
  await ctx.store.writeFile(payload.workFile, new Uint8Array(output.buffer));
  return {
    bytesRead: read.reduce((sum, s) => sum + s.bytesRead, 0),
    requests: read.reduce((sum, s) => sum + s.requests, 0),
    scenesUsed: scenes.map((scene) => scene.id),
  };
}
