// Real Ethernet/IPv4/UDP frames with valid IPv4 header and UDP checksums, written into a byte
// array at an offset (a UMEM frame). Built once per frame at prepare time, never per packet.
//
// Sizes are what the device is handed (no FCS), like testpmd's --txpkts: a 64-byte frame is
// 14 (Ethernet) + 20 (IPv4) + 8 (UDP) + 22 bytes of payload.

export const ETH_HEADER_BYTES = 14;
export const IPV4_HEADER_BYTES = 20;
export const UDP_HEADER_BYTES = 8;
export const UDP_FRAME_OVERHEAD = ETH_HEADER_BYTES + IPV4_HEADER_BYTES + UDP_HEADER_BYTES;
/** Smallest Ethernet frame without FCS. */
export const MIN_FRAME_BYTES = 60;
export const ETHERTYPE_IPV4 = 0x0800;
export const IPPROTO_UDP = 17;

export interface UdpFrameSpec {
  /** Bytes handed to the device (no FCS), 60 or more. */
  frameBytes: number;
  srcMac: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  ttl?: number;
  /** IPv4 identification field. */
  ipId?: number;
  /** Payload filler: a byte value, or a function of the payload index. Default: index & 0xff. */
  payload?: number | ((i: number) => number);
}

/** testpmd's txonly defaults (198.18.0.1 -> 198.18.0.2, UDP port 9 both ways). */
export const DEFAULT_FRAME: Omit<UdpFrameSpec, 'frameBytes'> = {
  srcMac: '02:00:00:00:00:01',
  dstMac: '02:00:00:00:00:02',
  srcIp: '198.18.0.1',
  dstIp: '198.18.0.2',
  srcPort: 9,
  dstPort: 9,
  ttl: 64,
};

export function parseMac(mac: string): number[] {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new RangeError(`'${mac}' is not a MAC address (expected six hex bytes separated by ':')`);
  }
  return parts.map((p) => parseInt(p, 16));
}

export function parseIpv4(ip: string): number[] {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new RangeError(`'${ip}' is not an IPv4 address (expected four decimal bytes separated by '.')`);
  }
  return parts.map(Number);
}

/** One's-complement sum of 16-bit big-endian words (odd length padded with a zero byte). */
function onesSum(bytes: Uint8Array, start: number, length: number, initial = 0): number {
  let sum = initial;
  const end = start + length;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < end) sum += bytes[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The Internet checksum (RFC 1071) of bytes[start, start+length). */
export function internetChecksum(bytes: Uint8Array, start: number, length: number, initial = 0): number {
  return ~onesSum(bytes, start, length, initial) & 0xffff;
}

/** Sum of the IPv4 pseudo header for UDP (source, destination, protocol, UDP length). */
function pseudoHeaderSum(bytes: Uint8Array, ipStart: number, udpLength: number): number {
  let sum = onesSum(bytes, ipStart + 12, 8); // source and destination addresses
  sum += IPPROTO_UDP + udpLength;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/**
 * Writes an Ethernet/IPv4/UDP frame at bytes[offset] and returns its length. The IPv4 header
 * checksum and the UDP checksum (over the pseudo header, header and payload) are valid.
 */
export function buildUdpFrame(bytes: Uint8Array, offset: number, spec: UdpFrameSpec): number {
  const len = spec.frameBytes;
  if (!Number.isInteger(len) || len < MIN_FRAME_BYTES || len > 65535 + ETH_HEADER_BYTES) {
    throw new RangeError(`frameBytes must be an integer from ${MIN_FRAME_BYTES}, got ${len}`);
  }
  if (offset < 0 || offset + len > bytes.length) {
    throw new RangeError(`a ${len}-byte frame at offset ${offset} does not fit in ${bytes.length} bytes`);
  }
  const dst = parseMac(spec.dstMac);
  const src = parseMac(spec.srcMac);
  const sip = parseIpv4(spec.srcIp);
  const dip = parseIpv4(spec.dstIp);
  for (const [name, port] of [['srcPort', spec.srcPort], ['dstPort', spec.dstPort]] as const) {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`${name} must be 0..65535, got ${port}`);
  }
  const ipLength = len - ETH_HEADER_BYTES;
  const udpLength = ipLength - IPV4_HEADER_BYTES;
  const b = bytes;
  const o = offset;
  // Ethernet
  for (let i = 0; i < 6; i++) b[o + i] = dst[i]!;
  for (let i = 0; i < 6; i++) b[o + 6 + i] = src[i]!;
  b[o + 12] = ETHERTYPE_IPV4 >> 8;
  b[o + 13] = ETHERTYPE_IPV4 & 0xff;
  // IPv4
  const ip = o + ETH_HEADER_BYTES;
  b[ip] = 0x45; // version 4, IHL 5
  b[ip + 1] = 0; // DSCP/ECN
  b[ip + 2] = ipLength >> 8;
  b[ip + 3] = ipLength & 0xff;
  const id = spec.ipId ?? 0;
  b[ip + 4] = (id >> 8) & 0xff;
  b[ip + 5] = id & 0xff;
  b[ip + 6] = 0; // flags, fragment offset
  b[ip + 7] = 0;
  b[ip + 8] = spec.ttl ?? 64;
  b[ip + 9] = IPPROTO_UDP;
  b[ip + 10] = 0; // checksum, below
  b[ip + 11] = 0;
  for (let i = 0; i < 4; i++) b[ip + 12 + i] = sip[i]!;
  for (let i = 0; i < 4; i++) b[ip + 16 + i] = dip[i]!;
  const ipSum = internetChecksum(b, ip, IPV4_HEADER_BYTES);
  b[ip + 10] = ipSum >> 8;
  b[ip + 11] = ipSum & 0xff;
  // UDP
  const udp = ip + IPV4_HEADER_BYTES;
  b[udp] = spec.srcPort >> 8;
  b[udp + 1] = spec.srcPort & 0xff;
  b[udp + 2] = spec.dstPort >> 8;
  b[udp + 3] = spec.dstPort & 0xff;
  b[udp + 4] = udpLength >> 8;
  b[udp + 5] = udpLength & 0xff;
  b[udp + 6] = 0;
  b[udp + 7] = 0;
  const payload = udp + UDP_HEADER_BYTES;
  const fill = spec.payload ?? ((i: number) => i & 0xff);
  for (let i = 0, n = udpLength - UDP_HEADER_BYTES; i < n; i++) {
    b[payload + i] = typeof fill === 'number' ? fill : fill(i) & 0xff;
  }
  let udpSum = internetChecksum(b, udp, udpLength, pseudoHeaderSum(b, ip, udpLength));
  if (udpSum === 0) udpSum = 0xffff; // RFC 768: a computed zero is sent as all ones
  b[udp + 6] = udpSum >> 8;
  b[udp + 7] = udpSum & 0xff;
  return len;
}

export interface FrameCheck {
  ethertypeOk: boolean;
  ipHeaderChecksumOk: boolean;
  ipLengthOk: boolean;
  udpLengthOk: boolean;
  udpChecksumOk: boolean;
  /** All of the above. */
  ok: boolean;
}

/** Verifies a frame built by buildUdpFrame (or any untagged IPv4/UDP frame without options). */
export function checkUdpFrame(bytes: Uint8Array, offset: number, length: number): FrameCheck {
  const b = bytes;
  const ip = offset + ETH_HEADER_BYTES;
  const ethertypeOk = length >= UDP_FRAME_OVERHEAD && ((b[offset + 12]! << 8) | b[offset + 13]!) === ETHERTYPE_IPV4 && b[ip] === 0x45 && b[ip + 9] === IPPROTO_UDP;
  if (!ethertypeOk) return { ethertypeOk, ipHeaderChecksumOk: false, ipLengthOk: false, udpLengthOk: false, udpChecksumOk: false, ok: false };
  const ipHeaderChecksumOk = internetChecksum(b, ip, IPV4_HEADER_BYTES) === 0;
  const ipLength = (b[ip + 2]! << 8) | b[ip + 3]!;
  const ipLengthOk = ipLength === length - ETH_HEADER_BYTES;
  const udp = ip + IPV4_HEADER_BYTES;
  const udpLength = (b[udp + 4]! << 8) | b[udp + 5]!;
  const udpLengthOk = udpLength === ipLength - IPV4_HEADER_BYTES;
  const stored = (b[udp + 6]! << 8) | b[udp + 7]!;
  const udpChecksumOk = udpLengthOk && stored !== 0 && internetChecksum(b, udp, udpLength, pseudoHeaderSum(b, ip, udpLength)) === 0;
  return { ethertypeOk, ipHeaderChecksumOk, ipLengthOk, udpLengthOk, udpChecksumOk, ok: ipHeaderChecksumOk && ipLengthOk && udpLengthOk && udpChecksumOk };
}
