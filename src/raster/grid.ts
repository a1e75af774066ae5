import { transformer } from './crs';
import type { GeoTransform, Grid } from './types';

export type Bbox = [number, number, number, number];

/** Points along the edges of a rectangle, `perEdge` on each edge (corners included once). */
export function densifyRing([minX, minY, maxX, maxY]: Bbox, perEdge = 21): [number, number][] {
  const ring: [number, number][] = [];
  const steps = perEdge - 1;
  for (let i = 0; i < steps; i++) ring.push([minX + ((maxX - minX) * i) / steps, minY]);
  for (let i = 0; i < steps; i++) ring.push([maxX, minY + ((maxY - minY) * i) / steps]);
  for (let i = 0; i < steps; i++) ring.push([maxX - ((maxX - minX) * i) / steps, maxY]);
  for (let i = 0; i < steps; i++) ring.push([minX, maxY - ((maxY - minY) * i) / steps]);
  return ring;
}

function boundsOf(points: [number, number][]): Bbox {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/**
 * The output grid of a WGS84 bounding box in `epsg` at `resolution` CRS units: the box's edges densified
 * (21 points each) and projected, the bounds snapped outwards to multiples of the resolution. Pixel-is-area.
 */
export function gridForBbox(bbox: Bbox, epsg: number, resolution: number): Grid {
  const toTarget = transformer(4326, epsg);
  const [minX, minY, maxX, maxY] = boundsOf(densifyRing(bbox).map(([x, y]) => toTarget(x, y)));
  const left = Math.floor(minX / resolution) * resolution;
  const bottom = Math.floor(minY / resolution) * resolution;
  const right = Math.ceil(maxX / resolution) * resolution;
  const top = Math.ceil(maxY / resolution) * resolution;
  return {
    epsg,
    transform: [left, resolution, 0, top, 0, -resolution],
    width: Math.round((right - left) / resolution),
    height: Math.round((top - bottom) / resolution),
  };
}

/** Bounds of a grid in its own CRS. */
export function gridBounds({ transform, width, height }: Grid): Bbox {
  const [originX, pixelWidth, , originY, , pixelHeight] = transform;
  const xs = [originX, originX + width * pixelWidth];
  const ys = [originY, originY + height * pixelHeight];
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/** The grid's footprint as a WGS84 ring (closed, densified edges) and its WGS84 bounding box. */
export function gridFootprintWgs84(grid: Grid): { ring: [number, number][]; bbox: Bbox } {
  const toWgs84 = transformer(grid.epsg, 4326);
  const ring = densifyRing(gridBounds(grid)).map(([x, y]) => toWgs84(x, y));
  ring.push(ring[0]);
  return { ring, bbox: boundsOf(ring) };
}

/** A window of a grid (pixel offsets and size) as a grid of its own. */
export function subGrid(grid: Grid, x: number, y: number, width: number, height: number): Grid {
  const [originX, a, b, originY, d, e] = grid.transform;
  const transform: GeoTransform = [originX + x * a + y * b, a, b, originY + x * d + y * e, d, e];
  return { epsg: grid.epsg, transform, width, height };
}

/**
 * Splits a grid into windows of at most `tileSize` pixels a side, row by row in alternating directions
 * (left to right, then right to left), so that consecutive windows are always neighbours: work done in this
 * order finds the source tiles it shares with the previous window still in a cache.
 */
export function tileWindows(grid: Grid, tileSize: number): { x: number; y: number; width: number; height: number }[] {
  const windows = [];
  for (let y = 0, row = 0; y < grid.height; y += tileSize, row++) {
    const rowWindows = [];
    for (let x = 0; x < grid.width; x += tileSize) {
      rowWindows.push({ x, y, width: Math.min(tileSize, grid.width - x), height: Math.min(tileSize, grid.height - y) });
    }
    windows.push(...(row % 2 === 0 ? rowWindows : rowWindows.reverse()));
  }
  return windows;
}
