"""Guest images the boot loader places in RAM outside seL4's memory (GUEST_IMAGES=preload).

Natively a boot loader puts the kernel in RAM for nothing (QEMU's -kernel, U-Boot's load). A VMM
that carries its guest's images in its ELF pays instead: Microkit's loader copies them and its
monitor maps them in 4 KiB pages, about 45 M instructions for a 35 MB Debian kernel and
initramfs. Preloaded, each VM's images are one file (a header, the kernel, the initramfs) that
the boot loader places in RAM seL4 does not know; a memory region of 2 MiB pages at that address
is mapped read-only into the VMM, which checks the header (include/vmm/guest_images.h) first.
"""
import hashlib

from . import ToolError

MAGIC = b"SEL4VMMG"
VERSION = 1
HEADER_SIZE = 4096
NONCE_LEN = 16
PAGE = 4096
LARGE_PAGE = 2 * 1024 * 1024


def _up(v, align):
    return (v + align - 1) // align * align


class Images:
    """One VM's images file: `blob` to write, where kernel and initrd lie in it, its nonce."""

    def __init__(self, kernel, initrd):
        self.kernel_offset = HEADER_SIZE
        self.kernel_size = len(kernel)
        self.initrd_offset = _up(HEADER_SIZE + len(kernel), PAGE) if initrd else 0
        self.initrd_size = len(initrd) if initrd else 0
        self.total_size = (self.initrd_offset + self.initrd_size if initrd
                           else HEADER_SIZE + len(kernel))
        h = hashlib.sha256()
        for part in (len(kernel).to_bytes(8, "little"), kernel, initrd or b""):
            h.update(part)
        self.nonce = h.digest()[:NONCE_LEN]
        header = (MAGIC + VERSION.to_bytes(4, "little") + HEADER_SIZE.to_bytes(4, "little") +
                  self.nonce +
                  b"".join(v.to_bytes(8, "little") for v in (
                      self.kernel_offset, self.kernel_size, self.initrd_offset, self.initrd_size,
                      self.total_size)))
        blob = bytearray(self.total_size)
        blob[:len(header)] = header
        blob[self.kernel_offset:self.kernel_offset + len(kernel)] = kernel
        if initrd:
            blob[self.initrd_offset:self.initrd_offset + len(initrd)] = initrd
        self.blob = bytes(blob)
        self.region_size = _up(self.total_size, LARGE_PAGE)


def vmm_vaddr(system):
    """Where the VMM maps its images: 2 MiB aligned, above everything the system maps into it."""
    top = max([m.vaddr + system.regions[m.mr].size for m in system.pd_maps] + [0x80000000])
    return _up(top, LARGE_PAGE)


def _subtract(ranges, start, end):
    out = []
    for a, b in ranges:
        if end <= a or b <= start:
            out.append((a, b))
            continue
        if a < start:
            out.append((a, start))
        if end < b:
            out.append((end, b))
    return out


def memreserve(dtb_data):
    """The DTB's /memreserve/ entries as (start, end)."""
    off = int.from_bytes(dtb_data[16:20], "big")
    out = []
    while off + 16 <= len(dtb_data):
        addr = int.from_bytes(dtb_data[off:off + 8], "big")
        size = int.from_bytes(dtb_data[off + 8:off + 16], "big")
        if not addr and not size:
            break
        out.append((addr, addr + size))
        off += 16
    return out


def free_ranges(dt, plat, sdk_memory, fixed_regions):
    """RAM the board's device tree has below or above all of seL4's memory (its memory list in the
    SDK's platform_gen.json), that no reserved-memory node or /memreserve/ keeps, and that no
    memory region of the system has at a fixed physical address: [(start, end)], lowest first.
    A hole between seL4's memory ranges is not free: seL4's own device tree for the board made it
    (i.MX8MM: 0xb8000000..0xb8400000), for reasons the board DTB need not say."""
    free = [(a, a + s) for a, s in plat.memory if s]
    taken = memreserve(dt.data)
    if sdk_memory:
        taken.append((min(a for a, _ in sdk_memory), max(b for _, b in sdk_memory)))
    rsv = dt.nodes.get("/reserved-memory")
    if rsv is not None:
        for node in rsv.children:
            taken += [(a, a + s) for a, s in dt.reg(node)] if "reg" in node.props else []
    taken += [(mr.phys_addr, mr.phys_addr + mr.size) for mr in fixed_regions
              if mr.phys_addr is not None]
    for a, b in taken:
        free = _subtract(free, a, b)
    return sorted(free)


def place(free, requests, board):
    """Give each request (name, size) a 2 MiB-aligned physical address in `free`, from the top
    of the highest range down (clear of what boot loaders put low in RAM). ToolError naming
    the board and what is free when something does not fit."""
    free = list(free)
    out = {}
    for name, size in requests:
        for i in range(len(free) - 1, -1, -1):
            a, b = free[i]
            start = (b - size) // LARGE_PAGE * LARGE_PAGE
            if start >= a and b - a >= size:
                out[name] = start
                free[i:i + 1] = [r for r in ((a, start), (start + size, b)) if r[1] > r[0]]
                break
        else:
            have = ", ".join("0x%x..0x%x" % r for r in free) or "none"
            raise ToolError("%s: no %d MiB of RAM outside seL4's memory for the preloaded "
                            "guest images of VM '%s' (free: %s); use GUEST_IMAGES=embedded, or "
                            "an SDK whose seL4 leaves RAM out" % (board, size >> 20, name, have))
    return out
