// BFD Control packets (RFC 5880 4.1), valid or deliberately malformed, for tests that speak to the
// agent's BFD port directly (fault injection).

export interface BfdPacketFields {
  version?: number;
  diag?: number;
  /** 0 AdminDown, 1 Down, 2 Init, 3 Up. */
  state?: number;
  /** Low six bits of byte 1: P=0x20 F=0x10 C=0x08 A=0x04 D=0x02 M=0x01. */
  flags?: number;
  mult?: number;
  /** The Length field (default: the real length). */
  length?: number;
  myDiscr?: number;
  yourDiscr?: number;
  minTxUs?: number;
  minRxUs?: number;
  /** Bytes appended after the 24-byte header (e.g. an authentication section). */
  trailer?: Buffer;
  /** Cut the datagram to this many bytes. */
  truncateTo?: number;
}

export function bfdPacket(f: BfdPacketFields): Buffer {
  const trailer = f.trailer ?? Buffer.alloc(0);
  const b = Buffer.alloc(24 + trailer.length);
  b.writeUInt8((((f.version ?? 1) & 7) << 5) | ((f.diag ?? 0) & 0x1f), 0);
  b.writeUInt8((((f.state ?? 3) & 3) << 6) | ((f.flags ?? 0) & 0x3f), 1);
  b.writeUInt8(f.mult ?? 3, 2);
  b.writeUInt8(f.length ?? b.length, 3);
  b.writeUInt32BE(f.myDiscr ?? 1, 4);
  b.writeUInt32BE(f.yourDiscr ?? 0, 8);
  b.writeUInt32BE(f.minTxUs ?? 100_000, 12);
  b.writeUInt32BE(f.minRxUs ?? 100_000, 16);
  b.writeUInt32BE(0, 20);
  trailer.copy(b, 24);
  return f.truncateTo === undefined ? b : b.subarray(0, f.truncateTo);
}
