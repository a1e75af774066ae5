/**
 * TIFF LZW decoder (Compression 5): MSB-first codes of 9..12 bits, "early change" (the code width grows one
 * code before the table fills), 256 = clear, 257 = end of information.
 */

const CLEAR_CODE = 256;
const END_OF_INFORMATION = 257;
const FIRST_FREE_CODE = 258;
const MAX_CODES = 4096;
const MAX_CODE_WIDTH = 12;

interface StringTable {
  prefix: Int32Array;
  suffix: Uint8Array;
  first: Uint8Array;
  length: Uint32Array;
}

function newStringTable(): StringTable {
  const table: StringTable = {
    prefix: new Int32Array(MAX_CODES),
    suffix: new Uint8Array(MAX_CODES),
    first: new Uint8Array(MAX_CODES),
    length: new Uint32Array(MAX_CODES),
  };
  for (let code = 0; code < 256; code++) {
    table.prefix[code] = -1;
    table.suffix[code] = code;
    table.first[code] = code;
    table.length[code] = 1;
  }
  return table;
}

function grow(out: Uint8Array, needed: number): Uint8Array {
  const bigger = new Uint8Array(Math.max(needed, out.length * 2));
  bigger.set(out);
  return bigger;
}

/** Decodes `bytes`; `expectedLength` (the tile's byte size) sizes the output up front and caps it. */
export function decodeLzw(bytes: Uint8Array, expectedLength = bytes.length * 4): Uint8Array {
  const table = newStringTable();
  let out: Uint8Array = new Uint8Array(Math.max(expectedLength, 1));
  let written = 0;
  const totalBits = bytes.length * 8;
  let bitPosition = 0;
  let codeWidth = 9;
  let nextCode = FIRST_FREE_CODE;
  let previous = -1;

  while (bitPosition + codeWidth <= totalBits) {
    const byteIndex = bitPosition >>> 3;
    const window = (bytes[byteIndex] << 16) | ((bytes[byteIndex + 1] ?? 0) << 8) | (bytes[byteIndex + 2] ?? 0);
    const code = (window >>> (24 - (bitPosition & 7) - codeWidth)) & ((1 << codeWidth) - 1);
    bitPosition += codeWidth;
    if (code === END_OF_INFORMATION) break;
    if (code === CLEAR_CODE) {
      nextCode = FIRST_FREE_CODE;
      codeWidth = 9;
      previous = -1;
      continue;
    }
    if (code > nextCode || (code === nextCode && previous < 0)) throw new Error(`LZW: invalid code ${code}`);

    if (previous >= 0 && nextCode < MAX_CODES) {
      // The new entry is previous + first byte of the current string (itself, for the KwKwK case).
      const firstByte = code === nextCode ? table.first[previous] : table.first[code];
      table.prefix[nextCode] = previous;
      table.suffix[nextCode] = firstByte;
      table.first[nextCode] = table.first[previous];
      table.length[nextCode] = table.length[previous] + 1;
      nextCode++;
    }

    const length = table.length[code];
    if (written + length > out.length) out = grow(out, written + length);
    let cursor = code;
    for (let at = written + length - 1; at >= written; at--) {
      out[at] = table.suffix[cursor];
      cursor = table.prefix[cursor];
    }
    written += length;
    previous = code;
    if (nextCode + 1 >= 1 << codeWidth && codeWidth < MAX_CODE_WIDTH) codeWidth++;
  }
  return written === out.length ? out : out.subarray(0, written);
}
