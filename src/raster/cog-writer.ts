/**
 * Cloud-optimised GeoTIFF writer laid out as GDAL's COG driver does: tiled, pixel-interleaved, DEFLATE with
 * a predictor, internal overviews halving down to one tile, all IFDs before the data, tile data from the
 * smallest overview to full resolution, each tile framed by a 4-byte size leader and its last 4 bytes repeated.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { deflate, deflateSync } from 'node:zlib';
import { promisify } from 'node:util';
import { FieldType, serializeFileFront, type TagEntry } from './tiff/ifd-serializer';
import { geoKeyDirectory, transformTags } from './tiff/georeferencing';
import { downsampleLevel, overviewSizes, type OverviewResampling, type RasterLevel } from './tiff/overviews';
import { predictedTile, predictorFor, tileGridOf } from './tiff/tile-encoder';
import type { DataType, Grid, TypedArrayOf } from './types';
import { Tag } from './tiff/tags';

export interface CogInput {
  grid: Grid;
  dataType: DataType;
  /** One full-image array per band, band-sequential. */
  bands: TypedArrayOf[];
  nodata?: number;
  bandDescriptions?: string[];
  photometric?: 'minisblack' | 'rgb';
  /** The last band is unassociated alpha (RGBA). */
  extraSampleAlpha?: boolean;
  overviewResampling?: OverviewResampling;
}

export interface CogOptions {
  /** Default 512. */
  tileSize?: number;
  /** zlib level, default 6. */
  deflateLevel?: number;
  /** 'auto' (default) switches to BigTIFF when the file could pass 4 GiB. */
  bigTiff?: 'auto' | boolean;
  /** Tiles compressed at once on libuv's thread pool by writeCog (default 8). */
  concurrency?: number;
  /** writeCog stops between tiles once this is aborted, and leaves no file behind. */
  signal?: AbortSignal;
}


const COMPRESSION_DEFLATE = 8;
const PLANAR_CHUNKY = 1;
const SUBFILE_REDUCED_IMAGE = 1;
const EXTRA_SAMPLE_UNSPECIFIED = 0;
const EXTRA_SAMPLE_UNASSOCIATED_ALPHA = 2;
const TILE_FRAMING_BYTES = 8;
const CLASSIC_TIFF_LIMIT = 2 ** 32;

type ArrayConstructorOf = new (length: number) => TypedArrayOf;

const SAMPLE_TYPE: Record<DataType, { bits: number; format: number; array: ArrayConstructorOf; range: [number, number] }> = {
  uint8: { bits: 8, format: 1, array: Uint8Array, range: [0, 255] },
  uint16: { bits: 16, format: 1, array: Uint16Array, range: [0, 65535] },
  int16: { bits: 16, format: 2, array: Int16Array, range: [-32768, 32767] },
  float32: { bits: 32, format: 3, array: Float32Array, range: [-Infinity, Infinity] },
};

/** The COG driver's "ghost" header, read by GDAL and the COG validator. */
const STRUCTURAL_METADATA =
  'LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nBLOCK_LEADER=SIZE_AS_UINT4\nBLOCK_TRAILER=LAST_4_BYTES_REPEATED\nKNOWN_INCOMPATIBLE_EDITION=NO\n ';
const GHOST_AREA = `GDAL_STRUCTURAL_METADATA_SIZE=${String(STRUCTURAL_METADATA.length).padStart(6, '0')} bytes\n${STRUCTURAL_METADATA}`;

interface TileTask {
  level: number;
  column: number;
  row: number;
}

/** Everything about the file but the tile bytes. */
interface CogPlan {
  input: CogInput;
  tileSize: number;
  deflateLevel: number;
  bigTiff: boolean;
  /** Full resolution first, then overviews by decreasing size. */
  levels: RasterLevel[];
  /** In file order: smallest overview first, full resolution last, row-major within a level. */
  tasks: TileTask[];
  fill: number;
}

function validateInput(input: CogInput, tileSize: number): void {
  const { grid, bands, dataType } = input;
  if (bands.length === 0) throw new Error('a COG needs at least one band');
  if (tileSize % 16 !== 0 || tileSize <= 0) throw new Error(`tile size ${tileSize} is not a positive multiple of 16`);
  const pixels = grid.width * grid.height;
  for (const band of bands) {
    if (band.length !== pixels) throw new Error(`band of ${band.length} values for a ${grid.width}×${grid.height} grid`);
    if (!(band instanceof SAMPLE_TYPE[dataType].array)) throw new Error(`band array is not of data type ${dataType}`);
  }
  const [lowest, highest] = SAMPLE_TYPE[dataType].range;
  const { nodata } = input;
  if (nodata !== undefined && dataType !== 'float32' && !(Number.isInteger(nodata) && nodata >= lowest && nodata <= highest)) {
    throw new Error(`nodata ${nodata} is not a ${dataType} value`);
  }
  if (input.photometric === 'rgb' && bands.length < 3) throw new Error('RGB photometric needs at least 3 bands');
  if (input.bandDescriptions && input.bandDescriptions.length !== bands.length) throw new Error('one band description per band');
}

function buildLevels(input: CogInput, tileSize: number): RasterLevel[] {
  const levels: RasterLevel[] = [{ width: input.grid.width, height: input.grid.height, bands: input.bands }];
  for (let i = overviewSizes(input.grid.width, input.grid.height, tileSize).length; i > 0; i--) {
    levels.push(downsampleLevel(levels[levels.length - 1], input.dataType, input.overviewResampling ?? 'average', input.nodata));
  }
  return levels;
}

function tileTasksInFileOrder(levels: RasterLevel[], tileSize: number): TileTask[] {
  const tasks: TileTask[] = [];
  for (let level = levels.length - 1; level >= 0; level--) {
    const { across, down } = tileGridOf(levels[level], tileSize);
    for (let row = 0; row < down; row++) for (let column = 0; column < across; column++) tasks.push({ level, column, row });
  }
  return tasks;
}

/**
 * Whether a COG of this shape could pass 4 GiB: the uncompressed tiles of every level plus DEFLATE's
 * worst-case growth and the tile framing (the compressed size is unknown until the end).
 */
export function needsBigTiff(shape: { width: number; height: number; bands: number; dataType: DataType }, tileSize = 512): boolean {
  const tileBytes = tileSize * tileSize * shape.bands * (SAMPLE_TYPE[shape.dataType].bits / 8);
  const levels = [shape, ...overviewSizes(shape.width, shape.height, tileSize)];
  const tiles = levels.reduce((sum, level) => {
    const { across, down } = tileGridOf(level, tileSize);
    return sum + across * down;
  }, 0);
  const worstCaseTile = tileBytes * 1.001 + 64 + TILE_FRAMING_BYTES;
  const frontEstimate = 64 * 1024 + tiles * 16;
  return tiles * worstCaseTile + frontEstimate >= CLASSIC_TIFF_LIMIT;
}

function planCog(input: CogInput, options: CogOptions): CogPlan {
  const tileSize = options.tileSize ?? 512;
  validateInput(input, tileSize);
  const levels = buildLevels(input, tileSize);
  const shape = { width: input.grid.width, height: input.grid.height, bands: input.bands.length, dataType: input.dataType };
  const bigTiff = options.bigTiff === undefined || options.bigTiff === 'auto' ? needsBigTiff(shape, tileSize) : options.bigTiff;
  return {
    input,
    tileSize,
    deflateLevel: options.deflateLevel ?? 6,
    bigTiff,
    levels,
    tasks: tileTasksInFileOrder(levels, tileSize),
    fill: input.nodata !== undefined && !Number.isNaN(input.nodata) ? input.nodata : 0,
  };
}

function extraSamplesOf(input: CogInput): number[] {
  const colourChannels = input.photometric === 'rgb' ? 3 : 1;
  const extra = new Array<number>(Math.max(0, input.bands.length - colourChannels)).fill(EXTRA_SAMPLE_UNSPECIFIED);
  if (input.extraSampleAlpha && extra.length > 0) extra[extra.length - 1] = EXTRA_SAMPLE_UNASSOCIATED_ALPHA;
  return extra;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** GDAL escapes item values twice (once as a value, once as XML text) and unescapes twice when reading. */
function gdalMetadataXml(descriptions: string[]): string {
  const items = descriptions.map(
    (description, sample) => `  <Item name="DESCRIPTION" sample="${sample}" role="description">${escapeXml(escapeXml(description))}</Item>\n`,
  );
  return `<GDALMetadata>\n${items.join('')}</GDALMetadata>\n`;
}

function nodataText(nodata: number): string {
  return Number.isNaN(nodata) ? 'nan' : String(nodata);
}

function ifdTags(plan: CogPlan, levelIndex: number, offsets: number[], byteCounts: number[]): TagEntry[] {
  const { input, tileSize } = plan;
  const level = plan.levels[levelIndex];
  const samples = input.bands.length;
  const { bits, format } = SAMPLE_TYPE[input.dataType];
  const sizeType = level.width > 0xffff || level.height > 0xffff ? FieldType.Long : FieldType.Short;
  const offsetType = plan.bigTiff ? FieldType.Long8 : FieldType.Long;
  const tags: TagEntry[] = [
    { tag: Tag.ImageWidth, type: sizeType, values: [level.width] },
    { tag: Tag.ImageLength, type: sizeType, values: [level.height] },
    { tag: Tag.BitsPerSample, type: FieldType.Short, values: new Array(samples).fill(bits) },
    { tag: Tag.Compression, type: FieldType.Short, values: [COMPRESSION_DEFLATE] },
    { tag: Tag.Photometric, type: FieldType.Short, values: [input.photometric === 'rgb' ? 2 : 1] },
    { tag: Tag.SamplesPerPixel, type: FieldType.Short, values: [samples] },
    { tag: Tag.PlanarConfiguration, type: FieldType.Short, values: [PLANAR_CHUNKY] },
    { tag: Tag.Predictor, type: FieldType.Short, values: [predictorFor(input.dataType)] },
    { tag: Tag.TileWidth, type: FieldType.Short, values: [tileSize] },
    { tag: Tag.TileLength, type: FieldType.Short, values: [tileSize] },
    { tag: Tag.TileOffsets, type: offsetType, values: offsets, afterAllIfds: true },
    { tag: Tag.TileByteCounts, type: offsetType, values: byteCounts, afterAllIfds: true },
    { tag: Tag.SampleFormat, type: FieldType.Short, values: new Array(samples).fill(format) },
  ];
  const extraSamples = extraSamplesOf(input);
  if (extraSamples.length > 0) tags.push({ tag: Tag.ExtraSamples, type: FieldType.Short, values: extraSamples });
  if (input.nodata !== undefined) tags.push({ tag: Tag.GdalNodata, type: FieldType.Ascii, values: nodataText(input.nodata) });
  if (levelIndex > 0) {
    tags.push({ tag: Tag.NewSubfileType, type: FieldType.Long, values: [SUBFILE_REDUCED_IMAGE] });
    return tags;
  }
  tags.push(...transformTags(input.grid.transform), geoKeyDirectory(input.grid.epsg));
  if (input.bandDescriptions) tags.push({ tag: Tag.GdalMetadata, type: FieldType.Ascii, values: gdalMetadataXml(input.bandDescriptions) });
  return tags;
}

/** Header and IFDs with the tiles' offsets and byte counts (zeros while only the length is needed). */
function fileFront(plan: CogPlan, offsets: number[][], byteCounts: number[][]): Uint8Array {
  const ifds = plan.levels.map((_, level) => ifdTags(plan, level, offsets[level], byteCounts[level]));
  return serializeFileFront(ifds, plan.bigTiff, GHOST_AREA).bytes;
}

function zeroTables(plan: CogPlan): number[][] {
  return plan.levels.map((level) => {
    const { across, down } = tileGridOf(level, plan.tileSize);
    return new Array<number>(across * down).fill(0);
  });
}

/** Records where each tile lands; `frontLength` is where the first tile's leader starts. */
class TileLedger {
  readonly offsets: number[][];
  readonly byteCounts: number[][];
  position: number;

  constructor(private readonly plan: CogPlan, frontLength: number) {
    this.offsets = zeroTables(plan);
    this.byteCounts = zeroTables(plan);
    this.position = frontLength;
  }

  /** Books a compressed tile and returns the file position of its leader and its framing. */
  add(task: TileTask, data: Uint8Array): { position: number; leader: Uint8Array; trailer: Uint8Array } {
    const index = task.row * tileGridOf(this.plan.levels[task.level], this.plan.tileSize).across + task.column;
    const position = this.position;
    this.offsets[task.level][index] = position + 4;
    this.byteCounts[task.level][index] = data.length;
    this.position += data.length + TILE_FRAMING_BYTES;
    if (!this.plan.bigTiff && this.position > CLASSIC_TIFF_LIMIT) throw new Error('COG passes 4 GiB: write it as BigTIFF');
    const leader = new Uint8Array(4);
    new DataView(leader.buffer).setUint32(0, data.length, true);
    return { position, leader, trailer: data.slice(data.length - 4) };
  }
}

function predicted(plan: CogPlan, task: TileTask): Uint8Array {
  return predictedTile(plan.levels[task.level], plan.input.dataType, plan.tileSize, task.column, task.row, plan.fill);
}

/** Encodes the whole COG in memory (synchronously, one core): the file is the concatenation of the chunks. */
export function encodeCog(input: CogInput, options: CogOptions = {}): Uint8Array[] {
  const plan = planCog(input, options);
  const frontLength = fileFront(plan, zeroTables(plan), zeroTables(plan)).length;
  const ledger = new TileLedger(plan, frontLength);
  const chunks: Uint8Array[] = [];
  for (const task of plan.tasks) {
    const data = deflateSync(predicted(plan, task), { level: plan.deflateLevel });
    const { leader, trailer } = ledger.add(task, data);
    chunks.push(leader, data, trailer);
  }
  return [fileFront(plan, ledger.offsets, ledger.byteCounts), ...chunks];
}

const deflateAsync = promisify(deflate);

/**
 * Compresses tiles in file order, up to `concurrency` at once on libuv's thread pool while this thread cuts
 * and predicts the next ones; `consume` receives them in order.
 */
async function compressInOrder(
  plan: CogPlan,
  concurrency: number,
  signal: AbortSignal | undefined,
  consume: (task: TileTask, data: Uint8Array) => Promise<void>,
): Promise<void> {
  const inFlight: Promise<Uint8Array>[] = [];
  let next = 0;
  const start = (): void => {
    const task = plan.tasks[next++];
    inFlight.push(deflateAsync(predicted(plan, task), { level: plan.deflateLevel }));
  };
  while (next < plan.tasks.length && inFlight.length < concurrency) start();
  try {
    for (let done = 0; done < plan.tasks.length; done++) {
      const data = await inFlight.shift()!;
      signal?.throwIfAborted();
      if (next < plan.tasks.length) start();
      await consume(plan.tasks[done], data);
    }
  } catch (error) {
    // Compressions still running are abandoned; their outcome no longer matters.
    for (const pending of inFlight) pending.catch(() => undefined);
    throw error;
  }
}

/** Writes the COG to `path` through a temporary file renamed into place. */
export async function writeCog(path: string, input: CogInput, options: CogOptions = {}): Promise<{ bytes: number }> {
  const plan = planCog(input, options);
  const frontLength = fileFront(plan, zeroTables(plan), zeroTables(plan)).length;
  const ledger = new TileLedger(plan, frontLength);
  const temporary = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  const file = await open(temporary, 'w');
  try {
    await compressInOrder(plan, options.concurrency ?? 8, options.signal, async (task, data) => {
      const { position, leader, trailer } = ledger.add(task, data);
      await file.writev([leader, data, trailer], position);
    });
    const front = fileFront(plan, ledger.offsets, ledger.byteCounts);
    if (front.length !== frontLength) throw new Error('COG header length changed between passes');
    await file.write(front, 0, front.length, 0);
    await file.close();
    options.signal?.throwIfAborted();
    await rename(temporary, path);
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw error;
  }
  return { bytes: ledger.position };
}
