import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeCog } from '../../src/raster/cog-writer';
import { trueColor } from '../../src/raster/true-color';
import type { Grid } from '../../src/raster/types';
import type { OutputStore } from '../../src/ogc/process';
import { bandStatistics, monthlyMosaicPaths, type MosaicItemInput } from '../../src/stac/writer';
import { NODATA } from './tile';

export interface TileWindow {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Copies each tile's bands (written by the work units) into full-image bands, then deletes the tile files. */
async function readTiles(store: OutputStore, grid: Grid, bandCount: number, tiles: { window: TileWindow; workFile: string }[]): Promise<Uint16Array[]> {
  const bands = Array.from({ length: bandCount }, () => new Uint16Array(grid.width * grid.height));
  for (const { window, workFile } of tiles) {
    const bytes = await readFile(store.path(workFile));
    const tile = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
    const pixels = window.width * window.height;
    for (let band = 0; band < bandCount; band++) {
      for (let row = 0; row < window.height; row++) {
        const from = band * pixels + row * window.width;
        bands[band].set(tile.subarray(from, from + window.width), (window.y + row) * grid.width + window.x);
      }
    }
    await rm(store.path(workFile), { force: true });
  }
  return bands;
}

export interface MonthOutput {
  month: string;
  grid: Grid;
  bandNames: string[];
  tiles: { window: TileWindow; workFile: string }[];
  acquisitions: string[];
  sources: string[];
  collection: string;
}

/**
 * Writes the month's data COG (and the RGBA visual for three bands) and returns its STAC item input. Once `signal`
 * is aborted (the job dismissed) it creates nothing more in the job folder, which may already be gone.
 */
export async function writeMonth(store: OutputStore, output: MonthOutput, signal: AbortSignal): Promise<MosaicItemInput> {
  const paths = monthlyMosaicPaths(output.month);
  const bands = await readTiles(store, output.grid, output.bandNames.length, output.tiles);
  signal.throwIfAborted();
  await mkdir(path.dirname(store.path(paths.data)), { recursive: true });
  await writeCog(store.path(paths.data), {
    grid: output.grid,
    dataType: 'uint16',
    bands,
    nodata: NODATA,
    bandDescriptions: output.bandNames,
    overviewResampling: 'average',
  }, { signal });
  const visual = bands.length === 3;
  if (visual) {
    const rgba = trueColor(bands[0], bands[1], bands[2], { nodata: NODATA });
    await writeCog(store.path(paths.visual), {
      grid: output.grid,
      dataType: 'uint8',
      bands: rgba,
      photometric: 'rgb',
      extraSampleAlpha: true,
      bandDescriptions: ['red', 'green', 'blue', 'alpha'],
      overviewResampling: 'nearest',
    }, { signal });
  }
  return {
    month: output.month,
    grid: output.grid,
    dataType: 'uint16',
    bands: output.bandNames.map((name, i) => ({ name, commonName: name, nodata: NODATA, statistics: bandStatistics(bands[i], NODATA) })),
    acquisitions: output.acquisitions,
    sources: output.sources.map((id) => ({ id })),
    sourceCollection: output.collection,
    visual,
  };
}

