// SocketAddress from QEMU's qapi/sockets.json (the flat union that stream and dgram use), with
// the members QEMU 10.0 has.
import { z } from 'zod';
import { bool, integer, str } from './fields.js';

export const InetSocketAddressSchema = z.object({
  type: z.literal('inet'),
  host: str('host part of the address'),
  port: str('port part of the address'),
  numeric: bool('true if the host/port are guaranteed to be numeric, false if name resolution should be attempted', { default: 'false', since: '2.9' }).optional(),
  to: integer('uint16', 'If present, this is range of possible addresses, with port between @port and @to.').optional(),
  ipv4: bool('whether to accept IPv4 addresses, default try both IPv4 and IPv6').optional(),
  ipv6: bool('whether to accept IPv6 addresses, default try both IPv4 and IPv6').optional(),
  'keep-alive': bool('enable keep-alive when connecting to this socket. Not supported for passive sockets.', { since: '4.2' }).optional(),
  mptcp: bool('enable multi-path TCP', { since: '6.1', condition: 'HAVE_IPPROTO_MPTCP' }).optional(),
}).strict();

export const UnixSocketAddressSchema = z.object({
  type: z.literal('unix'),
  path: str('filesystem path to use'),
  abstract: bool('if true, this is a Linux abstract socket address. @path will be prefixed by a null byte, and optionally padded with null bytes.', { default: 'false', since: '5.1', condition: 'CONFIG_LINUX' }).optional(),
  tight: bool('if false, pad an abstract socket address with enough null bytes to make it fill struct sockaddr_un member sun_path.', { default: 'true', since: '5.1', condition: 'CONFIG_LINUX' }).optional(),
}).strict();

export const VsockSocketAddressSchema = z.object({
  type: z.literal('vsock'),
  cid: str('unique host identifier'),
  port: str('port'),
}).strict();

export const FdSocketAddressSchema = z.object({
  type: z.literal('fd'),
  str: str('the file descriptor number, or the name of one passed to QEMU with getfd'),
}).strict();

export const SocketAddressSchema = z.discriminatedUnion('type', [
  InetSocketAddressSchema, UnixSocketAddressSchema, VsockSocketAddressSchema, FdSocketAddressSchema,
]).meta({ description: 'socket address: type inet, unix, vsock or fd, and its members', qapi: 'SocketAddress' });

export const SOCKET_ADDRESS_TYPES = ['inet', 'unix', 'vsock', 'fd'] as const;

export type SocketAddress = z.infer<typeof SocketAddressSchema>;
