import { execFileSync } from 'node:child_process';
import { densifyRing, gridBounds, gridForBbox, gridFootprintWgs84, subGrid, tileWindows } from '../src/raster/grid';
import { utmEpsgFor } from '../src/raster/crs';

const REFERENCE_AOI: [number, number, number, number] = [-122.27508544921875, 47.54687159892238, -121.96128845214844, 47.745787772920934];

describe('output grid', () => {
  test('densifies every edge with 21 points', () => {
    const ring = densifyRing([0, 0, 1, 1]);
    expect(ring).toHaveLength(80);
    expect(ring.filter(([x, y]) => y === 0 && x >= 0 && x <= 1)).toHaveLength(21);
  });

  test('the reference AOI falls in UTM zone 10N', () => {
    expect(utmEpsgFor(-122.1, 47.6)).toBe(32610);
    expect(utmEpsgFor(-119.9, -33)).toBe(32711);
  });

  test('snaps bounds outwards to multiples of the resolution and covers the AOI', () => {
    const grid = gridForBbox(REFERENCE_AOI, 32610, 100);
    const [left, bottom, right, top] = gridBounds(grid);
    for (const edge of [left, bottom, right, top]) expect(edge % 100).toBe(0);
    expect(grid.transform).toEqual([left, 100, 0, top, 0, -100]);
    const { bbox } = gridFootprintWgs84(grid);
    expect(bbox[0]).toBeLessThanOrEqual(REFERENCE_AOI[0]);
    expect(bbox[1]).toBeLessThanOrEqual(REFERENCE_AOI[1]);
    expect(bbox[2]).toBeGreaterThanOrEqual(REFERENCE_AOI[2]);
    expect(bbox[3]).toBeGreaterThanOrEqual(REFERENCE_AOI[3]);
  });

  test('matches GDAL projecting the same densified edges', () => {
    const grid = gridForBbox(REFERENCE_AOI, 32610, 10);
    const input = densifyRing(REFERENCE_AOI).map(([x, y]) => `${x} ${y}`).join('\n');
    const projected = execFileSync('gdaltransform', ['-s_srs', 'EPSG:4326', '-t_srs', 'EPSG:32610', '-output_xy'], {
      input,
      env: { ...process.env, OGR_CT_FORCE_TRADITIONAL_GIS_ORDER: 'YES' },
    })
      .toString()
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/).map(Number));
    const minX = Math.floor(Math.min(...projected.map((p) => p[0])) / 10) * 10;
    const maxY = Math.ceil(Math.max(...projected.map((p) => p[1])) / 10) * 10;
    expect(grid.transform[0]).toBe(minX);
    expect(grid.transform[3]).toBe(maxY);
    expect(grid.width).toBe(Math.ceil(Math.max(...projected.map((p) => p[0])) / 10) - minX / 10);
  });

  test('tiles cover the grid exactly once and sub-grids keep the georeferencing', () => {
    const grid = { epsg: 32610, transform: [500000, 10, 0, 5270000, 0, -10] as [number, number, number, number, number, number], width: 1100, height: 700 };
    const windows = tileWindows(grid, 512);
    expect(windows).toHaveLength(6);
    // Row by row in alternating directions, so consecutive windows are neighbours.
    expect(windows.map((w) => [w.x, w.y])).toEqual([[0, 0], [512, 0], [1024, 0], [1024, 512], [512, 512], [0, 512]]);
    expect(windows.reduce((sum, w) => sum + w.width * w.height, 0)).toBe(1100 * 700);
    expect(subGrid(grid, 512, 512, 588, 188).transform).toEqual([505120, 10, 0, 5264880, 0, -10]);
  });
});
