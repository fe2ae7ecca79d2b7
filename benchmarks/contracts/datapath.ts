// The datapath's schemas: AF_XDP attach modes, the forwarding engines, and the frame and burst
// limits, from the one vocabulary (vocabulary.ts).
import { z } from 'zod';
import { AFXDP_MODES, ENGINE_NAMES, MAX_BURST, MAX_FRAME_BYTES, MIN_FRAME_BYTES } from './vocabulary.js';

export { AFXDP_MODES, ENGINE_NAMES, MAX_FRAME_BYTES, MIN_FRAME_BYTES };
export const AfXdpModeSchema = z.enum(AFXDP_MODES);
export type AfXdpMode = z.infer<typeof AfXdpModeSchema>;

export const EngineNameSchema = z.enum(ENGINE_NAMES);
export type EngineName = z.infer<typeof EngineNameSchema>;

export const FrameBytesSchema = z.number().int().min(MIN_FRAME_BYTES).max(MAX_FRAME_BYTES);
export const BurstSchema = z.number().int().min(1).max(MAX_BURST);
