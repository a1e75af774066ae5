import { execFileSync } from 'node:child_process';
import type { DataType, Grid, TypedArrayOf } from '../../src/raster/types';

/** The system Python that has GDAL's bindings and numpy. */
export const PYTHON = '/usr/bin/python3';

/** Runs a Python script (given as text) with arguments; returns its stdout. */
export function runPython(script: string, args: string[] = [], maxBuffer = 512 * 1024 * 1024): Buffer {
  return execFileSync(PYTHON, ['-c', script, ...args], { maxBuffer, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function typedFromBytes(bytes: Buffer, dataType: DataType): TypedArrayOf {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  switch (dataType) {
    case 'uint8':
      return copy;
    case 'uint16':
      return new Uint16Array(copy.buffer);
    case 'int16':
      return new Int16Array(copy.buffer);
    case 'float32':
      return new Float32Array(copy.buffer);
  }
}

const WARP_SCRIPT = `
import sys, json
from osgeo import gdal
gdal.UseExceptions()
src, grid, resampling, nodata = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], float(sys.argv[4])
t = grid['transform']
bounds = (t[0], t[3] + grid['height'] * t[5], t[0] + grid['width'] * t[1], t[3])
ds = gdal.Warp('', src, format='MEM', dstSRS='EPSG:%d' % grid['epsg'], outputBounds=bounds,
               xRes=t[1], yRes=-t[5], resampleAlg=resampling, dstNodata=nodata)
sys.stdout.buffer.write(ds.GetRasterBand(1).ReadAsArray().tobytes())
`;

/** What `gdalwarp -t_srs EPSG:x -te … -tr … -r <resampling> -dstnodata <nodata>` makes of `source` on `grid`. */
export function gdalWarpToGrid(source: string, grid: Grid, resampling: 'near' | 'bilinear', nodata: number, dataType: DataType): TypedArrayOf {
  return typedFromBytes(runPython(WARP_SCRIPT, [source, JSON.stringify(grid), resampling, String(nodata)]), dataType);
}

/** Number of positions where two arrays differ (NaN equals NaN). */
export function countDifferences(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let differences = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) differences++;
  return differences;
}
