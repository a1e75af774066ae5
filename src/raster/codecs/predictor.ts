/**
 * TIFF predictors. Horizontal differencing (Predictor 2) works on sample values, interleaved samples
 * differenced with their own kind (stride = samples per pixel). The floating-point predictor (3) splits each
 * row's values into byte planes, most significant first, then differences the bytes.
 */

type IntegerSamples = Uint8Array | Uint16Array | Int16Array | Uint32Array;

/** Undoes horizontal differencing in place; `samples` holds `rows` rows of `rowLength` values. */
export function undoHorizontalDifferencing(samples: IntegerSamples, rowLength: number, stride: number): void {
  // One loop per element type for single-sample rows (every band file of a mosaic): a running sum in a
  // register, where the generic loop reads back what it just stored through a polymorphic element access.
  if (stride === 1 && samples instanceof Uint16Array) return undoUint16Rows(samples, rowLength);
  if (stride === 1 && samples instanceof Uint8Array) return undoUint8Rows(samples, rowLength);
  const rows = samples.length / rowLength;
  for (let row = 0; row < rows; row++) {
    const start = row * rowLength;
    const end = start + rowLength;
    for (let i = start + stride; i < end; i++) samples[i] += samples[i - stride];
  }
}

function undoUint16Rows(samples: Uint16Array, rowLength: number): void {
  for (let start = 0; start < samples.length; start += rowLength) {
    const end = start + rowLength;
    let sum = samples[start];
    for (let i = start + 1; i < end; i++) samples[i] = sum = (sum + samples[i]) & 0xffff;
  }
}

function undoUint8Rows(samples: Uint8Array, rowLength: number): void {
  for (let start = 0; start < samples.length; start += rowLength) {
    const end = start + rowLength;
    let sum = samples[start];
    for (let i = start + 1; i < end; i++) samples[i] = sum = (sum + samples[i]) & 0xff;
  }
}

/** Applies horizontal differencing in place (the encoder's side of Predictor 2). */
export function applyHorizontalDifferencing(samples: IntegerSamples, rowLength: number, stride: number): void {
  const rows = samples.length / rowLength;
  for (let row = 0; row < rows; row++) {
    const start = row * rowLength;
    for (let i = start + rowLength - 1; i >= start + stride; i--) samples[i] -= samples[i - stride];
  }
}

/**
 * Undoes Predictor 3 on one tile of `rows` rows of `valuesPerRow` values of `bytesPerValue` bytes and returns
 * the values' bytes in little-endian order (the predictor's byte planes carry no file endianness).
 */
export function undoFloatingPointPredictor(bytes: Uint8Array, valuesPerRow: number, stride: number, bytesPerValue: number): Uint8Array {
  const rowBytes = valuesPerRow * bytesPerValue;
  const rows = bytes.length / rowBytes;
  const out = new Uint8Array(bytes.length);
  const byteStride = stride;
  for (let row = 0; row < rows; row++) {
    const start = row * rowBytes;
    const end = start + rowBytes;
    for (let i = start + byteStride; i < end; i++) bytes[i] = (bytes[i] + bytes[i - byteStride]) & 0xff;
    for (let value = 0; value < valuesPerRow; value++) {
      const target = start + value * bytesPerValue;
      for (let plane = 0; plane < bytesPerValue; plane++) {
        out[target + bytesPerValue - 1 - plane] = bytes[start + plane * valuesPerRow + value];
      }
    }
  }
  return out;
}

/** Applies Predictor 3 to little-endian value bytes (the encoder's side); returns the predicted bytes. */
export function applyFloatingPointPredictor(littleEndianBytes: Uint8Array, valuesPerRow: number, stride: number, bytesPerValue: number): Uint8Array {
  const rowBytes = valuesPerRow * bytesPerValue;
  const rows = littleEndianBytes.length / rowBytes;
  const out = new Uint8Array(littleEndianBytes.length);
  for (let row = 0; row < rows; row++) {
    const start = row * rowBytes;
    for (let value = 0; value < valuesPerRow; value++) {
      const source = start + value * bytesPerValue;
      for (let plane = 0; plane < bytesPerValue; plane++) {
        out[start + plane * valuesPerRow + value] = littleEndianBytes[source + bytesPerValue - 1 - plane];
      }
    }
    for (let i = start + rowBytes - 1; i >= start + stride; i--) out[i] = (out[i] - out[i - stride]) & 0xff;
  }
  return out;
}
