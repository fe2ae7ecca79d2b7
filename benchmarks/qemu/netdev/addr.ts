// Address parsing exactly as QEMU's C code does it, so that xdplab accepts and rejects the
// same strings: glibc's inet_aton (QEMU uses it for every IPv4 option), inet_pton for IPv6,
// strtol with base 0 (hex and octal), net/net.c's parse_host_port and convert_host_port.

/** glibc inet_aton: "a", "a.b", "a.b.c", "a.b.c.d"; parts in decimal, 0x hex or 0 octal; the
 * last part fills the remaining bytes. Returns the address as an unsigned 32-bit number. */
export function inetAton(text: string): number | undefined {
  // glibc stops at the first whitespace and accepts what came before it.
  const s = text.split(/[ \t\n\v\f\r]/)[0]!;
  const parts = s.split('.');
  if (parts.length < 1 || parts.length > 4) return undefined;
  const values: number[] = [];
  for (const p of parts) {
    const v = parseCUnsigned(p);
    if (v === undefined) return undefined;
    values.push(v);
  }
  const last = values[values.length - 1]!;
  const head = values.slice(0, -1);
  if (head.some((v) => v > 0xff)) return undefined;
  const lastMax = [0xffffffff, 0xffffff, 0xffff, 0xff][head.length]!;
  if (last > lastMax) return undefined;
  let addr = 0;
  head.forEach((v, i) => { addr += v * 2 ** (8 * (3 - i)); });
  return addr + last;
}

/** An unsigned integer as strtoul(s, &end, 0) reads it with nothing left over: 0x1f, 017, 15. */
function parseCUnsigned(s: string): number | undefined {
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) return parseInt(s.slice(2), 16);
  if (/^0[0-7]*$/.test(s)) return s.length === 1 ? 0 : parseInt(s.slice(1), 8);
  if (/^[1-9][0-9]*$/.test(s)) return Number(s);
  return undefined;
}

/** A signed integer as qemu_strtoi64(s, NULL, 0) accepts it (whole string, base 0). */
export function parseCInteger(s: string): bigint | undefined {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2]!;
  let v: bigint;
  if (/^0[xX]/.test(body)) v = BigInt(body);
  else if (body.length > 1 && body.startsWith('0')) v = BigInt(`0o${body.slice(1)}`);
  else v = BigInt(body);
  return m[1] === '-' ? -v : v;
}

/** The leading integer of s as qemu_strtol(s, &end, 0) reads it (trailing text allowed). */
export function leadingCInteger(s: string): number | undefined {
  const m = /^\s*[+-]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(s);
  if (!m) return undefined;
  return Number(parseCInteger(m[0].trim()));
}

export function ipv4ToString(addr: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(addr / 2 ** s) % 256).join('.');
}

export function isIpv4Multicast(addr: number): boolean {
  return addr >= 0xe0000000 && addr <= 0xefffffff;
}

/** inet_pton(AF_INET6): 16 bytes, or undefined. */
export function inetPton6(text: string): Uint8Array | undefined {
  let s = text;
  const lastColon = s.lastIndexOf(':');
  if (lastColon < 0) return undefined;
  if (s.includes('.', lastColon)) {
    // An embedded IPv4 address (::ffff:1.2.3.4): exactly four decimal parts, as inet_pton wants.
    const v4 = s.slice(lastColon + 1);
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(v4);
    if (!m) return undefined;
    const b = m.slice(1).map(Number);
    if (b.some((x) => x > 255)) return undefined;
    s = `${s.slice(0, lastColon + 1)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !rest) return undefined;
  let all: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - rest.length;
    if (missing < 1) return undefined;
    all = [...head, ...new Array<number>(missing).fill(0), ...rest];
  } else {
    if (head.length !== 8) return undefined;
    all = head;
  }
  const out = new Uint8Array(16);
  all.forEach((g, i) => { out[2 * i] = g >> 8; out[2 * i + 1] = g & 0xff; });
  return out;
}

/** in6_equal_net: the first `bits` bits of a and b are equal. */
export function sameIpv6Prefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if ((a[byte]! & mask) !== (b[byte]! & mask)) return false;
  }
  return true;
}

/** QEMU's id_wellformed(): a letter, then letters, digits, '-', '.', '_'. */
export function isIdentifier(id: string): boolean {
  return /^[A-Za-z][A-Za-z0-9._-]*$/.test(id);
}

export const IDENTIFIER_RULE = "identifiers consist of letters, digits, '-', '.', '_', starting with a letter";

/** What parse_host_port/convert_host_port (net/net.c) say about "host:port", or undefined if
 * QEMU accepts it. Host names (not starting with a digit) are resolved by QEMU at run time. */
export function hostPortProblem(text: string): string | undefined {
  const colon = text.indexOf(':');
  if (colon < 0) return `host address '${text}' doesn't contain ':' separating host from port`;
  return hostAndPortProblem(text.slice(0, colon), text.slice(colon + 1));
}

/** convert_host_port(host, port): numeric hosts must be valid IPv4, the port a number. */
export function hostAndPortProblem(host: string, port: string): string | undefined {
  if (host !== '' && /^[0-9]/.test(host) && inetAton(host) === undefined) return `host address '${host}' is not a valid IPv4 address`;
  const p = leadingCInteger(port);
  if (p === undefined) return `port number '${port}' is invalid`;
  // QEMU keeps the low 16 bits of a larger number; xdplab refuses it instead.
  if (p < 0 || p > 65535) return `port number '${port}' is out of range (0 to 65535)`;
  return undefined;
}

/** The IPv4 address of a host:port or host string when it is numeric. */
export function numericHost(host: string): number | undefined {
  return /^[0-9]/.test(host) ? inetAton(host) : undefined;
}

export const UNIX_PATH_MAX = 108;

export function unixPathProblem(path: string): string | undefined {
  if (Buffer.byteLength(path) >= UNIX_PATH_MAX) return `UNIX socket path '${path}' is too long (must be less than ${UNIX_PATH_MAX} bytes)`;
  return undefined;
}
