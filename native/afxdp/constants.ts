// Values from <linux/if_xdp.h>, <linux/if_link.h> and <sys/socket.h> (x86_64 and arm64 alike).
export const AF_XDP = 44;
export const SOCK_RAW = 3;
export const SOL_SOCKET = 1;
export const SOL_XDP = 283;

export const SO_DOMAIN = 39;
export const SO_BUSY_POLL = 46;
export const SO_PREFER_BUSY_POLL = 69;
export const SO_BUSY_POLL_BUDGET = 70;

export const XDP_MMAP_OFFSETS = 1;
export const XDP_RX_RING = 2;
export const XDP_TX_RING = 3;
export const XDP_UMEM_REG = 4;
export const XDP_UMEM_FILL_RING = 5;
export const XDP_UMEM_COMPLETION_RING = 6;
export const XDP_STATISTICS = 7;
export const XDP_OPTIONS = 8;
export const XDP_OPTIONS_ZEROCOPY = 1;

export const XDP_PGOFF_RX_RING = 0;
export const XDP_PGOFF_TX_RING = 0x80000000;
export const XDP_UMEM_PGOFF_FILL_RING = 0x100000000;
export const XDP_UMEM_PGOFF_COMPLETION_RING = 0x180000000;

// sockaddr_xdp.sxdp_flags
export const XDP_SHARED_UMEM = 1 << 0;
export const XDP_COPY = 1 << 1;
export const XDP_ZEROCOPY = 1 << 2;
export const XDP_USE_NEED_WAKEUP = 1 << 3;

export const XDP_RING_NEED_WAKEUP = 1;

// XDP attach flags (netlink) and libxdp's enum xdp_attach_mode.
export const XDP_FLAGS_SKB_MODE = 1 << 1;
export const XDP_FLAGS_DRV_MODE = 1 << 2;
export const XDP_MODE_NATIVE = 1;
export const XDP_MODE_SKB = 2;

export const XDP_PACKET_HEADROOM = 256;
export const MSG_DONTWAIT = 0x40;
export const POLLIN = 0x1;
export const POLLOUT = 0x4;

/** Size of struct xdp_desc (u64 addr, u32 len, u32 options) and of a fill/completion entry (u64). */
export const XDP_DESC_BYTES = 16;
export const ADDR_BYTES = 8;
