/** Shared raster vocabulary of the engine. The engine knows nothing of HTTP jobs. */

export type DataType = 'uint8' | 'uint16' | 'int16' | 'float32';
export type TypedArrayOf = Uint8Array | Uint16Array | Int16Array | Float32Array;

/** GDAL order: [originX, pixelWidth, rowRotation, originY, columnRotation, -pixelHeight]; pixel-is-area (origin = outer corner of pixel 0,0). */
export type GeoTransform = [number, number, number, number, number, number];

/** An output grid: CRS + affine transform + shape. */
export interface Grid {
  epsg: number;
  transform: GeoTransform;
  width: number;
  height: number;
}

export type Resampling = 'nearest' | 'bilinear';
