/** Tile decoding of GeoTIFF tiles: decompression, byte order and predictor. */
import { inflateTile, inflateTileAsync } from './deflate';
import { decodeLzw } from './lzw';
import { undoFloatingPointPredictor, undoHorizontalDifferencing } from './predictor';

export { inflateTile, inflateTileAsync } from './deflate';
export { decodeLzw } from './lzw';
export * from './predictor';

export interface TileLayout {
  width: number;
  height: number;
  samplesPerPixel: number;
  bitsPerSample: number;
  sampleFormat: 1 | 2 | 3;
  planarConfiguration: 1 | 2;
  predictor: 1 | 2 | 3;
  /** TIFF tag 259: 1 none, 5 LZW, 8/32946 DEFLATE. */
  compression: number;
  littleEndian: boolean;
}

export type DecodedTile = Uint8Array | Uint16Array | Int16Array | Float32Array;

export const Compression = { None: 1, Lzw: 5, Deflate: 8, DeflateLegacy: 32946 } as const;

type SampleKind = 'uint8' | 'uint16' | 'int16' | 'float32';

function sampleKindOf(layout: TileLayout): SampleKind {
  const { bitsPerSample: bits, sampleFormat: format } = layout;
  if (bits === 8 && format === 1) return 'uint8';
  if (bits === 16 && format === 1) return 'uint16';
  if (bits === 16 && format === 2) return 'int16';
  if (bits === 32 && format === 3) return 'float32';
  throw new Error(`unsupported sample type: ${bits} bits, SampleFormat ${format}`);
}

/** Samples per pixel within one tile: a planar (band-separate) tile holds a single band. */
export function samplesInTile(layout: TileLayout): number {
  return layout.planarConfiguration === 2 ? 1 : layout.samplesPerPixel;
}

export function tileByteLength(layout: TileLayout): number {
  return layout.width * layout.height * samplesInTile(layout) * (layout.bitsPerSample / 8);
}

function decompress(bytes: Uint8Array, layout: TileLayout, expectedLength: number): Uint8Array {
  switch (layout.compression) {
    case Compression.None:
      return bytes.slice(0, expectedLength);
    case Compression.Lzw:
      return decodeLzw(bytes, expectedLength);
    case Compression.Deflate:
    case Compression.DeflateLegacy:
      return inflateTile(bytes, expectedLength);
    default:
      throw new Error(`unsupported TIFF compression ${layout.compression}`);
  }
}

/** A byte array of exactly `length` bytes whose offset is aligned for `bytesPerValue` (copies only if needed). */
function alignedExactly(bytes: Uint8Array, length: number, bytesPerValue: number): Uint8Array {
  if (bytes.length === length && bytes.byteOffset % bytesPerValue === 0) return bytes;
  const copy = new Uint8Array(length);
  copy.set(bytes.subarray(0, Math.min(length, bytes.length)));
  return copy;
}

function swapBytePairs(bytes: Uint8Array): void {
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    const high = bytes[i];
    bytes[i] = bytes[i + 1];
    bytes[i + 1] = high;
  }
}

function swapByteQuads(bytes: Uint8Array): void {
  for (let i = 0; i + 3 < bytes.length; i += 4) {
    const [a, b] = [bytes[i], bytes[i + 1]];
    bytes[i] = bytes[i + 3];
    bytes[i + 1] = bytes[i + 2];
    bytes[i + 2] = b;
    bytes[i + 3] = a;
  }
}

function typedView(bytes: Uint8Array, kind: SampleKind): DecodedTile {
  const { buffer, byteOffset, byteLength } = bytes;
  switch (kind) {
    case 'uint8':
      return new Uint8Array(buffer, byteOffset, byteLength);
    case 'uint16':
      return new Uint16Array(buffer, byteOffset, byteLength / 2);
    case 'int16':
      return new Int16Array(buffer, byteOffset, byteLength / 2);
    case 'float32':
      return new Float32Array(buffer, byteOffset, byteLength / 4);
  }
}

/**
 * Decodes one compressed tile (or strip) into its samples, pixel-interleaved as stored. The result is in the
 * platform's (little-endian) byte order and may share memory with a fresh decompression buffer, never `bytes`.
 */
export function decodeTile(bytes: Uint8Array, layout: TileLayout): DecodedTile {
  return samplesOf(decompress(bytes, layout, tileByteLength(layout)), layout);
}

/**
 * As decodeTile, but DEFLATE inflation runs on libuv's thread pool (zlib's asynchronous API), leaving only the
 * cheap predictor work to this thread: parallel decoding without worker threads.
 */
export async function decodeTileAsync(bytes: Uint8Array, layout: TileLayout): Promise<DecodedTile> {
  const deflated = layout.compression === Compression.Deflate || layout.compression === Compression.DeflateLegacy;
  return deflated ? samplesOf(await inflateTileAsync(bytes, tileByteLength(layout)), layout) : decodeTile(bytes, layout);
}

/** Byte order and predictor applied to a decompressed tile. */
function samplesOf(decompressed: Uint8Array, layout: TileLayout): DecodedTile {
  const kind = sampleKindOf(layout);
  const bytesPerValue = layout.bitsPerSample / 8;
  const expectedLength = tileByteLength(layout);
  const valuesPerRow = layout.width * samplesInTile(layout);
  let raw = alignedExactly(decompressed, expectedLength, bytesPerValue);

  if (layout.predictor === 3) {
    if (kind !== 'float32') throw new Error('TIFF floating-point predictor on integer samples');
    raw = undoFloatingPointPredictor(raw, valuesPerRow, samplesInTile(layout), bytesPerValue);
    return typedView(raw, kind);
  }
  if (!layout.littleEndian && bytesPerValue === 2) swapBytePairs(raw);
  if (!layout.littleEndian && bytesPerValue === 4) swapByteQuads(raw);
  const samples = typedView(raw, kind);
  if (layout.predictor === 2) {
    // libtiff differences 32-bit floats as unsigned integers of the same bits.
    const integers = samples instanceof Float32Array ? new Uint32Array(raw.buffer, raw.byteOffset, samples.length) : samples;
    undoHorizontalDifferencing(integers, valuesPerRow, samplesInTile(layout));
  }
  return samples;
}
