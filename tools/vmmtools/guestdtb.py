"""Building the guest's device tree from the board's (or the user's) and the system file."""
import libfdt

from . import ToolError

DTB_MAX = 2 * 1024 * 1024
GICV3_REDIST_STRIDE = 0x20000


def u32s(*vals):
    return b"".join(int(v).to_bytes(4, "big") for v in vals)


def encode_reg(addr, size, ac, sc):
    out = b""
    for val, n in ((addr, ac), (size, sc)):
        out += int(val).to_bytes(4 * n, "big")
    return out


class Editor:
    """Path-addressed edits of a DTB (libfdt offsets move after every change)."""

    def __init__(self, data, name):
        self.name = name
        self.fdt = libfdt.Fdt(bytearray(data))
        self.fdt.resize(self.fdt.totalsize() + 64 * 1024)

    def off(self, path):
        return self.fdt.path_offset(path)

    def exists(self, path):
        return self.fdt.path_offset(path, quiet=(libfdt.NOTFOUND,)) >= 0

    def setprop(self, path, name, value):
        self.fdt.setprop(self.off(path), name, value)

    def setstr(self, path, name, value):
        self.fdt.setprop_str(self.off(path), name, value)

    def delprop(self, path, name):
        self.fdt.delprop(self.off(path), name, quiet=(libfdt.NOTFOUND,))

    def delnode(self, path):
        self.fdt.del_node(self.off(path))

    def addnode(self, parent, name):
        self.fdt.add_subnode(self.off(parent), name)
        return parent.rstrip("/") + "/" + name

    def blob(self):
        self.fdt.pack()
        return bytes(self.fdt.as_bytearray())


def reachable(addr, size, windows):
    return any(addr >= b and addr + size <= b + s for b, s in windows)


def device_report(dt, windows, emulated):
    """Device nodes the guest cannot reach: (node, address) for every enabled MMIO node whose
    registers lie outside the VM's mappings and the VMM's emulated regions."""
    out = []
    for node in dt.nodes.values():
        if not dt.is_mmio_node(node) or not node.enabled():
            continue
        regs = dt.reg(node)
        if not regs:
            continue
        if all(reachable(a, s, windows + emulated) for a, s in regs if s):
            continue
        out.append((node, regs[0][0]))
    return out


def build(dt, plat, system, layout, bootargs, generated):
    try:
        return _build(dt, plat, system, layout, bootargs, generated)
    except (libfdt.FdtException, TypeError, SystemError) as e:
        raise ToolError("%s: cannot derive the guest device tree: %s" %
                        (dt.path, str(e).splitlines()[0]))


def _build(dt, plat, system, layout, bootargs, generated):
    """Return the guest DTB bytes and the list of (node path, address) disabled or reported.

    generated: True when the DTB comes from the board's tree (we own it: unreachable devices are
    disabled); False for a user's DTS (unreachable devices are only reported)."""
    ram_base, ram_size, _ = system.guest_ram()
    ed = Editor(dt.data, dt.path)
    root = dt.root
    ac = root.u32("#address-cells", 2)
    sc = root.u32("#size-cells", 1)
    nvcpus = len(system.vcpus)

    windows = [(a, s) for a, s, _ in system.vm_device_maps()] + [(ram_base, ram_size)]
    emulated = [plat.gicd]
    if plat.gic_version == 3:
        emulated.append((plat.gicr[0], nvcpus * GICV3_REDIST_STRIDE))
    problems = device_report(dt, windows, emulated)

    if generated:
        # Memory: exactly guest RAM.
        for node in list(dt.root.children):
            if node.props.get("device_type") == b"memory\0":
                ed.delnode(node.path)
        mem = ed.addnode("/", "memory@%x" % ram_base)
        ed.setstr(mem, "device_type", "memory")
        ed.setprop(mem, "reg", encode_reg(ram_base, ram_size, ac, sc))

        # PSCI through SMC: seL4 takes HVC as its own system call when x7 names one.
        if not ed.exists("/psci"):
            ed.addnode("/", "psci")
        ed.setprop("/psci", "compatible", b"arm,psci-1.0\0arm,psci-0.2\0arm,psci\0")
        ed.setstr("/psci", "method", "smc")
        for prop in ("cpu_suspend", "cpu_off", "cpu_on", "migrate"):
            ed.delprop("/psci", prop)

        _cpus(dt, ed, nvcpus)
        _gic(dt, plat, ed, nvcpus)
        for node, _ in problems:
            if node.path == plat.gic.path or node.path.startswith(plat.gic.path + "/"):
                continue
            ed.setstr(node.path, "status", "disabled")

    if not ed.exists("/chosen"):
        ed.addnode("/", "chosen")
    if generated or "bootargs" not in (dt.nodes.get("/chosen").props if "/chosen" in dt.nodes else {}):
        ed.setstr("/chosen", "bootargs", bootargs)
    if generated and plat.uart is not None:
        ed.setstr("/chosen", "stdout-path", plat.uart.path)
    if layout.initrd_size:
        ed.setprop("/chosen", "linux,initrd-start", layout.initrd_addr.to_bytes(8, "big"))
        ed.setprop("/chosen", "linux,initrd-end",
                   (layout.initrd_addr + layout.initrd_size).to_bytes(8, "big"))
    blob = ed.blob()
    if len(blob) > DTB_MAX:
        raise ToolError("%s: guest device tree is %d bytes, over the 2 MiB Linux accepts" %
                        (dt.path, len(blob)))
    return blob, [(n.path, a) for n, a in problems
                  if not (n.path == plat.gic.path or n.path.startswith(plat.gic.path + "/"))]


def _cpus(dt, ed, nvcpus):
    cpus = dt.nodes.get("/cpus")
    if cpus is None:
        raise ToolError("%s: no /cpus node" % dt.path)
    cpu_nodes = [n for n in cpus.children if n.props.get("device_type") == b"cpu\0"]
    if not cpu_nodes:
        raise ToolError("%s: /cpus has no cpu nodes" % dt.path)
    template = cpu_nodes[0]
    for n in cpu_nodes:
        ed.delnode(n.path)
    # cpu-map and the like refer to the deleted nodes' phandles.
    for n in cpus.children:
        if n not in cpu_nodes and ed.exists(n.path):
            ed.delnode(n.path)
    cac = cpus.u32("#address-cells", 1)
    # libfdt adds a subnode in front of its siblings: add the last CPU first.
    for i in reversed(range(nvcpus)):
        path = ed.addnode("/cpus", "cpu@%x" % i)
        for name, value in template.props.items():
            if name in ("phandle", "linux,phandle") and i == 0:
                ed.setprop(path, name, value)  # others may refer to the boot CPU
                continue
            if name in ("phandle", "linux,phandle", "reg", "enable-method", "cpu-release-addr",
                        "next-level-cache", "cpu-idle-states", "clocks", "operating-points-v2",
                        "#cooling-cells", "dynamic-power-coefficient", "capacity-dmips-mhz"):
                continue
            ed.setprop(path, name, value)
        ed.setprop(path, "reg", i.to_bytes(4 * cac, "big"))
        ed.setstr(path, "enable-method", "psci")


def _gic(dt, plat, ed, nvcpus):
    gic = plat.gic
    pac = gic.parent.u32("#address-cells", 2)
    psc = gic.parent.u32("#size-cells", 1)
    if plat.gic_version == 2:
        # The guest sees a distributor (emulated) and a CPU interface (the vCPU interface mapped
        # at the CPU interface address); no hypervisor interfaces, no maintenance interrupt.
        reg = encode_reg(plat.gicd[0], plat.gicd[1], pac, psc) + \
            encode_reg(plat.gicc[0], plat.gicc[1], pac, psc)
    else:
        # Exactly one redistributor (RD + SGI frames) per vCPU; no ITS, no GICC/GICH/GICV.
        reg = encode_reg(plat.gicd[0], plat.gicd[1], pac, psc) + \
            encode_reg(plat.gicr[0], nvcpus * GICV3_REDIST_STRIDE, pac, psc)
        ed.delprop(gic.path, "#redistributor-regions")
        ed.delprop(gic.path, "redistributor-stride")
    ed.setprop(gic.path, "reg", reg)
    ed.delprop(gic.path, "interrupts")
    for child in gic.children:
        ed.delnode(child.path)
