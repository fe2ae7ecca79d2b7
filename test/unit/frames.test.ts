import { describe, expect, it } from 'vitest';
import { DEFAULT_FRAME, MIN_FRAME_BYTES, buildUdpFrame, checkUdpFrame, internetChecksum, parseIpv4, parseMac } from '../../benchmarks/engines/frames.js';

/** Independent recomputation: RFC 1071 over 16-bit words, written plainly. */
function rfc1071(words: number[]): number {
  let sum = 0;
  for (const w of words) sum += w;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

function words(b: Uint8Array, start: number, end: number): number[] {
  const out: number[] = [];
  for (let i = start; i < end; i += 2) out.push((b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0));
  return out;
}

describe('buildUdpFrame', () => {
  for (const frameBytes of [60, 64, 65, 128, 1514]) {
    it(`writes a valid ${frameBytes}-byte Ethernet/IPv4/UDP frame`, () => {
      const buf = new Uint8Array(4096).fill(0xee);
      const offset = 100;
      const len = buildUdpFrame(buf, offset, { ...DEFAULT_FRAME, frameBytes });
      expect(len).toBe(frameBytes);
      // Bytes around the frame are untouched.
      expect(buf[offset - 1]).toBe(0xee);
      expect(buf[offset + frameBytes]).toBe(0xee);
      const f = buf.subarray(offset, offset + frameBytes);
      expect([...f.subarray(0, 6)]).toEqual(parseMac(DEFAULT_FRAME.dstMac));
      expect([...f.subarray(6, 12)]).toEqual(parseMac(DEFAULT_FRAME.srcMac));
      expect((f[12]! << 8) | f[13]!).toBe(0x0800);
      const ip = 14;
      expect(f[ip]).toBe(0x45);
      expect((f[ip + 2]! << 8) | f[ip + 3]!).toBe(frameBytes - 14);
      expect(f[ip + 9]).toBe(17);
      expect([...f.subarray(ip + 12, ip + 16)]).toEqual(parseIpv4(DEFAULT_FRAME.srcIp));
      expect([...f.subarray(ip + 16, ip + 20)]).toEqual(parseIpv4(DEFAULT_FRAME.dstIp));

      // IPv4 header checksum: recompute with the field zeroed.
      const hdr = Uint8Array.from(f.subarray(ip, ip + 20));
      const stored = (hdr[10]! << 8) | hdr[11]!;
      hdr[10] = 0; hdr[11] = 0;
      expect(rfc1071(words(hdr, 0, 20))).toBe(stored);

      // UDP checksum over pseudo header + UDP header (checksum zeroed) + payload.
      const udp = ip + 20;
      const udpLen = (f[udp + 4]! << 8) | f[udp + 5]!;
      expect(udpLen).toBe(frameBytes - 34);
      const seg = Uint8Array.from(f.subarray(udp, udp + udpLen));
      const storedUdp = (seg[6]! << 8) | seg[7]!;
      seg[6] = 0; seg[7] = 0;
      const pseudo = [...words(f, ip + 12, ip + 20), 17, udpLen];
      let expected = rfc1071([...pseudo, ...words(seg, 0, udpLen)]);
      if (expected === 0) expected = 0xffff;
      expect(storedUdp).toBe(expected);
      expect(storedUdp).not.toBe(0);

      expect(checkUdpFrame(buf, offset, frameBytes).ok).toBe(true);
    });
  }

  it('sets ports, addresses and payload as asked', () => {
    const buf = new Uint8Array(256);
    buildUdpFrame(buf, 0, { ...DEFAULT_FRAME, frameBytes: 64, srcPort: 1234, dstPort: 4321, srcIp: '10.1.2.3', dstIp: '10.3.2.1', payload: 0x5a, ttl: 7, ipId: 0xbeef });
    expect((buf[34]! << 8) | buf[35]!).toBe(1234);
    expect((buf[36]! << 8) | buf[37]!).toBe(4321);
    expect(buf[22]).toBe(7);
    expect((buf[18]! << 8) | buf[19]!).toBe(0xbeef);
    expect([...buf.subarray(42, 64)].every((b) => b === 0x5a)).toBe(true);
    expect(checkUdpFrame(buf, 0, 64).ok).toBe(true);
  });

  it('a corrupted byte fails the checks', () => {
    const buf = new Uint8Array(64);
    buildUdpFrame(buf, 0, { ...DEFAULT_FRAME, frameBytes: 64 });
    const payload = Uint8Array.from(buf);
    payload[50]! ^= 0x01;
    expect(checkUdpFrame(payload, 0, 64).udpChecksumOk).toBe(false);
    expect(checkUdpFrame(payload, 0, 64).ipHeaderChecksumOk).toBe(true);
    const header = Uint8Array.from(buf);
    header[22]! ^= 0x01; // TTL
    expect(checkUdpFrame(header, 0, 64).ipHeaderChecksumOk).toBe(false);
  });

  it('internetChecksum matches the RFC 1071 example', () => {
    // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (checksum 220d).
    const b = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(internetChecksum(b, 0, b.length)).toBe(0x220d);
  });

  it('rejects frames that cannot be built', () => {
    const buf = new Uint8Array(128);
    expect(() => buildUdpFrame(buf, 0, { ...DEFAULT_FRAME, frameBytes: MIN_FRAME_BYTES - 1 })).toThrow(RangeError);
    expect(() => buildUdpFrame(buf, 100, { ...DEFAULT_FRAME, frameBytes: 64 })).toThrow(RangeError);
    expect(() => buildUdpFrame(buf, 0, { ...DEFAULT_FRAME, frameBytes: 64, srcMac: 'nope' })).toThrow(RangeError);
    expect(() => buildUdpFrame(buf, 0, { ...DEFAULT_FRAME, frameBytes: 64, dstIp: '1.2.3.256' })).toThrow(RangeError);
  });
});
