/**
 * TIFF / BigTIFF header and IFD parsing from a growing prefix of the file. Everything but the tile (or strip)
 * offset and byte-count arrays is decoded eagerly; those arrays are left as references so a reader loads
 * only the level it needs.
 */

import { Tag } from './tiff/tags';

/** Reads `length` bytes at `offset` of the file (may return fewer at the end of the file). */
export type ByteFetcher = (offset: number, length: number) => Promise<Uint8Array>;

export { Tag };

const DEFERRED_TAGS = new Set<number>([Tag.TileOffsets, Tag.TileByteCounts, Tag.StripOffsets, Tag.StripByteCounts]);

/** Bytes per value of each TIFF field type. */
const TYPE_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8 };

/** An array value not yet read: where it lives in the file. */
export interface DeferredArray {
  type: number;
  count: number;
  offset: number;
}

export type TagValue = number[] | string;

export interface Ifd {
  /** File offset of the IFD. */
  offset: number;
  values: Map<number, TagValue>;
  deferred: Map<number, DeferredArray>;
}

export interface TiffHeader {
  littleEndian: boolean;
  bigTiff: boolean;
  ifds: Ifd[];
  /** The file prefix read while parsing (starts at offset 0); deferred arrays inside it need no request. */
  prefix: Uint8Array;
}

/** A growing copy of the start of the file. */
class FilePrefix {
  bytes: Uint8Array;
  private endOfFile = false;

  constructor(
    initial: Uint8Array,
    requested: number,
    private readonly fetch: ByteFetcher,
  ) {
    this.bytes = initial;
    this.endOfFile = initial.length < requested;
  }

  /** Makes sure [offset, offset + length) is held, at least doubling the prefix when it must grow. */
  async ensure(offset: number, length: number): Promise<void> {
    const end = offset + length;
    if (end <= this.bytes.length) return;
    if (this.endOfFile) throw new Error(`TIFF structure at ${offset} extends past the end of the file`);
    const wanted = Math.max(end, this.bytes.length * 2) - this.bytes.length;
    const more = await this.fetch(this.bytes.length, wanted);
    const grown = new Uint8Array(this.bytes.length + more.length);
    grown.set(this.bytes);
    grown.set(more, this.bytes.length);
    this.endOfFile = more.length < wanted;
    this.bytes = grown;
    if (end > this.bytes.length) throw new Error(`TIFF structure at ${offset} extends past the end of the file`);
  }

  view(): DataView {
    return new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }
}

function readUint64(view: DataView, at: number, littleEndian: boolean): number {
  const value = view.getBigUint64(at, littleEndian);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('TIFF offset beyond 2^53');
  return Number(value);
}

/** Decodes `count` values of `type` at `at` of `view`. */
export function decodeValues(view: DataView, at: number, type: number, count: number, littleEndian: boolean): TagValue {
  if (type === 2) {
    let text = '';
    for (let i = 0; i < count; i++) {
      const code = view.getUint8(at + i);
      if (code === 0) break;
      text += String.fromCharCode(code);
    }
    return text;
  }
  const values = new Array<number>(count);
  for (let i = 0; i < count; i++) values[i] = decodeOne(view, at, type, i, littleEndian);
  return values;
}

function decodeOne(view: DataView, at: number, type: number, i: number, le: boolean): number {
  switch (type) {
    case 1:
    case 7:
      return view.getUint8(at + i);
    case 6:
      return view.getInt8(at + i);
    case 3:
      return view.getUint16(at + 2 * i, le);
    case 8:
      return view.getInt16(at + 2 * i, le);
    case 4:
    case 13:
      return view.getUint32(at + 4 * i, le);
    case 9:
      return view.getInt32(at + 4 * i, le);
    case 5:
      return view.getUint32(at + 8 * i, le) / view.getUint32(at + 8 * i + 4, le);
    case 10:
      return view.getInt32(at + 8 * i, le) / view.getInt32(at + 8 * i + 4, le);
    case 11:
      return view.getFloat32(at + 4 * i, le);
    case 12:
      return view.getFloat64(at + 8 * i, le);
    case 16:
    case 18:
      return readUint64(view, at + 8 * i, le);
    case 17:
      return Number(view.getBigInt64(at + 8 * i, le));
    default:
      throw new Error(`unsupported TIFF field type ${type}`);
  }
}

/** Decodes a deferred array held in `bytes`, which start at file offset `bytesOffset`. */
export function decodeDeferred(array: DeferredArray, bytes: Uint8Array, bytesOffset: number, littleEndian: boolean): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return decodeValues(view, array.offset - bytesOffset, array.type, array.count, littleEndian) as number[];
}

export function deferredByteLength(array: DeferredArray): number {
  return array.count * TYPE_SIZES[array.type];
}

/** Parses the header and every IFD, fetching more of the file only when a structure lies past the prefix. */
export async function parseTiffHeader(fetch: ByteFetcher, prefetchBytes = 64 * 1024): Promise<TiffHeader> {
  const prefix = new FilePrefix(await fetch(0, prefetchBytes), prefetchBytes, fetch);
  await prefix.ensure(0, 16);
  let view = prefix.view();
  const order = view.getUint16(0, false);
  if (order !== 0x4949 && order !== 0x4d4d) throw new Error('not a TIFF file');
  const littleEndian = order === 0x4949;
  const magic = view.getUint16(2, littleEndian);
  if (magic !== 42 && magic !== 43) throw new Error(`not a TIFF file (magic ${magic})`);
  const bigTiff = magic === 43;
  let nextIfd = bigTiff ? readUint64(view, 8, littleEndian) : view.getUint32(4, littleEndian);

  const ifds: Ifd[] = [];
  const seen = new Set<number>();
  while (nextIfd !== 0 && !seen.has(nextIfd)) {
    seen.add(nextIfd);
    const { ifd, next } = await parseIfd(prefix, nextIfd, littleEndian, bigTiff);
    ifds.push(ifd);
    nextIfd = next;
    view = prefix.view();
  }
  return { littleEndian, bigTiff, ifds, prefix: prefix.bytes };
}

async function parseIfd(prefix: FilePrefix, offset: number, le: boolean, bigTiff: boolean): Promise<{ ifd: Ifd; next: number }> {
  const countSize = bigTiff ? 8 : 2;
  const entrySize = bigTiff ? 20 : 12;
  const inlineSize = bigTiff ? 8 : 4;
  await prefix.ensure(offset, countSize);
  let view = prefix.view();
  const entryCount = bigTiff ? readUint64(view, offset, le) : view.getUint16(offset, le);
  const entriesStart = offset + countSize;
  await prefix.ensure(entriesStart, entryCount * entrySize + (bigTiff ? 8 : 4));
  view = prefix.view();

  const ifd: Ifd = { offset, values: new Map(), deferred: new Map() };
  const outOfLine: { tag: number; type: number; count: number; at: number }[] = [];
  for (let i = 0; i < entryCount; i++) {
    const entry = entriesStart + i * entrySize;
    const tag = view.getUint16(entry, le);
    const type = view.getUint16(entry + 2, le);
    if (!(type in TYPE_SIZES)) continue;
    const count = bigTiff ? readUint64(view, entry + 4, le) : view.getUint32(entry + 4, le);
    const valueField = entry + (bigTiff ? 12 : 8);
    const size = count * TYPE_SIZES[type];
    if (size <= inlineSize) {
      ifd.values.set(tag, decodeValues(view, valueField, type, count, le));
      continue;
    }
    const at = bigTiff ? readUint64(view, valueField, le) : view.getUint32(valueField, le);
    if (DEFERRED_TAGS.has(tag)) ifd.deferred.set(tag, { type, count, offset: at });
    else outOfLine.push({ tag, type, count, at });
  }
  const nextField = entriesStart + entryCount * entrySize;
  const next = bigTiff ? readUint64(view, nextField, le) : view.getUint32(nextField, le);

  for (const { tag, type, count, at } of outOfLine) {
    await prefix.ensure(at, count * TYPE_SIZES[type]);
    ifd.values.set(tag, decodeValues(prefix.view(), at, type, count, le));
  }
  return { ifd, next };
}
