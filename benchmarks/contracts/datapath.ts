// The datapath's vocabulary, declared once: AF_XDP attach modes, the forwarding engines, and
// the frame and burst limits. Every schema, the CLI's flags and the UI's lists derive from these.
import { z } from 'zod';

/** How the XDP program attaches: driver (native) or generic (skb), as QEMU's af-xdp `mode`. */
export const AFXDP_MODES = ['native', 'skb'] as const;
export const AfXdpModeSchema = z.enum(AFXDP_MODES);
export type AfXdpMode = z.infer<typeof AfXdpModeSchema>;

/** testpmd-style forwarding engines (benchmarks/engines/). */
export const ENGINE_NAMES = ['txonly', 'rxonly', 'io', 'macswap'] as const;
export const EngineNameSchema = z.enum(ENGINE_NAMES);
export type EngineName = z.infer<typeof EngineNameSchema>;

/** Smallest Ethernet frame without FCS, and the largest that fits a 4 KiB UMEM chunk after the
 * kernel's 256-byte XDP headroom. */
export const MIN_FRAME_BYTES = 60;
export const MAX_FRAME_BYTES = 4096 - 256;
export const FrameBytesSchema = z.number().int().min(MIN_FRAME_BYTES).max(MAX_FRAME_BYTES);
/** Frame sizes the UI offers as one click (RFC 2544's, up to 1518). */
export const COMMON_FRAME_SIZES = [64, 128, 256, 512, 1024, 1518] as const;

/** Frames per burst (one FrameBatch, one system call at most). */
export const MAX_BURST = 512;
export const BurstSchema = z.number().int().min(1).max(MAX_BURST);
