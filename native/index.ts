// The datapath's public surface.
export { LabError, SystemError, describeError, invalidOption } from './errors.js';
export { AfXdpPort, type PortStatistics } from './afxdp/port.js';
export { FrameBatch } from './afxdp/umem.js';
export { XskQueue, type XskStatistics } from './afxdp/xsk-queue.js';
export { NetdevAFXDPOptionsSchema, AfXdpTuningSchema, AFXDP_MODES, resolveAfXdpOptions, type NetdevAFXDPOptions, type AfXdpTuning } from './afxdp/options.js';
export { withNetns } from './sys/netns.js';
export { XskProgram, describeAttached, type XdpMode } from './xdp/xsk-program.js';
export { queryXdp } from './xdp/libxdp.js';
export { XskSocketProvider, type ProvideOptions } from './afxdp/provider.js';
export { FdReceiver, sendFds, type ReceivedFds } from './sys/fdpass.js';
export { NetnsHandle } from './sys/netns.js';
