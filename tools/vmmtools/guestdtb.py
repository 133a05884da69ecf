"""Building the guest's device tree from the board's (or the user's) and the system file."""
import libfdt

from . import ToolError, dtrefs, fdt

DTB_MAX = 2 * 1024 * 1024
# What the VMM's kaslr-seed and rng-seed may add at boot (src/core/seed.c): a /chosen node, and
# the two properties with their names.
SEED_ROOM = 16 + (12 + 8 + 11) + (12 + 64 + 9)
SEED_PROPS = ("kaslr-seed", "rng-seed")
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

    def has(self, path, name):
        # pylibfdt answers a quiet NOTFOUND with the error number instead of a property.
        return not isinstance(self.fdt.getprop(self.off(path), name, quiet=(libfdt.NOTFOUND,)),
                              int)

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
    return [(n, a) for n, a in unreachable_nodes(dt, windows, emulated) if n.enabled()]


def unreachable_nodes(dt, windows, emulated):
    """(node, address) for every MMIO node, enabled or not, with registers the guest cannot
    reach."""
    out = []
    for node in dt.nodes.values():
        if not dt.is_mmio_node(node):
            continue
        regs = dt.reg(node)
        if not regs:
            continue
        if all(reachable(a, s, windows + emulated) for a, s in regs if s):
            continue
        out.append((node, regs[0][0]))
    return out


class Report:
    """What the build did to the board's tree, for the tool's output lines."""

    def __init__(self):
        self.unreachable = []  # (path, address): disabled, or (user DTS) only reported
        self.omitted = []      # (path, address, nodes below it)
        self.kept = []         # (path, address, reachable node inside it)
        self.removed = []      # (path, property, why): a node that referred to a lost node
        self.dropped = []      # (path, [properties], why)
        self.stale = []        # (path, property, lost path)


def build(dt, plat, system, layout, bootargs, generated, omit=False, virtio=(), console=None):
    """Return the guest DTB bytes and a Report. `virtio`: the VM's virtio-mmio devices (dicts with
    base, size, irq); `console`: the node the guest's console is, when not the board's UART
    (None: the UART)."""
    try:
        return _build(dt, plat, system, layout, bootargs, generated, omit, virtio, console)
    except (libfdt.FdtException, TypeError, SystemError) as e:
        raise ToolError("%s: cannot derive the guest device tree: %s" %
                        (dt.path, str(e).splitlines()[0]))


def _under(path, top):
    return path == top or path.startswith(top.rstrip("/") + "/")


def _build(dt, plat, system, layout, bootargs, generated, omit, virtio, console):
    """generated: True when the DTB comes from the board's tree (we own it: unreachable devices
    are disabled or, with omit, deleted); False for a user's DTS (unreachable devices are only
    reported). bootargs None: leave /chosen/bootargs as it is (none in a generated tree)."""
    ram_base, ram_size, _ = system.guest_ram()
    ed = Editor(dt.data, dt.path)
    root = dt.root
    ac = root.u32("#address-cells", 2)
    sc = root.u32("#size-cells", 1)
    nvcpus = len(system.vcpus)
    report = Report()

    windows = [(a, s) for a, s, _ in system.vm_device_maps()] + [(ram_base, ram_size)]
    emulated = [plat.gicd] + [(d["base"], d["size"]) for d in virtio]
    if plat.gic_version == 3:
        emulated.append((plat.gicr[0], nvcpus * GICV3_REDIST_STRIDE))
    lost = [(n, a) for n, a in unreachable_nodes(dt, windows, emulated)
            if not _under(n.path, plat.gic.path)]

    if generated:
        # Nodes that stay whatever else goes: what every guest needs, each device the guest can
        # reach and every node on the way to it (a bus whose own registers are out of reach
        # still holds a UART that is not).
        lost_paths = {n.path for n, _ in lost}
        keep = {"/", "/chosen", "/aliases", "/cpus", "/psci", plat.timer.path, plat.gic.path}
        if plat.uart is not None and console is None:
            keep.add(plat.uart.path)  # the guest's console (a VM with a virtio one lacks it)
        holds = {}  # kept node -> a reachable device inside it (the console if it is one)
        devices = [n for n in dt.nodes.values() if dt.is_mmio_node(n) and n.path not in lost_paths]
        devices.sort(key=lambda n: n is not plat.uart)
        for node in devices:
            keep.add(node.path)
            anc = node.parent
            while anc is not None:
                keep.add(anc.path)
                holds.setdefault(anc.path, node.path)
                anc = anc.parent
        for node in dt.root.children:
            if node.props.get("device_type") == b"memory\0":
                keep.add(node.path)

        # Memory: exactly guest RAM.
        for node in list(dt.root.children):
            if node.props.get("device_type") == b"memory\0":
                ed.delnode(node.path)
        mem = ed.addnode("/", "memory@%x" % ram_base)
        keep.add(mem)
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
        keep.update(_virtio(dt, plat, ed, virtio, ac, sc))
        gone = []  # deleted subtrees
        for node, addr in lost:
            if node.path in keep:
                if node.enabled() or omit:
                    report.kept.append((node.path, addr, holds.get(node.path, node.path)))
                continue
            if not omit:
                if node.enabled():
                    ed.setstr(node.path, "status", "disabled")
                    report.unreachable.append((node.path, addr))
                continue
            if any(_under(node.path, g) for g in gone):
                continue
            below = sum(1 for p in dt.nodes if _under(p, node.path)) - 1
            ed.delnode(node.path)
            gone.append(node.path)
            report.omitted.append((node.path, addr, below))
    else:
        report.unreachable = [(n.path, a) for n, a in lost if n.enabled()]

    if not ed.exists("/chosen"):
        ed.addnode("/", "chosen")
    if bootargs is not None:
        ed.setstr("/chosen", "bootargs", bootargs)
    if generated and console is None and plat.uart is not None:
        ed.setstr("/chosen", "stdout-path", plat.uart.path)
    elif generated:
        ed.delprop("/chosen", "stdout-path")
    if layout.initrd_size:
        ed.setprop("/chosen", "linux,initrd-start", layout.initrd_addr.to_bytes(8, "big"))
        ed.setprop("/chosen", "linux,initrd-end",
                   (layout.initrd_addr + layout.initrd_size).to_bytes(8, "big"))
    # Seeds are the VMM's to write, fresh at every boot: none from the build may reach a guest.
    for prop in SEED_PROPS:
        ed.delprop("/chosen", prop)
    blob = ed.blob()
    if generated:
        blob = _repair_references(blob, dt.path, keep, report)
    if len(blob) + SEED_ROOM > DTB_MAX:
        raise ToolError("%s: guest device tree is %d bytes, over the 2 MiB Linux accepts less "
                        "the %d bytes the VMM adds at boot" % (dt.path, len(blob), SEED_ROOM))
    return blob, report


def _repair_references(blob, path, keep, report):
    """Make every phandle reference of the tree hold again after nodes were deleted (unreachable
    devices, CPUs the VM does not have): a node the guest keeps (see `keep`) or a device node
    loses the properties that refer to lost nodes; any other node (a consumer without registers:
    gpio-keys, a thermal zone's cooling map, a regulator) goes. Aliases to lost nodes go too."""
    for _ in range(32):
        dt = fdt.DeviceTree(blob, path)
        problems = dtrefs.broken_refs(dt)
        stale = dtrefs.stale_paths(dt)
        if not problems and not stale:
            return blob
        ed = Editor(blob, path)
        gone = []
        for node, prop, why in problems:
            if any(_under(node.path, g) for g in gone):
                continue
            if node.path in keep or _under(node.path, "/cpus") or dt.is_mmio_node(node):
                props = [p for p in dtrefs.companions(node, prop) if ed.has(node.path, p)]
                for p in props:
                    ed.delprop(node.path, p)
                if props:
                    report.dropped.append((node.path, props, why))
            else:
                ed.delnode(node.path)
                gone.append(node.path)
                report.removed.append((node.path, prop, why))
        for node, prop, lost in stale:
            if not any(_under(node.path, g) for g in gone):
                ed.delprop(node.path, prop)
                report.stale.append((node.path, prop, lost))
        blob = ed.blob()
    raise ToolError("%s: the guest device tree's references do not settle" % path)


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
    if cac not in (1, 2):
        raise ToolError("%s: /cpus has #address-cells = %d (an MPIDR takes 1 or 2)" % (dt.path, cac))
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


def _virtio(dt, plat, ed, virtio, ac, sc):
    """A virtio,mmio node for each of the VM's devices: the board's node at that address when
    there is one (QEMU's slots), enabled; a new one otherwise. Returns their paths."""
    paths = []
    gic_phandle = plat.gic.u32("phandle")
    for dev in virtio:
        node = next((n for n in dt.nodes.values() if "virtio,mmio" in n.strings("compatible") and
                     dt.is_mmio_node(n) and dt.reg(n)[0][0] == dev["base"]), None)
        if node is not None:
            path = node.path
        else:
            path = ed.addnode("/", "virtio_mmio@%x" % dev["base"])
            ed.setstr(path, "compatible", "virtio,mmio")
            ed.setprop(path, "reg", encode_reg(dev["base"], dev["size"], ac, sc))
            if gic_phandle is not None:
                ed.setprop(path, "interrupt-parent", u32s(gic_phandle))
            ed.setprop(path, "dma-coherent", b"")
        ed.setprop(path, "interrupts", u32s(0, dev["irq"] - 32, 4))
        ed.setstr(path, "status", "okay")
        paths.append(path)
    return paths
