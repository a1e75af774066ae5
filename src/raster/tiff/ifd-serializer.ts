/**
 * Serialises the front of a TIFF / BigTIFF file as GDAL's COG driver lays it out: header, "ghost" structural
 * metadata, every IFD each followed by its own out-of-line values, then the deferred arrays (tile offsets and
 * byte counts) of all IFDs. The length of the result depends only on the tags' types and counts, so it can be
 * computed before the tile offsets are known.
 */

export const FieldType = { Ascii: 2, Short: 3, Long: 4, Double: 12, Long8: 16 } as const;
export type FieldTypeCode = (typeof FieldType)[keyof typeof FieldType];

const FIELD_SIZE: Record<FieldTypeCode, number> = { 2: 1, 3: 2, 4: 4, 12: 8, 16: 8 };

export interface TagEntry {
  tag: number;
  type: FieldTypeCode;
  /** Numbers, or the text of an ASCII field (a NUL terminator is added). */
  values: readonly number[] | string;
  /** Place the out-of-line values after all IFDs (GDAL does this for tile offsets and byte counts). */
  afterAllIfds?: boolean;
}

export interface FileFront {
  bytes: Uint8Array;
  ifdOffsets: number[];
}

interface Format {
  bigTiff: boolean;
  headerSize: number;
  countSize: number;
  entrySize: number;
  inlineSize: number;
}

function formatOf(bigTiff: boolean): Format {
  return bigTiff
    ? { bigTiff, headerSize: 16, countSize: 8, entrySize: 20, inlineSize: 8 }
    : { bigTiff, headerSize: 8, countSize: 2, entrySize: 12, inlineSize: 4 };
}

function countOf(entry: TagEntry): number {
  return typeof entry.values === 'string' ? entry.values.length + 1 : entry.values.length;
}

function byteSizeOf(entry: TagEntry): number {
  return countOf(entry) * FIELD_SIZE[entry.type];
}

const evenUp = (position: number): number => position + (position % 2);

/** Where everything goes: IFD offsets and the offset of each out-of-line value (keyed by entry). */
interface Placement {
  ifdOffsets: number[];
  valueOffsets: Map<TagEntry, number>;
  length: number;
}

function place(ifds: TagEntry[][], format: Format, ghostLength: number): Placement {
  const valueOffsets = new Map<TagEntry, number>();
  const ifdOffsets: number[] = [];
  let position = evenUp(format.headerSize + ghostLength);
  const outOfLine = (entry: TagEntry): boolean => byteSizeOf(entry) > format.inlineSize;
  for (const entries of ifds) {
    ifdOffsets.push(position);
    position += format.countSize + entries.length * format.entrySize + format.inlineSize;
    for (const entry of entries) {
      if (!outOfLine(entry) || entry.afterAllIfds) continue;
      position = evenUp(position);
      valueOffsets.set(entry, position);
      position += byteSizeOf(entry);
    }
  }
  for (const entries of ifds) {
    for (const entry of entries) {
      if (!outOfLine(entry) || !entry.afterAllIfds) continue;
      position = evenUp(position);
      valueOffsets.set(entry, position);
      position += byteSizeOf(entry);
    }
  }
  return { ifdOffsets, valueOffsets, length: position };
}

function writeValues(view: DataView, at: number, entry: TagEntry): void {
  if (typeof entry.values === 'string') {
    for (let i = 0; i < entry.values.length; i++) view.setUint8(at + i, entry.values.charCodeAt(i) & 0xff);
    view.setUint8(at + entry.values.length, 0);
    return;
  }
  const size = FIELD_SIZE[entry.type];
  entry.values.forEach((value, i) => {
    const position = at + i * size;
    switch (entry.type) {
      case FieldType.Short:
        return view.setUint16(position, value, true);
      case FieldType.Long:
        return view.setUint32(position, value, true);
      case FieldType.Double:
        return view.setFloat64(position, value, true);
      case FieldType.Long8:
        return view.setBigUint64(position, BigInt(value), true);
      default:
        throw new Error(`numeric values for field type ${entry.type}`);
    }
  });
}

function writeOffset(view: DataView, at: number, value: number, format: Format): void {
  if (format.bigTiff) view.setBigUint64(at, BigInt(value), true);
  else view.setUint32(at, value, true);
}

function writeHeader(view: DataView, format: Format, firstIfd: number): void {
  view.setUint16(0, 0x4949, false);
  if (format.bigTiff) {
    view.setUint16(2, 43, true);
    view.setUint16(4, 8, true);
    view.setUint16(6, 0, true);
  } else {
    view.setUint16(2, 42, true);
  }
  writeOffset(view, format.headerSize === 16 ? 8 : 4, firstIfd, format);
}

/** Bytes from the start of the file up to (not including) the first tile; little-endian. */
export function serializeFileFront(ifds: TagEntry[][], bigTiff: boolean, ghost: string): FileFront {
  const format = formatOf(bigTiff);
  const sorted = ifds.map((entries) => [...entries].sort((a, b) => a.tag - b.tag));
  const placement = place(sorted, format, ghost.length);
  const bytes = new Uint8Array(placement.length);
  const view = new DataView(bytes.buffer);
  writeHeader(view, format, placement.ifdOffsets[0]);
  for (let i = 0; i < ghost.length; i++) bytes[format.headerSize + i] = ghost.charCodeAt(i);

  sorted.forEach((entries, index) => {
    const ifdOffset = placement.ifdOffsets[index];
    if (format.bigTiff) view.setBigUint64(ifdOffset, BigInt(entries.length), true);
    else view.setUint16(ifdOffset, entries.length, true);
    entries.forEach((entry, i) => {
      const at = ifdOffset + format.countSize + i * format.entrySize;
      view.setUint16(at, entry.tag, true);
      view.setUint16(at + 2, entry.type, true);
      const valueField = at + (format.bigTiff ? 12 : 8);
      if (format.bigTiff) view.setBigUint64(at + 4, BigInt(countOf(entry)), true);
      else view.setUint32(at + 4, countOf(entry), true);
      const outOfLine = placement.valueOffsets.get(entry);
      if (outOfLine === undefined) writeValues(view, valueField, entry);
      else {
        writeOffset(view, valueField, outOfLine, format);
        writeValues(view, outOfLine, entry);
      }
    });
    const next = placement.ifdOffsets[index + 1] ?? 0;
    writeOffset(view, ifdOffset + format.countSize + entries.length * format.entrySize, next, format);
  });
  return { bytes, ifdOffsets: placement.ifdOffsets };
}
