#!/usr/bin/env python3
"""Generate a VMM build's configuration from the board DTB, the Microkit system file and the guest
images: the C configuration the VMM is linked with and the guest's DTB. Mismatches stop the build
with one line naming the file and the problem."""
import argparse
import gzip
import json
import zlib
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vmmtools import ToolError, fdt, guestdtb, layout, platform, preload, sysfile  # noqa: E402
from vmmtools.component_config import c_string  # noqa: E402
from vmmtools.output import write_if_changed  # noqa: E402


GICV3_REDIST_STRIDE = 0x20000


def check_system(plat, system, board_dtb):
    """The system file must give the VM what the board's GIC needs, and keep RAM off devices."""
    ram_base, ram_size, ram = system.guest_ram()
    devmaps = system.vm_device_maps()
    for node in plat.dt.nodes.values():
        if not plat.dt.is_mmio_node(node):
            continue
        for a, s in plat.dt.reg(node):
            if s and a < ram_base + ram_size and ram_base < a + s:
                raise ToolError("%s: guest RAM 0x%x..0x%x overlaps device %s at 0x%x" %
                                (system.path, ram_base, ram_base + ram_size, node.path, a))
    if plat.gic_version == 2:
        at_gicc = [(a, s, mr) for a, s, mr in devmaps if a == plat.gicc[0]]
        if not at_gicc:
            raise ToolError("%s: virtual machine '%s' maps nothing at the GIC CPU interface 0x%x; "
                            "map the vCPU interface%s there" %
                            (system.path, system.vm_name, plat.gicc[0],
                             " (0x%x)" % plat.gicv[0] if plat.gicv else ""))
        mr = at_gicc[0][2]
        if plat.gicv and mr.phys_addr is not None and mr.phys_addr != plat.gicv[0]:
            raise ToolError("%s: region '%s' mapped at the GIC CPU interface has phys_addr 0x%x, "
                            "but %s says the vCPU interface is at 0x%x" %
                            (system.path, mr.name, mr.phys_addr, board_dtb, plat.gicv[0]))
    emulated = [("GIC distributor", plat.gicd[0], plat.gicd[1])]
    if plat.gic_version == 3:
        emulated.append(("GIC redistributors", plat.gicr[0],
                         len(system.vcpus) * GICV3_REDIST_STRIDE))
    for a, s, mr in devmaps:
        for what, base, size in emulated:
            if a < base + size and base < a + s:
                raise ToolError("%s: region '%s' at 0x%x is mapped over the %s (0x%x), which the "
                                "VMM emulates" % (system.path, mr.name, a, what, base))
    for ch, irq, _ in system.irqs:
        if irq == plat.ptimer_irq:
            continue  # the VMM's own wake-up timer
        if irq < 32:
            raise ToolError("%s: irq %d on channel %d is not an SPI (32 and up)" %
                            (system.path, irq, ch))
        if irq >= plat.num_irqs:
            plat.num_irqs = min((irq + 1 + 31) // 32 * 32, 1024)


def check_sdk_gic(gen_config, plat, board_dtb):
    """The SDK's seL4 must drive the GIC the board has, or the system never boots."""
    try:
        with open(gen_config) as f:
            text = f.read()
    except OSError as e:
        raise ToolError("%s: cannot read the SDK's kernel configuration: %s" %
                        (gen_config, e.strerror))
    sdk_v3 = any(line.split()[1:3] == ["CONFIG_ARM_GIC_V3_SUPPORT", "1"]
                 for line in text.splitlines() if line.startswith("#define"))
    sdk_version = 3 if sdk_v3 else 2
    if sdk_version != plat.gic_version:
        raise ToolError("%s: this SDK's seL4 drives a GICv%d, but %s describes a GICv%d; use an "
                        "SDK built for this board's GIC" % (gen_config, sdk_version, board_dtb,
                                                              plat.gic_version))


VIRTIO_TYPES = {"console": "VMM_VIRTIO_CONSOLE", "blk": "VMM_VIRTIO_BLK", "net": "VMM_VIRTIO_NET"}


def c_virtio_blk(d):
    """What a block device adds to its initialiser: whether it is read-only."""
    return "        .u.blk = {.read_only = %d},\n" % (1 if d.get("read_only") else 0)


def c_virtio_net(d):
    """What a network device adds to its initialiser: its MAC and MTU."""
    return "        .u.net = {.mac = {%s}, .mtu = %d},\n" % (
        ", ".join("0x%02x" % b for b in d["mac"]), d["mtu"])


C_VIRTIO_TYPE_FIELDS = {"blk": c_virtio_blk, "net": c_virtio_net}


def c_virtio(devices):
    """The VM's virtio devices as struct vmm_virtio_device initialisers."""
    out = []
    for d in devices:
        c = d["conn"]
        extra = C_VIRTIO_TYPE_FIELDS.get(d["type"], lambda d: "")(d)
        out.append("""    {
        .type = %s,
        .name = "%s",
        .base = 0x%xull,
        .size = 0x%x,
        .irq = %d,
        .conn = {.queue = 0x%xul, .capacity = %d, .tx_data = 0x%xul, .tx_size = 0x%x,
                 .rx_data = 0x%xul, .rx_size = 0x%x, .channel = %d},
%s    }""" % (VIRTIO_TYPES[d["type"]], d["name"], d["base"], d["size"], d["irq"], c["queue"],
            c["capacity"], c["tx_data"], c["tx_size"], c["rx_data"], c["rx_size"], c["channel"],
            extra))
    return ",\n".join(out) or "    {0}"


PRELOAD_PADDR_SYMBOL = "vmm_guest_images_paddr"


def c_images(pre):
    """How the configuration reaches the kernel and initrd: symbols of vmm/guest_images.S, or
    addresses in the preloaded region (`pre`: vaddr, file, Images) and its description."""
    if pre is None:
        return ("""extern const uint8_t guest_kernel_image[], guest_kernel_image_end[];
extern const uint8_t guest_initrd_image[], guest_initrd_image_end[];
""", dict(kernel="guest_kernel_image", kernel_end="guest_kernel_image_end",
          initrd="guest_initrd_image", initrd_end="guest_initrd_image_end", preloaded="0"))
    vaddr, img = pre["vaddr"], pre["images"]

    def at(off):
        return "(const uint8_t *)0x%xul" % (vaddr + off)
    decl = """/* The images the boot loader places (GUEST_IMAGES=preload), header checked first. */
uint64_t %(sym)s __attribute__((section(".data"))); /* setvar region_paddr */
static const struct vmm_preloaded_images preloaded = {
    .base = (const uint8_t *)0x%(vaddr)xul,
    .size = 0x%(size)xull,
    .paddr = &%(sym)s,
    .file = %(file)s,
    .nonce = {%(nonce)s},
};
""" % dict(sym=PRELOAD_PADDR_SYMBOL, vaddr=vaddr, size=img.region_size, file=c_string(pre["file"]),
           nonce=", ".join("0x%02x" % b for b in img.nonce))
    initrd_end = img.initrd_offset + img.initrd_size
    return decl, dict(kernel=at(img.kernel_offset),
                      kernel_end=at(img.kernel_offset + img.kernel_size),
                      initrd=at(img.initrd_offset) if img.initrd_size else "0",
                      initrd_end=at(initrd_end) if img.initrd_size else "0",
                      preloaded="&preloaded")


def c_config(args, system, plat, lay, num_lrs, kernel_gzip, vm_plan, pre=None):
    ram_base, ram_size, _ = system.guest_ram()
    passthrough = [(ch, irq) for ch, irq, _ in system.irqs if irq != plat.ptimer_irq]
    wakeup = [ch for ch, irq, _ in system.irqs if irq == plat.ptimer_irq]
    slot = 0
    if vm_plan and vm_plan["wakeup"]["mode"] == "service":
        wakeup, slot = [vm_plan["wakeup"]["channel"]], vm_plan["wakeup"]["slot"]
    devices = vm_plan["virtio"] if vm_plan else []
    irqs = ",\n".join("    {.channel = %d, .irq = %d}" % (ch, irq) for ch, irq in passthrough)
    images_decl, images = c_images(pre)
    return """/* Generated by tools/vmm-config.py from %(system)s and %(dtb)s. Do not edit. */
#include <vmm/config.h>

extern const uint8_t guest_dtb_image[], guest_dtb_image_end[];
%(images_decl)s
static const struct vmm_irq_passthrough irqs[] = {
%(irqs)s
};

static const struct vmm_virtio_device virtio[] = {
%(virtio)s
};

const struct vmm_config vmm_config = {
    .vm_name = "%(name)s",
    .num_vcpus = %(nvcpus)d,
    .ram_base = 0x%(ram_base)xull,
    .ram_size = 0x%(ram_size)xull,
    .gic_version = %(gicv)d,
    .gicd_base = 0x%(gicd)xull,
    .gicr_base = 0x%(gicr)xull,
    .gicc_base = 0x%(gicc)xull,
    .gic_num_irqs = %(nirqs)d,
    .gic_num_lrs = %(nlrs)d,
    .vtimer_irq = %(vtimer)d,
    .ptimer_irq = %(ptimer)d,
    .trace_mmio = %(trace)d,
    .wakeup_channel = %(wakeup)d,
    .wakeup_slot = 0x%(slot)xul,
    .irqs = irqs,
    .num_irqs = %(nirq_pt)d,
    .virtio = virtio,
    .num_virtio = %(nvirtio)d,
    .protocol = %(proto)s,
    .kernel = %(kernel)s,
    .kernel_end = %(kernel_end)s,
    .kernel_gzip = %(kgzip)d,
    .kernel_addr = 0x%(kaddr)xull,
    .entry = 0x%(entry)xull,
    .dtb = guest_dtb_image,
    .dtb_end = guest_dtb_image_end,
    .dtb_addr = 0x%(dtb_addr)xull,
    .initrd = %(initrd)s,
    .initrd_end = %(initrd_end)s,
    .initrd_addr = 0x%(initrd_addr)xull,
    .preloaded = %(preloaded)s,
    .build_secret = {%(secret)s},
};
""" % dict(system=args.system, dtb=args.board_dtb, irqs=irqs or "    {0, 0}",
           name=system.vm_name, nvcpus=len(system.vcpus), ram_base=ram_base, ram_size=ram_size,
           gicv=plat.gic_version, gicd=plat.gicd[0], gicr=plat.gicr[0] if plat.gicr else 0, gicc=plat.gicc[0] if plat.gicc else 0, nirqs=plat.num_irqs, nlrs=num_lrs,
           kgzip=1 if kernel_gzip else 0, vtimer=plat.vtimer_irq, ptimer=plat.ptimer_irq,
           trace=1 if args.trace_mmio else 0,
           wakeup=wakeup[0] if wakeup else -1, nirq_pt=len(passthrough), slot=slot,
           virtio=c_virtio(devices), nvirtio=len(devices),
           proto="BOOT_LINUX" if args.protocol == "linux" else "BOOT_RAW",
           kaddr=lay.kernel_addr, entry=lay.entry, dtb_addr=lay.dtb_addr,
           initrd_addr=lay.initrd_addr,
           secret=", ".join("0x%02x" % b for b in os.urandom(32)), images_decl=images_decl,
           **images)


def print_report(report, vm_name):
    for path, addr in report.unreachable:
        print("vmm-config: guest will not have %s (0x%x): disabled, not mapped into VM '%s'" %
              (path, addr, vm_name))
    for path, addr, below in report.omitted:
        print("vmm-config: guest will not have %s (0x%x): omitted%s, not mapped into VM '%s'" %
              (path, addr, " with the %d node(s) inside it" % below if below else "", vm_name))
    for path, addr, inner in report.kept:
        print("vmm-config: guest keeps %s (0x%x), which VM '%s' cannot reach, for %s inside it" %
              (path, addr, vm_name, inner))
    for path, prop, why in report.removed:
        print("vmm-config: guest will not have %s: omitted, its %s refers to %s" %
              (path, prop, why))
    for path, props, why in report.dropped:
        print("vmm-config: guest's %s: no %s (refers to %s)" % (path, ", ".join(props), why))
    for path, prop, lost in report.stale:
        print("vmm-config: guest's %s: no %s (names %s, which the guest does not have)" %
              (path, prop, lost))


def report_hw_rng(board, system):
    """The VMM has no driver for any board's RNG yet: say so when the board has one, so the
    boot log's "counter mix" is no surprise."""
    for node in board.nodes.values():
        compat = node.strings("compatible")
        if node.enabled() and any(c.endswith("-rng") or c.endswith(",rng") or c.endswith("-trng")
                                  for c in compat):
            print("vmm-config: %s has a hardware RNG (%s, \"%s\") the VMM has no driver for: "
                  "VM '%s' gets its boot seeds from the counter mix" %
                  (os.path.basename(board.path), node.path, compat[0], system.vm_name))
            return


def compile_dts(dts, out):
    res = subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", out, dts],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if res.returncode != 0:
        first = (res.stderr.strip().splitlines() or ["dtc failed"])[0]
        raise ToolError("%s: does not compile: %s" % (dts, first))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--system", required=True,
                    help="the system file, as tools/vmm-system.py expanded it")
    ap.add_argument("--vm", help="the VM to configure (needed when the system has several)")
    ap.add_argument("--plan", help="tools/vmm-system.py's plan: the VM's devices and wake-ups")
    ap.add_argument("--board-dtb", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd")
    ap.add_argument("--guest-dts", help="the user's own guest DTS (else derived from the board)")
    ap.add_argument("--bootargs", help="the guest's command line (default: Linux's console and "
                    "rdinit for a Linux guest, none for a raw one; \"\" gives an empty one)")
    ap.add_argument("--unreachable-devices", choices=["omit", "disable"],
                    help="device nodes of the board the VM cannot reach: deleted from the guest "
                    "DTB (omit; the default for raw guests) or set to status = \"disabled\" "
                    "(the default for Linux)")
    ap.add_argument("--protocol", choices=["linux", "raw"], default="linux")
    ap.add_argument("--raw-addr", type=lambda s: int(s, 0))
    ap.add_argument("--raw-entry", type=lambda s: int(s, 0))
    ap.add_argument("--gic-lrs", type=int, default=4,
                    help="list registers of the board's GIC (not in the DTB; 4 on Cortex-A cores)")
    ap.add_argument("--strict-devices", action="store_true",
                    help="with --guest-dts: a device the VM cannot reach is an error, not a warning")
    ap.add_argument("--sdk-config", help="the SDK's kernel/gen_config.h, to check its GIC version")
    ap.add_argument("--trace-mmio", action="store_true",
                    help="the VMM logs every emulated MMIO access (for replay traces)")
    ap.add_argument("--preload-images", metavar="FILE",
                    help="GUEST_IMAGES=preload: write the kernel and initrd with their header to "
                    "FILE for the boot loader to place (FILE.json says where the VMM maps it), "
                    "instead of the VMM carrying them")
    ap.add_argument("--out-c", required=True)
    ap.add_argument("--out-dtb", required=True)
    args = ap.parse_args()
    try:
        run(args)
    except ToolError as e:
        print("vmm-config: error: %s" % e, file=sys.stderr)
        sys.exit(1)


def load_plan(path, vm_name):
    if not path:
        return None
    try:
        with open(path) as f:
            plan = json.load(f)
    except (OSError, ValueError) as e:
        raise ToolError("%s: cannot read the system plan: %s" % (path, e))
    for vm in plan["vms"]:
        if vm["vm"] == vm_name:
            return vm
    raise ToolError("%s: the plan has no VM '%s'" % (path, vm_name))


def write_preload(args, system, kernel_blob):
    """The images file and, beside it, what tools/vmm-preload.py needs to place and map it."""
    try:
        initrd = b""
        if args.initrd:
            with open(args.initrd, "rb") as f:
                initrd = f.read()
    except OSError as e:
        raise ToolError("%s: cannot read: %s" % (e.filename, e.strerror))
    img = preload.Images(kernel_blob, initrd)
    pre = dict(vaddr=preload.vmm_vaddr(system), file=args.preload_images, images=img)
    info = dict(vm=system.vm_name, pd=system.pd_name, vaddr=pre["vaddr"], size=img.region_size,
                file=args.preload_images, symbol=PRELOAD_PADDR_SYMBOL)
    try:
        write_if_changed(args.preload_images, img.blob)
        write_if_changed(args.preload_images + ".json",
                         json.dumps(info, indent=1, sort_keys=True) + "\n")
    except OSError as e:
        raise ToolError("%s: cannot write: %s" % (e.filename, e.strerror))
    return pre


def run(args):
    system = sysfile.VmmSystem(args.system, args.vm)
    vm_plan = load_plan(args.plan, system.vm_name)
    board = fdt.load(args.board_dtb)
    plat = platform.Platform(board)
    check_system(plat, system, args.board_dtb)
    devices = vm_plan["virtio"] if vm_plan else []
    for d in devices:
        if d["irq"] >= plat.num_irqs:
            plat.num_irqs = min((d["irq"] + 1 + 31) // 32 * 32, 1024)
    if args.sdk_config:
        check_sdk_gic(args.sdk_config, plat, args.board_dtb)
    ram_base, ram_size, _ = system.guest_ram()
    try:
        with open(args.kernel, "rb") as f:
            kernel = kernel_blob = f.read()
        kernel_gzip = kernel[:2] == b"\x1f\x8b"
        if kernel_gzip:
            try:
                kernel = gzip.decompress(kernel)
            except (OSError, EOFError, zlib.error) as e:
                raise ToolError("%s: gzip data is corrupt: %s" % (args.kernel, e))
        initrd_size = os.path.getsize(args.initrd) if args.initrd else 0
    except OSError as e:
        raise ToolError("%s: cannot read: %s" % (e.filename, e.strerror))
    lay = layout.plan(ram_base, ram_size, kernel, args.kernel, initrd_size, args.protocol,
                      args.raw_addr, args.raw_entry)
    bootargs = args.bootargs
    console = vm_plan["console"] if vm_plan else None
    tty = console or plat.uart_tty
    if bootargs is None and args.protocol == "linux" and tty:
        bootargs = "console=%s rdinit=/init" % tty
    omit = (args.unreachable_devices or ("omit" if args.protocol == "raw" else "disable")) == "omit"
    if args.guest_dts:
        src = fdt.load(compile_dts(args.guest_dts, args.out_dtb + ".user"))
        if bootargs is not None and args.bootargs is None and "/chosen" in src.nodes and \
                "bootargs" in src.nodes["/chosen"].props:
            bootargs = None  # the user's DTS has its own and BOOTARGS does not override it
        blob, report = guestdtb.build(src, plat, system, lay, bootargs, generated=False)
        for path, addr in report.unreachable:
            msg = "%s: %s (0x%x) is enabled but the VM cannot reach it" % (args.guest_dts, path,
                                                                           addr)
            if args.strict_devices:
                raise ToolError(msg + " (map it in the system file or set status = \"disabled\")")
            print("vmm-config: warning: " + msg, file=sys.stderr)
    else:
        blob, report = guestdtb.build(board, plat, system, lay, bootargs, generated=True,
                                      omit=omit, virtio=devices, console=console)
        print_report(report, system.vm_name)
    report_hw_rng(board, system)
    with open(args.out_dtb, "wb") as f:
        f.write(blob)
    pre = write_preload(args, system, kernel_blob) if args.preload_images else None
    with open(args.out_c, "w") as f:
        f.write(c_config(args, system, plat, lay, args.gic_lrs, kernel_gzip, vm_plan, pre))
    print("vmm-config: %s: %s" % (os.path.basename(args.board_dtb), plat.describe()))
    if pre:
        print("vmm-config: VM '%s': kernel and initrd in %s (%d MiB) for the boot loader to "
              "place, mapped at 0x%x in the VMM" % (
                  system.vm_name, args.preload_images, pre["images"].region_size >> 20,
                  pre["vaddr"]))
    print("vmm-config: VM '%s': %d vCPU(s), %d MiB RAM at 0x%x, kernel 0x%x, initrd 0x%x (%d "
          "bytes), dtb 0x%x (%d bytes)" % (system.vm_name, len(system.vcpus), ram_size >> 20,
                                            ram_base, lay.kernel_addr, lay.initrd_addr,
                                            lay.initrd_size, lay.dtb_addr, len(blob)))


if __name__ == "__main__":
    main()
