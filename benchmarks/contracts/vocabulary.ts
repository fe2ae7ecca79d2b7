// The lab's words, declared once and free of any import: the schemas (datapath.ts, scenario.ts)
// are built from these, and the renderer's lists import them directly (no zod in its bundle).

/** How the XDP program attaches: driver (native) or generic (skb), as QEMU's af-xdp `mode`. */
export const AFXDP_MODES = ['native', 'skb'] as const;
/** testpmd-style forwarding engines (benchmarks/engines/). */
export const ENGINE_NAMES = ['txonly', 'rxonly', 'io', 'macswap'] as const;
/** Host rows: the engines, and iperf3 through the datapath and its baselines. */
export const HOST_TESTS = [...ENGINE_NAMES, 'iperf3'] as const;
export const GENERATORS = ['xdplab', 'testpmd'] as const;
export const REFERENCES = ['testpmd'] as const;

/** Smallest Ethernet frame without FCS, and the largest that fits a 4 KiB UMEM chunk after the
 * kernel's 256-byte XDP headroom. */
export const MIN_FRAME_BYTES = 60;
export const MAX_FRAME_BYTES = 4096 - 256;
/** Frame sizes the UI offers as one click (RFC 2544's, up to 1518). */
export const COMMON_FRAME_SIZES = [64, 128, 256, 512, 1024, 1518] as const;
/** Frames per burst (one FrameBatch, one system call at most). */
export const MAX_BURST = 512;

/** Tests a VM row runs. iperf3: TCP host <-> guest (or guest <-> guest); txonly: xdplab sends
 * to the guest, which counts; rxonly: the guest sends (kernel pktgen), xdplab counts. */
export const VM_TESTS = ['iperf3', 'txonly', 'rxonly'] as const;
/** The guest's NIC models. */
export const NIC_MODELS = ['virtio-net-pci', 'e1000'] as const;
/** Faults a run can inject into VM iperf3 trials, to see how it reports them. */
export const VM_FAULTS = ['kill-qemu', 'link-down'] as const;

/** Rate searches (RFC 2544's throughput, as CSIT names its goals): no loss, and partial loss. */
export const SEARCH_GOALS = ['ndr', 'pdr'] as const;
/** Latency rows run at these fractions of the PDR found (CSIT's choice), and idle. */
export const LATENCY_LOADS = [0, 0.1, 0.5, 0.9] as const;
