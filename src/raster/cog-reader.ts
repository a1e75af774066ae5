import os from 'node:os';
import { decodeTile, type TileLayout } from './codecs';
import { DecodePool } from './decode-pool';
import { defaultRangeClient, type RangeClient, type TransferStats } from './http-client';
import { defaultTileCache, type TileCache } from './tile-cache';
import { decodeDeferred, deferredByteLength, parseTiffHeader, Tag, type DeferredArray, type Ifd, type TiffHeader } from './tiff-header';
import type { DataType, GeoTransform, TypedArrayOf } from './types';

/** Decodes one compressed tile; the default spreads the work over a worker pool. */
export type TileDecoder = (bytes: Uint8Array, layout: TileLayout) => Promise<TypedArrayOf>;

/** One resolution level of a COG: level 0 is full resolution, then the overviews from finest to coarsest. */
export interface CogLevel {
  index: number;
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
  tilesAcross: number;
  tilesDown: number;
  geoTransform: GeoTransform;
  compression: number;
  predictor: number;
}

export interface CogInfo {
  url: string;
  width: number;
  height: number;
  bandCount: number;
  dataType: DataType;
  nodata: number | undefined;
  /** Undefined when the file carries a user-defined CRS. */
  epsg: number | undefined;
  /** Pixel-is-area transform of level 0 (a PixelIsPoint file is shifted by half a pixel, as GDAL does). */
  geoTransform: GeoTransform;
  pixelIsPoint: boolean;
  bigTiff: boolean;
  littleEndian: boolean;
  planarConfiguration: 1 | 2;
  levels: CogLevel[];
  /** Bytes of the file prefix read to parse the header. */
  headerBytes: number;
}

export interface PixelWindow {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ReadSettings {
  signal?: AbortSignal;
  client?: RangeClient;
  cache?: TileCache;
  stats?: TransferStats;
  decoder?: TileDecoder;
}

export interface WindowReadOptions extends ReadSettings {
  /** Zero-based band to return. */
  band?: number;
  /** Value of window pixels outside the level; defaults to the nodata value, else 0. */
  fill?: number;
}

interface TileIndex {
  offsets: number[];
  byteCounts: number[];
}

interface LevelInternals {
  level: CogLevel;
  ifd: Ifd;
  layout: TileLayout;
  tileIndex?: Promise<TileIndex>;
}

const HEADER_PREFETCH_BYTES = 64 * 1024;

export function dataTypeOf(bitsPerSample: number, sampleFormat: number): DataType {
  if (bitsPerSample === 8 && sampleFormat === 1) return 'uint8';
  if (bitsPerSample === 16 && sampleFormat === 1) return 'uint16';
  if (bitsPerSample === 16 && sampleFormat === 2) return 'int16';
  if (bitsPerSample === 32 && sampleFormat === 3) return 'float32';
  throw new Error(`unsupported sample type: ${bitsPerSample} bits, SampleFormat ${sampleFormat}`);
}

export function allocateRaster(dataType: DataType, length: number): TypedArrayOf {
  switch (dataType) {
    case 'uint8':
      return new Uint8Array(length);
    case 'uint16':
      return new Uint16Array(length);
    case 'int16':
      return new Int16Array(length);
    case 'float32':
      return new Float32Array(length);
  }
}

function numbers(ifd: Ifd, tag: number): number[] | undefined {
  const value = ifd.values.get(tag);
  return Array.isArray(value) ? value : undefined;
}

function first(ifd: Ifd, tag: number, fallback?: number): number {
  const value = numbers(ifd, tag)?.[0] ?? fallback;
  if (value === undefined) throw new Error(`TIFF tag ${tag} missing`);
  return value;
}

interface GeoKeys {
  epsg: number | undefined;
  pixelIsPoint: boolean;
}

/** EPSG code and raster type from the GeoKeyDirectory (only keys stored inline are needed here). */
function readGeoKeys(ifd: Ifd): GeoKeys {
  const directory = numbers(ifd, Tag.GeoKeyDirectory);
  const keys = new Map<number, number>();
  if (directory) {
    const keyCount = directory[3];
    for (let i = 0; i < keyCount; i++) {
      const [id, location, , value] = directory.slice(4 + 4 * i, 8 + 4 * i);
      if (location === 0) keys.set(id, value);
    }
  }
  const modelType = keys.get(1024);
  const code = modelType === 2 ? keys.get(2048) : (keys.get(3072) ?? keys.get(2048));
  return { epsg: code !== undefined && code > 0 && code < 32767 ? code : undefined, pixelIsPoint: keys.get(1025) === 2 };
}

function readGeoTransform(ifd: Ifd, pixelIsPoint: boolean): GeoTransform {
  const matrix = numbers(ifd, Tag.ModelTransformation);
  let transform: GeoTransform;
  if (matrix && matrix.length >= 16) {
    transform = [matrix[3], matrix[0], matrix[1], matrix[7], matrix[4], matrix[5]];
  } else {
    const scale = numbers(ifd, Tag.ModelPixelScale);
    const tiepoint = numbers(ifd, Tag.ModelTiepoint);
    if (!scale || !tiepoint) throw new Error('the TIFF is not georeferenced');
    const [i, j, , x, y] = tiepoint;
    transform = [x - i * scale[0], scale[0], 0, y + j * scale[1], 0, -scale[1]];
  }
  if (pixelIsPoint) {
    // GDAL's default (GTIFF_POINT_GEO_IGNORE=NO): the tie point names a pixel centre; move it to the corner.
    transform[0] -= 0.5 * transform[1] + 0.5 * transform[2];
    transform[3] -= 0.5 * transform[4] + 0.5 * transform[5];
  }
  return transform;
}

function readNodata(ifd: Ifd): number | undefined {
  const text = ifd.values.get(Tag.GdalNodata);
  if (typeof text !== 'string' || text.trim() === '') return undefined;
  const value = text.trim().toLowerCase() === 'nan' ? NaN : Number(text.trim());
  return Number.isNaN(value) && text.trim().toLowerCase() !== 'nan' ? undefined : value;
}

function isMask(ifd: Ifd): boolean {
  return ((numbers(ifd, Tag.NewSubfileType)?.[0] ?? 0) & 4) !== 0;
}

function levelOf(ifd: Ifd, index: number, base: { width: number; height: number; geoTransform: GeoTransform }, littleEndian: boolean): LevelInternals {
  const width = first(ifd, Tag.ImageWidth);
  const height = first(ifd, Tag.ImageLength);
  const tiled = ifd.values.has(Tag.TileWidth);
  const tileWidth = tiled ? first(ifd, Tag.TileWidth) : width;
  const tileHeight = tiled ? first(ifd, Tag.TileLength) : Math.min(height, first(ifd, Tag.RowsPerStrip, height));
  const samplesPerPixel = first(ifd, Tag.SamplesPerPixel, 1);
  const sampleFormat = first(ifd, Tag.SampleFormat, 1);
  const planarConfiguration = first(ifd, Tag.PlanarConfiguration, 1);
  const compression = first(ifd, Tag.Compression, 1);
  const predictor = first(ifd, Tag.Predictor, 1);
  const [x0, a, b, y0, d, e] = base.geoTransform;
  const sx = base.width / width;
  const sy = base.height / height;
  const level: CogLevel = {
    index,
    width,
    height,
    tileWidth,
    tileHeight,
    tilesAcross: Math.ceil(width / tileWidth),
    tilesDown: Math.ceil(height / tileHeight),
    geoTransform: [x0, a * sx, b * sy, y0, d * sx, e * sy],
    compression,
    predictor,
  };
  const layout: TileLayout = {
    width: tileWidth,
    height: tileHeight,
    samplesPerPixel,
    bitsPerSample: first(ifd, Tag.BitsPerSample),
    sampleFormat: sampleFormat as 1 | 2 | 3,
    planarConfiguration: planarConfiguration as 1 | 2,
    predictor: predictor as 1 | 2 | 3,
    compression,
    littleEndian,
  };
  return { level, ifd, layout };
}

function describe(url: string, header: TiffHeader): { info: CogInfo; levels: LevelInternals[] } {
  const images = header.ifds.filter((ifd) => !isMask(ifd));
  if (images.length === 0) throw new Error('the TIFF has no image');
  const [main, ...overviews] = images;
  const { epsg, pixelIsPoint } = readGeoKeys(main);
  const base = { width: first(main, Tag.ImageWidth), height: first(main, Tag.ImageLength), geoTransform: readGeoTransform(main, pixelIsPoint) };
  const ordered = [main, ...overviews.filter((ifd) => first(ifd, Tag.ImageWidth) < base.width).sort((p, q) => first(q, Tag.ImageWidth) - first(p, Tag.ImageWidth))];
  const levels = ordered.map((ifd, index) => levelOf(ifd, index, base, header.littleEndian));
  const layout = levels[0].layout;
  const info: CogInfo = {
    url,
    width: base.width,
    height: base.height,
    bandCount: layout.samplesPerPixel,
    dataType: dataTypeOf(layout.bitsPerSample, layout.sampleFormat),
    nodata: readNodata(main),
    epsg,
    geoTransform: base.geoTransform,
    pixelIsPoint,
    bigTiff: header.bigTiff,
    littleEndian: header.littleEndian,
    planarConfiguration: layout.planarConfiguration,
    levels: levels.map((l) => l.level),
    headerBytes: header.prefix.length,
  };
  return { info, levels };
}

let sharedPool: DecodePool | undefined;

/** Decodes on a process-wide worker pool with one worker per core. */
export const poolDecoder: TileDecoder = (bytes, layout) => {
  sharedPool ??= new DecodePool(os.cpus().length);
  return sharedPool.decode(bytes, layout) as Promise<TypedArrayOf>;
};

/** Decodes on the calling thread. */
export const syncDecoder: TileDecoder = async (bytes, layout) => decodeTile(bytes, layout) as TypedArrayOf;

/** Stops the shared decode pool's workers (tests and scripts call this before exiting). */
export async function closeSharedDecodePool(): Promise<void> {
  const pool = sharedPool;
  sharedPool = undefined;
  if (pool) await pool.close();
}

/** Rejects when the signal aborts; resolves/rejects with the promise otherwise. */
function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

const MAX_OPEN_READERS = 512;
const openReaders = new Map<string, Promise<CogReader>>();

/**
 * Opens a COG: one prefix request (grown only if the IFDs extend past it), parsed once per URL and kept for
 * the process (the most recent 512 URLs).
 */
export function openCog(url: string, settings: ReadSettings = {}): Promise<CogReader> {
  let opening = openReaders.get(url);
  if (opening) {
    openReaders.delete(url);
    openReaders.set(url, opening);
  } else {
    opening = CogReader.open(url, settings.client ?? defaultRangeClient(), settings.stats);
    openReaders.set(url, opening);
    opening.catch(() => openReaders.delete(url));
    if (openReaders.size > MAX_OPEN_READERS) openReaders.delete(openReaders.keys().next().value as string);
  }
  return abortable(opening, settings.signal);
}

/** Forgets every parsed header (tests use this to count requests from a cold start). */
export function forgetOpenCogs(): void {
  openReaders.clear();
}

/** The parsed metadata of a COG. */
export async function readInfo(url: string, settings: ReadSettings = {}): Promise<CogInfo> {
  return (await openCog(url, settings)).info;
}

export class CogReader {
  private readonly inFlight = new Map<string, Promise<TypedArrayOf>>();

  private constructor(
    readonly info: CogInfo,
    private readonly levels: LevelInternals[],
    private readonly headerPrefix: Uint8Array,
  ) {}

  static async open(url: string, client: RangeClient, stats?: TransferStats): Promise<CogReader> {
    const header = await parseTiffHeader((offset, length) => client.read(url, { offset, length }, { stats }), HEADER_PREFETCH_BYTES);
    const { info, levels } = describe(url, header);
    return new CogReader(info, levels, header.prefix);
  }

  /** Reads one band of a window of a level; pixels of the window outside the level get `fill`. */
  async readWindow(levelIndex: number, window: PixelWindow, options: WindowReadOptions = {}): Promise<TypedArrayOf> {
    const internals = this.levels[levelIndex];
    if (!internals) throw new Error(`no level ${levelIndex}`);
    const band = options.band ?? 0;
    if (band < 0 || band >= this.info.bandCount) throw new Error(`no band ${band}`);
    const output = allocateRaster(this.info.dataType, window.width * window.height);
    const fill = options.fill ?? this.info.nodata ?? 0;
    if (fill !== 0) output.fill(fill);

    const { level } = internals;
    const x0 = Math.max(0, window.x);
    const y0 = Math.max(0, window.y);
    const x1 = Math.min(level.width, window.x + window.width);
    const y1 = Math.min(level.height, window.y + window.height);
    if (x0 >= x1 || y0 >= y1) return output;

    const tiles: { column: number; row: number }[] = [];
    for (let row = Math.floor(y0 / level.tileHeight); row <= Math.floor((y1 - 1) / level.tileHeight); row++) {
      for (let column = Math.floor(x0 / level.tileWidth); column <= Math.floor((x1 - 1) / level.tileWidth); column++) tiles.push({ column, row });
    }
    const paste = (tile: TypedArrayOf, column: number, row: number) => this.pasteTile(tile, column, row, internals, band, window, output);
    await this.loadTiles(internals, tiles, band, options, paste);
    return output;
  }

  /** Fetches (merged), decodes and pastes the tiles not in the cache; each tile is pasted as soon as it is decoded. */
  private async loadTiles(
    internals: LevelInternals,
    tiles: { column: number; row: number }[],
    band: number,
    options: WindowReadOptions,
    paste: (tile: TypedArrayOf, column: number, row: number) => void,
  ): Promise<void> {
    const cache = options.cache ?? defaultTileCache();
    const { level, layout } = internals;
    const planar = layout.planarConfiguration === 2 && layout.samplesPerPixel > 1;
    const tileLayout: TileLayout = planar ? { ...layout, samplesPerPixel: 1 } : layout;
    const pending: Promise<void>[] = [];
    const missing: { key: string; column: number; row: number; tileNumber: number }[] = [];
    for (const { column, row } of tiles) {
      const tileNumber = (planar ? band * level.tilesAcross * level.tilesDown : 0) + row * level.tilesAcross + column;
      const key = `${this.info.url}|${level.index}|${tileNumber}`;
      const cached = cache.get(key);
      const inFlight = this.inFlight.get(key);
      if (cached) paste(cached, column, row);
      else if (inFlight) pending.push(abortable(inFlight, options.signal).then((tile) => paste(tile, column, row)));
      else missing.push({ key, column, row, tileNumber });
    }
    if (missing.length > 0) {
      const index = await abortable(this.tileIndex(internals, options), options.signal);
      const client = options.client ?? defaultRangeClient();
      const decoder = options.decoder ?? poolDecoder;
      const withData = missing.filter((tile) => index.byteCounts[tile.tileNumber] > 0);
      const ranges = withData.map((tile) => ({ offset: index.offsets[tile.tileNumber], length: index.byteCounts[tile.tileNumber] }));
      const bodies = client.readRanges(this.info.url, ranges, { signal: options.signal, stats: options.stats });
      withData.forEach((tile, i) => {
        const decoded = bodies[i].then((bytes) => decoder(bytes, tileLayout));
        this.track(tile.key, decoded, cache);
        pending.push(decoded.then((data) => paste(data, tile.column, tile.row)));
      });
      for (const tile of missing.filter((t) => index.byteCounts[t.tileNumber] === 0)) {
        // A sparse tile (no bytes): GDAL reads it as nodata, else 0.
        const empty = allocateRaster(this.info.dataType, level.tileWidth * level.tileHeight * tileLayout.samplesPerPixel);
        if (this.info.nodata !== undefined && this.info.nodata !== 0) empty.fill(this.info.nodata);
        paste(empty, tile.column, tile.row);
      }
    }
    await Promise.all(pending);
  }

  private track(key: string, decoded: Promise<TypedArrayOf>, cache: TileCache): void {
    this.inFlight.set(key, decoded);
    decoded.then(
      (tile) => {
        cache.set(key, tile);
        this.inFlight.delete(key);
      },
      () => this.inFlight.delete(key),
    );
  }

  private pasteTile(tile: TypedArrayOf, column: number, row: number, internals: LevelInternals, band: number, window: PixelWindow, output: TypedArrayOf): void {
    const { level, layout } = internals;
    const samples = layout.planarConfiguration === 2 ? 1 : layout.samplesPerPixel;
    const tileX = column * level.tileWidth;
    const tileY = row * level.tileHeight;
    const fromX = Math.max(tileX, window.x, 0);
    const toX = Math.min(tileX + level.tileWidth, window.x + window.width, level.width);
    const fromY = Math.max(tileY, window.y, 0);
    const toY = Math.min(tileY + level.tileHeight, window.y + window.height, level.height);
    const runLength = toX - fromX;
    for (let y = fromY; y < toY; y++) {
      const source = ((y - tileY) * level.tileWidth + (fromX - tileX)) * samples;
      const target = (y - window.y) * window.width + (fromX - window.x);
      if (samples === 1) {
        output.set(tile.subarray(source, source + runLength), target);
      } else {
        for (let i = 0; i < runLength; i++) output[target + i] = tile[source + i * samples + band];
      }
    }
  }

  /** The level's tile offsets and byte counts: from the header prefix if held there, else one range request. */
  private tileIndex(internals: LevelInternals, settings: ReadSettings): Promise<TileIndex> {
    internals.tileIndex ??= this.loadTileIndex(internals, settings);
    internals.tileIndex.catch(() => (internals.tileIndex = undefined));
    return internals.tileIndex;
  }

  private async loadTileIndex({ ifd }: LevelInternals, settings: ReadSettings): Promise<TileIndex> {
    const tiled = ifd.values.has(Tag.TileWidth) || ifd.deferred.has(Tag.TileOffsets);
    const offsetsTag = tiled ? Tag.TileOffsets : Tag.StripOffsets;
    const countsTag = tiled ? Tag.TileByteCounts : Tag.StripByteCounts;
    const offsets = numbers(ifd, offsetsTag);
    const counts = numbers(ifd, countsTag);
    const deferred = [ifd.deferred.get(offsetsTag), ifd.deferred.get(countsTag)];
    if ((!offsets && !deferred[0]) || (!counts && !deferred[1])) throw new Error('TIFF without tile offsets');
    const arrays = await this.readDeferred(deferred, settings);
    return { offsets: offsets ?? arrays[0]!, byteCounts: counts ?? arrays[1]! };
  }

  private async readDeferred(arrays: (DeferredArray | undefined)[], settings: ReadSettings): Promise<(number[] | undefined)[]> {
    const { littleEndian } = this.info;
    const outside = arrays.filter((a): a is DeferredArray => a !== undefined && a.offset + deferredByteLength(a) > this.headerPrefix.length);
    const client = settings.client ?? defaultRangeClient();
    const fetched = client.readRanges(
      this.info.url,
      outside.map((a) => ({ offset: a.offset, length: deferredByteLength(a) })),
      { signal: settings.signal, stats: settings.stats },
    );
    return Promise.all(
      arrays.map(async (array) => {
        if (!array) return undefined;
        const position = outside.indexOf(array);
        if (position < 0) return decodeDeferred(array, this.headerPrefix, 0, littleEndian);
        return decodeDeferred(array, await fetched[position], array.offset, littleEndian);
      }),
    );
  }
}
