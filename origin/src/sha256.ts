// SHA-256 (FIPS 180-4) of a string's UTF-8 bytes: the key of the verified-token cache. Not Web Crypto's digest: on Node every crypto.subtle call is a trip through the libuv
// threadpool (~30 µs), several times the whole cost of a cache hit, while this loop hashes a
// ~1 KiB token in a few µs on Node and in workerd alike (as fast as workerd's native digest there).
// test/origin/sha256.test.ts and test/worker/origin-kit.test.ts check it against crypto.subtle.digest.

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
const H0 = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
// Int32Array, not Uint32Array: reads stay small integers (a uint32 above 2^31 would be a heap number).
const W = new Int32Array(64);
const H = new Int32Array(8);
const encoder = new TextEncoder();
/** Reused between calls (hashing is synchronous): no allocation per token but the hex string. */
let block = new Uint8Array(4096);

/** The digest as 16 UTF-16 code units (16 bits each): the cheapest string a Map can key on. */
export function sha256Key(input: string): string {
  // Padding (§5.1.1): 0x80, zeros, then the 64-bit big-endian bit length, to a multiple of 64 bytes.
  if (block.length < input.length * 3 + 72) block = new Uint8Array(input.length * 3 + 72);
  const length = encoder.encodeInto(input, block).written;
  const total = (((length + 8) >> 6) + 1) << 6;
  block.fill(0, length, total);
  block[length] = 0x80;
  const bits = length * 8;
  block[total - 5] = (bits / 0x100000000) | 0;
  block[total - 4] = bits >>> 24;
  block[total - 3] = bits >>> 16;
  block[total - 2] = bits >>> 8;
  block[total - 1] = bits;
  H.set(H0);
  for (let offset = 0; offset < total; offset += 64) {
    for (let t = 0; t < 16; t++) {
      const j = offset + t * 4;
      W[t] = (block[j]! << 24) | (block[j + 1]! << 16) | (block[j + 2]! << 8) | block[j + 3]!;
    }
    for (let t = 16; t < 64; t++) {
      const w15 = W[t - 15]!;
      const w2 = W[t - 2]!;
      const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
      const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
      W[t] = (W[t - 16]! + s0 + W[t - 7]! + s1) | 0;
    }
    let a = H[0]!;
    let b = H[1]!;
    let c = H[2]!;
    let d = H[3]!;
    let e = H[4]!;
    let f = H[5]!;
    let g = H[6]!;
    let h = H[7]!;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[t]! + W[t]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    H[0]! += a;
    H[1]! += b;
    H[2]! += c;
    H[3]! += d;
    H[4]! += e;
    H[5]! += f;
    H[6]! += g;
    H[7]! += h;
  }
  return String.fromCharCode(
    H[0]! >>> 16,
    H[0]! & 0xffff,
    H[1]! >>> 16,
    H[1]! & 0xffff,
    H[2]! >>> 16,
    H[2]! & 0xffff,
    H[3]! >>> 16,
    H[3]! & 0xffff,
    H[4]! >>> 16,
    H[4]! & 0xffff,
    H[5]! >>> 16,
    H[5]! & 0xffff,
    H[6]! >>> 16,
    H[6]! & 0xffff,
    H[7]! >>> 16,
    H[7]! & 0xffff,
  );
}

/** The digest as 64 hex digits, as other SHA-256 implementations print it. */
export function sha256Hex(input: string): string {
  const key = sha256Key(input);
  let hex = "";
  // By index: for-of would merge two units that happen to form a surrogate pair.
  for (let i = 0; i < key.length; i++) hex += key.charCodeAt(i).toString(16).padStart(4, "0");
  return hex;
}
