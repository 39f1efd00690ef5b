// XXH32, as the LZ4 frame format uses it for its header checksum. Only a few bytes are ever
// hashed here (a frame descriptor), so a plain implementation is plenty.
const P1 = 0x9e3779b1
const P2 = 0x85ebca77
const P3 = 0xc2b2ae3d
const P4 = 0x27d4eb2f
const P5 = 0x165667b1

const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0
const mul = (a: number, b: number) => Math.imul(a, b) >>> 0
const round = (acc: number, lane: number) => mul(rotl((acc + mul(lane, P2)) >>> 0, 13), P1)

/** XXH32 of `data` with `seed`. */
export function xxhash32(data: Uint8Array, seed = 0): number {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const length = data.byteLength
  let i = 0
  let h: number
  if (length >= 16) {
    let v1 = (seed + P1 + P2) >>> 0
    let v2 = (seed + P2) >>> 0
    let v3 = seed >>> 0
    let v4 = (seed - P1) >>> 0
    for (; i <= length - 16; i += 16) {
      v1 = round(v1, view.getUint32(i, true))
      v2 = round(v2, view.getUint32(i + 4, true))
      v3 = round(v3, view.getUint32(i + 8, true))
      v4 = round(v4, view.getUint32(i + 12, true))
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) >>> 0
  } else {
    h = (seed + P5) >>> 0
  }
  h = (h + length) >>> 0
  for (; i <= length - 4; i += 4) h = mul(rotl((h + mul(view.getUint32(i, true), P3)) >>> 0, 17), P4)
  for (; i < length; i++) h = mul(rotl((h + mul(data[i] as number, P5)) >>> 0, 11), P1)
  h = mul(h ^ (h >>> 15), P2)
  h = mul(h ^ (h >>> 13), P3)
  return (h ^ (h >>> 16)) >>> 0
}
