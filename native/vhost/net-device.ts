// One vhost-user-net connection's device state: negotiated features, the guest memory table and
// the vrings (rx = 2i, tx = 2i+1 for queue pair i), driven by the front end's messages. Every
// message is checked against the state it needs (a ring address before the memory table, a
// kick before the ring's size and address, an index past the queues) and refused with the
// message's name and the field; the caller then drops the connection. Owns every fd and
// mapping it was given: close() releases them all.
import { closeFd } from '../sys/libc.js';
import type { GuestMemory } from './guest-memory.js';
import { EventFd, mapGuestMemory } from './memory-map.js';
import {
  bit, encodeReply, Feature, ProtocolError, ProtocolFeature, statePayload, u64Payload, type Message,
} from './protocol.js';
import { SplitRing } from './split-ring.js';

export interface Vring {
  num: number;
  base: number;
  addr?: { desc: number; used: number; avail: number };
  kick?: EventFd;
  call?: EventFd;
  enabled: boolean;
  /** Set from the kick on (started), until GET_VRING_BASE stops it. */
  ring?: SplitRing;
}

export interface NetDeviceOptions {
  /** Queue pairs offered (VIRTIO_NET_F_MQ when more than 1). */
  queuePairs: number;
  /** Told of every state change the datapath must see (a ring started or stopped, memory remapped). */
  onChange?: () => void;
}

export class VhostNetDevice {
  readonly offered: bigint;
  readonly offeredProtocol: bigint;
  features = 0n;
  protocol = 0n;
  memory: GuestMemory | undefined;
  readonly vrings: Vring[];
  private owner = false;

  constructor(private readonly o: NetDeviceOptions) {
    this.offered = bit(Feature.F_VERSION_1) | bit(Feature.NET_F_MRG_RXBUF) | bit(Feature.RING_F_EVENT_IDX) | bit(Feature.VHOST_USER_F_PROTOCOL_FEATURES) | (o.queuePairs > 1 ? bit(Feature.NET_F_MQ) : 0n);
    this.offeredProtocol = bit(ProtocolFeature.MQ) | bit(ProtocolFeature.REPLY_ACK);
    this.vrings = Array.from({ length: 2 * o.queuePairs }, () => ({ num: 0, base: 0, enabled: false }));
  }

  has(feature: number): boolean { return (this.features & bit(feature)) !== 0n; }

  /** The virtio-net header's size: 12 with VERSION_1 or MRG_RXBUF (num_buffers), else 10. */
  get headerBytes(): number { return this.has(Feature.F_VERSION_1) || this.has(Feature.NET_F_MRG_RXBUF) ? 12 : 10; }

  /** Handles one message; returns the reply to send (if any). Throws ProtocolError to refuse it. */
  handle(m: Message): Uint8Array | undefined {
    const r = m.request;
    const name = r.kind;
    const ring = (index: number): Vring => {
      const v = this.vrings[index];
      if (!v) throw new ProtocolError(name, 'index', `${index}: this device has ${this.vrings.length} rings (0..${this.vrings.length - 1})`);
      return v;
    };
    const ack = () => (m.needReply && (this.protocol & bit(ProtocolFeature.REPLY_ACK)) ? encodeReply(m.code, u64Payload(0n)) : undefined);
    switch (r.kind) {
      case 'GET_FEATURES': return encodeReply(m.code, u64Payload(this.offered));
      case 'GET_PROTOCOL_FEATURES': return encodeReply(m.code, u64Payload(this.offeredProtocol));
      case 'GET_QUEUE_NUM': return encodeReply(m.code, u64Payload(BigInt(this.o.queuePairs)));
      case 'SET_OWNER':
        if (this.owner) throw new ProtocolError(name, 'owner', 'the device already has an owner (SET_OWNER twice without RESET_OWNER)');
        this.owner = true;
        return ack();
      case 'RESET_OWNER':
        this.owner = false;
        this.stopAll();
        return ack();
      case 'SET_FEATURES': {
        const extra = r.value & ~this.offered;
        if (extra) throw new ProtocolError(name, 'features', `0x${r.value.toString(16)} has bits this back end did not offer: 0x${extra.toString(16)} (offered 0x${this.offered.toString(16)})`);
        this.features = r.value;
        // Without PROTOCOL_FEATURES rings are enabled from the start.
        if (!(r.value & bit(Feature.VHOST_USER_F_PROTOCOL_FEATURES))) for (const v of this.vrings) v.enabled = true;
        return ack();
      }
      case 'SET_PROTOCOL_FEATURES': {
        const extra = r.value & ~this.offeredProtocol;
        if (extra) throw new ProtocolError(name, 'features', `0x${r.value.toString(16)} has bits this back end did not offer: 0x${extra.toString(16)} (offered 0x${this.offeredProtocol.toString(16)})`);
        this.protocol = r.value;
        return ack();
      }
      case 'SET_MEM_TABLE': {
        // fds are consumed by the mapping; the old table goes once the new one is in place.
        const fresh = mapGuestMemory(r.regions, this.pendingFds.splice(0));
        const old = this.memory;
        this.memory = fresh;
        try {
          for (const [i, v] of this.vrings.entries()) if (v.ring) v.ring = this.buildRing(i, v, v.ring.lastAvail);
        } finally {
          old?.unmap();
        }
        this.o.onChange?.();
        return ack();
      }
      case 'SET_VRING_NUM': {
        const v = ring(r.index);
        if (v.ring) throw new ProtocolError(name, 'index', `ring ${r.index} is running: stop it (GET_VRING_BASE) before resizing`);
        v.num = r.num;
        return ack();
      }
      case 'SET_VRING_BASE': {
        const v = ring(r.index);
        if (v.ring) throw new ProtocolError(name, 'index', `ring ${r.index} is running: stop it (GET_VRING_BASE) before setting its base`);
        v.base = r.num;
        return ack();
      }
      case 'SET_VRING_ADDR': {
        const v = ring(r.index);
        if (!this.memory) throw new ProtocolError(name, 'desc', 'no memory table yet (SET_MEM_TABLE comes first)');
        if (r.flags & 1) throw new ProtocolError(name, 'flags', 'VHOST_VRING_F_LOG: logging was not negotiated');
        const num = (x: bigint, f: string) => {
          if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError(name, f, `0x${x.toString(16)} is outside the memory table`);
          return Number(x);
        };
        const addr = { desc: num(r.desc, 'desc'), used: num(r.used, 'used'), avail: num(r.avail, 'avail') };
        // Refused here, naming this message, rather than later at the kick (the ring's size is
        // known when SET_VRING_NUM came first, as QEMU sends them; else its first byte is checked).
        const n = v.num || 0;
        for (const [f, a, bytes] of [['desc', addr.desc, n ? 16 * n : 1], ['avail', addr.avail, n ? 6 + 2 * n : 1], ['used', addr.used, n ? 6 + 8 * n : 1]] as const) {
          if (!this.memory.fromUser(a, bytes)) throw new ProtocolError(name, f, `0x${a.toString(16)}..+${bytes} is outside the memory table`);
        }
        v.addr = addr;
        if (v.ring) { v.ring = this.buildRing(r.index, v, v.ring.lastAvail); this.o.onChange?.(); }
        return ack();
      }
      case 'SET_VRING_KICK': {
        const v = ring(r.index);
        const fd = r.fd;
        this.pendingFds.splice(0);
        if (fd === undefined) throw new ProtocolError(name, 'u64', 'polling mode (no kick fd) is not supported');
        if (!v.num || !v.addr) { closeFd(fd); throw new ProtocolError(name, 'index', `ring ${r.index} has no ${!v.num ? 'size (SET_VRING_NUM)' : 'address (SET_VRING_ADDR)'} yet`); }
        if (!this.memory) { closeFd(fd); throw new ProtocolError(name, 'index', 'no memory table yet (SET_MEM_TABLE comes first)'); }
        v.kick?.close();
        v.kick = new EventFd(fd);
        v.ring = this.buildRing(r.index, v, v.base);
        this.o.onChange?.();
        return ack();
      }
      case 'SET_VRING_CALL': {
        const v = ring(r.index);
        this.pendingFds.splice(0);
        v.call?.close();
        v.call = r.fd === undefined ? undefined : new EventFd(r.fd);
        // QEMU sends the ring's call fd after its kick, so the ring may already have run and
        // interrupted through the fd it replaces, which nobody reads any more: with EVENT_IDX
        // the driver would then wait forever for an interrupt at a used_event we passed.
        if (v.ring) v.ring.interruptOwed = true;
        return ack();
      }
      case 'SET_VRING_ERR': {
        ring(r.index);
        this.pendingFds.splice(0);
        // Errors are reported by dropping the connection; the err fd is not used.
        if (r.fd !== undefined) closeFd(r.fd);
        return ack();
      }
      case 'GET_VRING_BASE': {
        const v = ring(r.index);
        const base = v.ring ? v.ring.lastAvail : v.base;
        this.stop(v);
        v.base = base;
        this.o.onChange?.();
        return encodeReply(m.code, statePayload(r.index, base));
      }
      case 'SET_VRING_ENABLE': {
        const v = ring(r.index);
        // QEMU sends it before SET_FEATURES (right after SET_PROTOCOL_FEATURES), so the
        // feature offered is what counts here.
        v.enabled = r.num === 1;
        this.o.onChange?.();
        return ack();
      }
      case 'SET_LOG_BASE': case 'SET_LOG_FD':
        throw new ProtocolError(name, 'request', 'dirty logging (VHOST_F_LOG_ALL, PROTOCOL_F_LOG_SHMFD) was not offered');
      case 'SEND_RARP':
        throw new ProtocolError(name, 'request', 'VHOST_USER_PROTOCOL_F_RARP was not offered');
      case 'NET_SET_MTU':
        throw new ProtocolError(name, 'request', 'VHOST_USER_PROTOCOL_F_NET_MTU was not offered');
    }
  }

  /** fds of the message being handled that the device has not taken (closed on refusal). */
  pendingFds: number[] = [];

  private buildRing(index: number, v: Vring, base: number): SplitRing {
    return new SplitRing(index, v.num, this.memory!, v.addr!, base, this.has(Feature.RING_F_EVENT_IDX));
  }

  private stop(v: Vring): void {
    v.ring = undefined;
    v.kick?.close();
    v.kick = undefined;
  }

  private stopAll(): void {
    for (const v of this.vrings) this.stop(v);
    this.o.onChange?.();
  }

  /** Releases every fd and mapping: the connection is gone. */
  close(): void {
    for (const v of this.vrings) { this.stop(v); v.call?.close(); v.call = undefined; }
    this.memory?.unmap();
    this.memory = undefined;
    for (const fd of this.pendingFds.splice(0)) closeFd(fd);
  }
}

