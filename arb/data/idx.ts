/**
 * The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/, bottom of the
 * page): a big-endian magic number `0x00 0x00 <type> <rank>`, `rank` big-endian uint32
 * dimensions, then the data in row-major order. We read unsigned-byte (type 0x08) files.
 */

/** A parsed IDX array of unsigned bytes. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Parses an uncompressed IDX ubyte file; `label` names it in errors. */
export function parseIdx(bytes: Uint8Array, label: string): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`${label}: not an IDX file (bad magic number)`);
  }
  if (bytes[2] !== 0x08) {
    throw new Error(`${label}: IDX element type 0x${bytes[2].toString(16)} is not unsigned byte`);
  }
  const rank = bytes[3];
  const headerLength = 4 + 4 * rank;
  if (bytes.length < headerLength) throw new Error(`${label}: IDX header is truncated`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== headerLength + count) {
    throw new Error(
      `${label}: IDX dims ${dims.join("x")} need ${headerLength + count} bytes, ` +
        `the file has ${bytes.length}`,
    );
  }
  return { dims, data: bytes.subarray(headerLength) };
}

/** Images (rank 3: N x H x W) and labels (rank 1: N) files combined into one split. */
export function idxSplit(
  images: IdxArray,
  labels: IdxArray,
  classes: number,
  label: string,
): { shape: [number, number, number]; images: Uint8Array; labels: Int32Array } {
  if (images.dims.length !== 3) throw new Error(`${label}: images are not rank 3`);
  if (labels.dims.length !== 1) throw new Error(`${label}: labels are not rank 1`);
  const [n, h, w] = images.dims;
  if (labels.dims[0] !== n) {
    throw new Error(`${label}: ${n} images but ${labels.dims[0]} labels`);
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = labels.data[i];
    if (y >= classes) throw new Error(`${label}: label ${y} at ${i} is outside 0..${classes - 1}`);
    out[i] = y;
  }
  return { shape: [h, w, 1], images: images.data, labels: out };
}
