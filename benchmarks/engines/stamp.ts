// Reading and writing the frame stamp (contracts/traffic.ts STAMP: magic, flow, per-flow
// sequence, send time) in place in a UMEM. The generator writes magic and flow once per frame
// at prepare (a frame's flow is fixed by its index) and only sequence and send time per send.
import { STAMP } from '../contracts/traffic.js';

const MAGIC = STAMP.offset + STAMP.magicOffset;
const FLOW = STAMP.offset + STAMP.flowOffset;
const SEQ = STAMP.offset + STAMP.seqOffset;
const TIME = STAMP.offset + STAMP.timeOffset;
/** Shortest frame that holds a whole stamp. */
export const STAMPED_FRAME_MIN_BYTES = STAMP.offset + STAMP.bytes;
const TWO_32 = 2 ** 32;

/** A DataView over the whole of `bytes` (one per UMEM, made at prepare). */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Magic and flow of the frame at `frame` (done once per frame, at prepare). */
export function writeStampHeader(view: DataView, frame: number, flow: number): void {
  view.setUint16(frame + MAGIC, STAMP.magic, true);
  view.setUint16(frame + FLOW, flow, true);
}

/** Sequence and send time (split once per burst by the caller: timeLo, timeHi). */
export function writeStampSend(view: DataView, frame: number, seq: number, timeLo: number, timeHi: number): void {
  view.setUint32(frame + SEQ, seq >>> 0, true);
  view.setUint32(frame + TIME, timeLo, true);
  view.setUint32(frame + TIME + 4, timeHi, true);
}

/** The two u32 words of a time in ns (low word first on the wire). */
export function splitTime(ns: number): { lo: number; hi: number } {
  return { lo: ns % TWO_32 >>> 0, hi: Math.floor(ns / TWO_32) >>> 0 };
}

/** Whole stamp at once (tests, and frames built outside an engine). */
export function writeStamp(view: DataView, frame: number, flow: number, seq: number, sendNs: number): void {
  writeStampHeader(view, frame, flow);
  const lo = sendNs % TWO_32 >>> 0;
  writeStampSend(view, frame, seq, lo, Math.floor(sendNs / TWO_32) >>> 0);
}

/** True when the frame is long enough and carries the magic. */
export function hasStamp(view: DataView, frame: number, length: number): boolean {
  return length >= STAMPED_FRAME_MIN_BYTES && view.getUint16(frame + MAGIC, true) === STAMP.magic;
}

export function stampFlow(view: DataView, frame: number): number {
  return view.getUint16(frame + FLOW, true);
}

export function stampSeq(view: DataView, frame: number): number {
  return view.getUint32(frame + SEQ, true);
}

export function stampTimeNs(view: DataView, frame: number): number {
  return view.getUint32(frame + TIME, true) + view.getUint32(frame + TIME + 4, true) * TWO_32;
}
