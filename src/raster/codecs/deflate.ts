import { promisify } from 'node:util';
import { constants, inflate, inflateSync, type ZlibOptions } from 'node:zlib';

/**
 * An output chunk the size of the whole tile: with zlib's default 16 KiB chunks Node concatenates ~100 pieces
 * per tile, which halves inflation speed. The result then spans its own ArrayBuffer (transferable as is).
 */
function optionsFor(expectedLength: number): ZlibOptions {
  return { chunkSize: Math.max(constants.Z_MIN_CHUNK, expectedLength) };
}

/** Inflates a zlib stream (TIFF Compression 8 / 32946) of a tile of `expectedLength` bytes. */
export function inflateTile(bytes: Uint8Array, expectedLength: number): Uint8Array {
  return inflateSync(bytes, optionsFor(expectedLength));
}

const inflateAsync = promisify(inflate) as (bytes: Uint8Array, options: ZlibOptions) => Promise<Buffer>;

/** As inflateTile, on libuv's thread pool. */
export function inflateTileAsync(bytes: Uint8Array, expectedLength: number): Promise<Uint8Array> {
  return inflateAsync(bytes, optionsFor(expectedLength));
}
