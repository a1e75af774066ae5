/**
 * A row transformer that approximates an exact (expensive) point transform by linear interpolation, following
 * GDAL's GDALApproxTransform: the first, middle and last points of a row are transformed exactly; if the middle
 * one is within `maxError` (sum of x and y errors, in output units) of the straight line through the ends,
 * every point is interpolated, otherwise the row is split in two and each half handled the same way.
 * Reproducing GDAL's split points and arithmetic makes the results match gdalwarp's source pixel positions.
 */

/** An exact point transform; returns NaN coordinates for a point it cannot transform. */
export type PointTransform = (x: number, y: number) => readonly [number, number];

/** Transforms `count` points of a row in place (all points must share y, x increasing). */
export type RowTransform = (xs: Float64Array, ys: Float64Array, count: number) => void;

/** GDAL's default error threshold for gdalwarp, in source pixels. */
export const DEFAULT_MAX_ERROR = 0.125;

type Triple = [number, number, number];

export function createApproxTransformer(exact: PointTransform, maxError = DEFAULT_MAX_ERROR): RowTransform {
  const transformRange = (xs: Float64Array, ys: Float64Array, start: number, count: number) => {
    for (let i = start; i < start + count; i++) {
      const [x, y] = exact(xs[i], ys[i]);
      xs[i] = x;
      ys[i] = y;
    }
  };
  const failed = (point: readonly [number, number]) => !Number.isFinite(point[0]) || !Number.isFinite(point[1]);

  /** Handles points [s, s + n) whose start, middle and end are already transformed (sx, sy). */
  const approximate = (xs: Float64Array, ys: Float64Array, s: number, n: number, sx: Triple, sy: Triple): void => {
    const middle = (n - 1) >> 1;
    const span = xs[s + n - 1] - xs[s];
    const deltaX = (sx[2] - sx[0]) / span;
    const deltaY = (sy[2] - sy[0]) / span;
    const error = Math.abs(sx[0] + deltaX * (xs[s + middle] - xs[s]) - sx[1]) + Math.abs(sy[0] + deltaY * (xs[s + middle] - xs[s]) - sy[1]);
    if (error > maxError) {
      split(xs, ys, s, n, sx, sy);
      return;
    }
    const x0 = xs[s];
    for (let i = n - 1; i >= 0; i--) {
      const distance = xs[s + i] - x0;
      xs[s + i] = sx[0] + deltaX * distance;
      ys[s + i] = sy[0] + deltaY * distance;
    }
  };

  const split = (xs: Float64Array, ys: Float64Array, s: number, n: number, sx: Triple, sy: Triple): void => {
    const middle = (n - 1) >> 1;
    const quarter = s + ((middle - 1) >> 1);
    const beforeMiddle = s + middle - 1;
    const threeQuarters = s + middle + ((n - middle - 1) >> 1);
    const end = s + n - 1;
    const exactFirstHalf =
      middle <= 5 || ys[s] !== ys[beforeMiddle] || ys[s] !== ys[quarter] || xs[s] === xs[beforeMiddle] || xs[s] === xs[quarter];
    const exactSecondHalf =
      n - middle <= 5 || ys[s + middle] !== ys[end] || ys[s + middle] !== ys[threeQuarters] || xs[s + middle] === xs[end] || xs[s + middle] === xs[threeQuarters];

    const quarterPoint = exactFirstHalf ? undefined : exact(xs[quarter], ys[quarter]);
    const beforeMiddlePoint = exactFirstHalf ? undefined : exact(xs[beforeMiddle], ys[beforeMiddle]);
    const threeQuartersPoint = exactSecondHalf ? undefined : exact(xs[threeQuarters], ys[threeQuarters]);
    const anyFailed = [quarterPoint, beforeMiddlePoint, threeQuartersPoint].some((p) => p !== undefined && failed(p));
    if ((!exactFirstHalf || !exactSecondHalf) && anyFailed) {
      transformRange(xs, ys, s + 1, middle - 1);
      transformRange(xs, ys, s + middle + 1, n - middle - 2);
      setPoint(xs, ys, s, sx[0], sy[0]);
      setPoint(xs, ys, s + middle, sx[1], sy[1]);
      setPoint(xs, ys, end, sx[2], sy[2]);
      return;
    }
    if (exactFirstHalf) {
      transformRange(xs, ys, s + 1, middle - 1);
      setPoint(xs, ys, s, sx[0], sy[0]);
    } else {
      approximate(xs, ys, s, middle, [sx[0], quarterPoint![0], beforeMiddlePoint![0]], [sy[0], quarterPoint![1], beforeMiddlePoint![1]]);
    }
    if (exactSecondHalf) {
      transformRange(xs, ys, s + middle + 1, n - middle - 2);
      setPoint(xs, ys, s + middle, sx[1], sy[1]);
      setPoint(xs, ys, end, sx[2], sy[2]);
    } else {
      approximate(xs, ys, s + middle, n - middle, [sx[1], threeQuartersPoint![0], sx[2]], [sy[1], threeQuartersPoint![1], sy[2]]);
    }
  };

  return (xs, ys, count) => {
    const middle = (count - 1) >> 1;
    const last = count - 1;
    if (count <= 5 || maxError === 0 || ys[0] !== ys[last] || ys[0] !== ys[middle] || xs[0] === xs[last] || xs[0] === xs[middle]) {
      transformRange(xs, ys, 0, count);
      return;
    }
    const first = exact(xs[0], ys[0]);
    const center = exact(xs[middle], ys[middle]);
    const final = exact(xs[last], ys[last]);
    if (failed(first) || failed(center) || failed(final)) {
      transformRange(xs, ys, 0, count);
      return;
    }
    approximate(xs, ys, 0, count, [first[0], center[0], final[0]], [first[1], center[1], final[1]]);
  };
}

function setPoint(xs: Float64Array, ys: Float64Array, i: number, x: number, y: number): void {
  xs[i] = x;
  ys[i] = y;
}
