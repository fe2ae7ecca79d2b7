// The datapath's public surface: everything outside native/ imports from here, and koffi is
// loaded nowhere else.
export { SystemError, errnoName } from './errors.js';
export { AfXdpPort, resolveIfindex, type PortStatistics } from './afxdp/port.js';
export { FrameBatch } from './afxdp/umem.js';
export { XskQueue, type XskStatistics } from './afxdp/xsk-queue.js';
export { NetdevAFXDPOptionsSchema, AfXdpTuningSchema, resolveAfXdpOptions, type NetdevAFXDPOptions, type AfXdpTuning } from './afxdp/options.js';
export { XskSocketProvider, type ProvideOptions } from './afxdp/provider.js';
export { setTxBudget } from './afxdp/tx-budget.js';
export { probeAfXdpSocket } from './afxdp/probe.js';
export { withNetns, NetnsHandle } from './sys/netns.js';
export { ifNameToIndex, getMemlockLimit } from './sys/libc.js';
export { FdReceiver, sendFds, type ReceivedFds } from './sys/fdpass.js';
export { SeqpacketSocket, isHangup, pollReadable, type Packet, type PeerCred } from './sys/seqpacket.js';
export { pinThisThread } from './sys/affinity.js';
export { kvmBackend, probeKvm, LOOP_ITERATIONS, MAX_NS_PER_ITERATION, type KvmProbe } from './sys/kvm-probe.js';
export { XskProgram, describeAttached, type XdpMode } from './xdp/xsk-program.js';
export { XdpDropProgram } from './xdp/drop-program.js';
export { XdpEveryNthDropProgram, everyNthDropInstructions, checkEvery, type EveryNthCounts } from './xdp/drop-nth-program.js';
export { XdpStampCounter, stampCountInstructions, type StampCounts, type StampMagic } from './xdp/stamp-count-program.js';
export { queryXdp, programName, probeLibxdp } from './xdp/libxdp.js';
export { VhostUserBackend, type BackendEvent, type VhostRole } from './vhost/backend.js';
export { guestMappings } from './vhost/memory-map.js';
export { openChannels } from './vhost/channel.js';
