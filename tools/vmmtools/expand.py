"""Expanding a user's system file into plain Microkit 2.0.1 XML.

The user writes one system file: memory regions, protection domains, VMs, channels, and device
declarations inside a <virtual_machine> (<virtio_console/>, ...). This module checks it as a whole
(several VMs, what they share, which IRQ goes where), turns the declarations into what Microkit
takes (backend PDs, shared regions, their maps, channels, the wake-up timer) and describes, for the
rest of the build, what each VM and each generated PD gets (the plan). Mistakes stop the build with
one line naming the file, the VM or PD, and the problem; things the file lacks that the build can
supply are added with a line saying so.
"""
import copy
import os
import xml.etree.ElementTree as ET

from . import ToolError, network

PAGE = 0x1000
MAX_CHANNEL_ID = 62  # Microkit 2.0.1: channel and IRQ ids 0..61
PTIMER_NOTE = "the VMM's wake-up timer (EL1 physical timer PPI)"

# Where generated regions go in a PD's address space: above anything a system file maps by habit.
GENERATED_VADDR_BASE = 0x10_0000_0000

# Connections (proto/conn.h): ring capacity and data region sizes per kind of device.
SERIAL_RING_CAPACITY = 32
SERIAL_DATA_SIZE = 0x4000

# Generated PDs. Backends run above the guests (which run at 100 in the examples) and below the
# VMMs, so a VMM's exit handling is never delayed by them; the timer matches the VMMs.
SERIAL_MUX_PD = "serial_mux"
SERIAL_MUX_MAX_CLIENTS = 9
SERIAL_MUX_PRIORITY = 200
TIMER_PD = "timer"
TIMER_PRIORITY = 254

# Each vCPU of a VM is a seL4 thread with a scheduling context of its own; Microkit 2.0.1 gives a
# <virtual_machine> without budget/period a 1000 us budget and an equal period, i.e. round-robin
# time slices of 1 ms. On one core a vCPU that spins for another one seL4 has preempted (a lock
# holder, the CPU that answers an IPI, stop_machine) burns its whole slice first, unseen by the VMM
# when it spins with YIELD, or with WFE on QEMU, which never traps WFE. An SMP VM therefore gets
# shorter slices, which bound that waste; the cost is one timer interrupt per slice while a vCPU
# runs alone (about 0.4 % at 100 us). bench/smp_cost.py measures both.
SMP_TIME_SLICE_US = 100

UART_DRIVERS = {"arm,pl011": "pl011"}

# Block servers (<block_server>, proto/blk.h): one per storage device, a range of it per client.
BLK_SERVER_PRIORITY = 200
BLK_SERVER_STACK = 0x4000  # partition tables are read into sectors on the stack
BLK_SERVER_MAX_CLIENTS = 8
BLK_RING_CAPACITY = 64  # requests in flight per client
BLK_DATA_CHUNK = 0x20_0000  # client data regions are 2 MiB pages: each physically contiguous
BLK_DATA_CHUNKS = 4  # 8 MiB of requests in flight per client
BLK_DMA_SIZE = 0x20_0000  # the storage driver's queue and buffers, one 2 MiB page
# QEMU's virtio-blk-device queue (default 256): 1024 makes its seg_max 1022, so a direct request
# of 256 segments (BLK_DIRECT_MAX_SEGS) fits (drivers/virtio_blk asks for up to 1024).
QEMU_BLK_QUEUE_SIZE = 1024
BLK_STORAGE_DRIVERS = {"virtio,mmio": "virtio"}
BLK_SERVER_ATTRS = {"name", "device", "ramdisk", "priority"}
VIRTIO_BLK_ATTRS = {"server", "partition", "offset", "size", "read_only"}
# The QEMU disk image the build makes for a virtio block server: a partition of this size for
# each partition number its clients name (tools/make-disk-image.py).
QEMU_DISK_PARTITION_MIB = 128

DEVICE_TAGS = ("virtio_console", "virtio_blk", "virtio_net")
# Declarations a native PD may hold: it is a client of the serial multiplexer, a port of a
# virtual switch; and what a VM has instead.
PD_TAGS = ("serial_client", "net_client")
VM_EQUIVALENT = {"serial_client": "a VM's console is <virtio_console/>",
                 "net_client": "a VM's network device is <virtio_net switch=\"...\"/>"}

# The program kinds the build has (components/<kind>/): a PD of the file whose program image is
# <kind>.elf is an instance of one, built with the configuration the build writes for it.
COMPONENTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "components")


def component_kinds():
    try:
        return {k for k in os.listdir(COMPONENTS_DIR)
                if os.path.exists(os.path.join(COMPONENTS_DIR, k, "component.mk"))}
    except OSError:
        return set()

VIRTIO_MMIO_SIZE = 0x200


def parse_int(text, what, path):
    try:
        return int(str(text).replace("_", ""), 0)
    except (ValueError, AttributeError, TypeError):
        raise ToolError("%s: %s %r is not a number" % (path, what, text))


def overlap(a, alen, b, blen):
    return alen > 0 and blen > 0 and a < b + blen and b < a + alen


def round_up(v, a):
    return (v + a - 1) // a * a


class Region:
    def __init__(self, el, path):
        self.el = el
        self.name = el.get("name")
        self.size = parse_int(el.get("size"), "size of memory region '%s'" % self.name, path)
        phys = el.get("phys_addr")
        self.phys = parse_int(phys, "phys_addr of memory region '%s'" % self.name,
                              path) if phys is not None else None
        page = el.get("page_size")
        self.page = parse_int(page, "page_size of memory region '%s'" % self.name,
                              path) if page else PAGE


class Pd:
    """A protection domain of the file (or one the build adds)."""

    def __init__(self, el, path):
        self.el = el
        self.path = path
        self.name = el.get("name")
        self.vm_el = el.find("virtual_machine")
        self.vm_name = self.vm_el.get("name") if self.vm_el is not None else None

    def maps(self):
        return self.el.findall("map")

    def vm_maps(self):
        return self.vm_el.findall("map") if self.vm_el is not None else []

    def irqs(self):
        return [(parse_int(i.get("irq"), "irq number in PD '%s'" % self.name, self.path),
                 parse_int(i.get("id"), "irq id in PD '%s'" % self.name, self.path), i)
                for i in self.el.findall("irq")]


class Expansion:
    def __init__(self, path, dt, plat, out_messages):
        self.path = path
        self.dt = dt
        self.plat = plat
        self.say = out_messages  # list of lines for the build output
        try:
            self.tree = ET.parse(path)
        except ET.ParseError as e:
            raise ToolError("%s: not a valid system file: %s" % (path, e))
        except OSError as e:
            raise ToolError("%s: cannot read: %s" % (path, e.strerror))
        self.root = self.tree.getroot()
        if self.root.tag != "system":
            raise ToolError("%s: root element is <%s>, expected <system>" % (path, self.root.tag))
        self.regions = {}
        for el in self.root.iter("memory_region"):
            r = Region(el, path)
            if r.name in self.regions:
                raise ToolError("%s: memory region '%s' is defined twice" % (path, r.name))
            self.regions[r.name] = r
        self.pds = [Pd(el, path) for el in self.root.iter("protection_domain")]
        names = {}
        for pd in self.pds:
            if pd.name in names:
                raise ToolError("%s: two protection domains are named '%s'" % (path, pd.name))
            names[pd.name] = pd
        self.pd_by_name = names
        self.vmms = [pd for pd in self.pds if pd.vm_el is not None]
        self.plan = {"vms": [], "components": [], "qemu_args": [], "qemu_disks": []}

    # ---- small helpers ------------------------------------------------------------------------

    def warn(self, msg):
        self.say.append("vmm-system: warning: %s: %s" % (self.path, msg))

    def note(self, msg):
        self.say.append("vmm-system: %s" % msg)

    def region_of(self, map_el, who):
        mr = map_el.get("mr")
        if mr not in self.regions:
            raise ToolError("%s: %s maps memory region '%s', which the system file does not "
                            "define" % (self.path, who, mr))
        return self.regions[mr]

    def channel_ids(self, pd_name):
        used = set()
        pd = self.pd_by_name[pd_name]
        for _, cid, _ in pd.irqs():
            used.add(cid)
        for ch in self.root.findall("channel"):
            for end in ch.findall("end"):
                if end.get("pd") == pd_name:
                    used.add(parse_int(end.get("id"), "channel id of PD '%s'" % pd_name,
                                       self.path))
        return used

    def free_channel_id(self, pd_name):
        used = self.channel_ids(pd_name)
        for cid in range(MAX_CHANNEL_ID):
            if cid not in used:
                return cid
        raise ToolError("%s: protection domain '%s' has no free channel id left (0..%d)" %
                        (self.path, pd_name, MAX_CHANNEL_ID - 1))

    def add_channel(self, pd_a, pd_b):
        """A channel between two PDs; returns (id at a, id at b)."""
        ida, idb = self.free_channel_id(pd_a), self.free_channel_id(pd_b)
        ch = ET.SubElement(self.root, "channel")
        ET.SubElement(ch, "end", pd=pd_a, id=str(ida))
        ET.SubElement(ch, "end", pd=pd_b, id=str(idb))
        return ida, idb

    def add_region(self, name, size, phys=None, page_size=None):
        if name in self.regions:
            raise ToolError("%s: memory region '%s' is one the build adds; rename yours" %
                            (self.path, name))
        attrs = {"name": name, "size": "0x%x" % size}
        if phys is not None:
            attrs["phys_addr"] = "0x%x" % phys
        if page_size is not None:
            attrs["page_size"] = "0x%x" % page_size
        el = ET.Element("memory_region", attrs)
        # Regions come first in the file, in the order they were added.
        index = len(self.root.findall("memory_region"))
        self.root.insert(index, el)
        self.regions[name] = Region(el, self.path)
        return self.regions[name]

    def free_vaddr(self, pd_name, size):
        """A page-aligned virtual address range of `size` bytes the PD maps nothing at."""
        pd = self.pd_by_name[pd_name]
        used = []
        for m in pd.maps():
            r = self.region_of(m, "protection domain '%s'" % pd_name)
            used.append((parse_int(m.get("vaddr"), "vaddr", self.path), round_up(r.size, r.page)))
        addr = GENERATED_VADDR_BASE
        while True:
            clash = [(a, s) for a, s in used if overlap(addr, size, a, s)]
            if not clash:
                return addr
            addr = round_up(max(a + s for a, s in clash), 0x20_0000)

    def add_map(self, pd_name, region, perms, vaddr=None, cached=True):
        pd = self.pd_by_name[pd_name]
        if vaddr is None:
            vaddr = self.free_vaddr(pd_name, round_up(region.size, region.page))
        attrs = {"mr": region.name, "vaddr": "0x%x" % vaddr, "perms": perms}
        if not cached:
            attrs["cached"] = "false"
        pd.el.insert(self._before_vm(pd), ET.Element("map", attrs))
        return vaddr

    def add_pd(self, name, priority, elf):
        if name in self.pd_by_name:
            raise ToolError("%s: protection domain '%s' is one the build adds; rename yours" %
                            (self.path, name))
        el = ET.SubElement(self.root, "protection_domain", name=name, priority=str(priority))
        ET.SubElement(el, "program_image", path=elf)
        pd = Pd(el, self.path)
        self.pds.append(pd)
        self.pd_by_name[name] = pd
        return pd

    # ---- steps ----------------------------------------------------------------------------------

    def normalise_seed_form(self):
        """The seL4CP manual's form: <virtual_machine name=... id=...>, no <vcpu>."""
        for pd in self.vmms:
            vm = pd.vm_el
            if vm.get("id") is not None:
                del vm.attrib["id"]
                self.warn("virtual machine '%s': the sel4cp 'id' attribute is not Microkit "
                          "2.0.1's; dropped" % pd.vm_name)
            if not vm.findall("vcpu"):
                vcpu = ET.Element("vcpu", id="0")
                vm.insert(0, vcpu)
                self.warn("virtual machine '%s' has no <vcpu>: it gets one (<vcpu id=\"0\"/>)" %
                          pd.vm_name)
            if vm.get("priority") is None:
                self.warn("virtual machine '%s' has no priority: Microkit's default applies" %
                          pd.vm_name)

    def smp_time_slices(self):
        """A VM of several vCPUs whose file sets neither budget nor period gets short time slices
        (SMP_TIME_SLICE_US); a file that sets either keeps what it says."""
        for pd in self.vmms:
            vm = pd.vm_el
            vcpus = len(vm.findall("vcpu"))
            if vcpus < 2 or vm.get("budget") is not None or vm.get("period") is not None:
                continue
            vm.set("budget", str(SMP_TIME_SLICE_US))
            vm.set("period", str(SMP_TIME_SLICE_US))
            self.note("virtual machine '%s' (%d vCPUs): each vCPU gets time slices of %d us "
                      "(budget and period), not Microkit's 1000; set budget/period on "
                      "<virtual_machine> to choose" % (pd.vm_name, vcpus, SMP_TIME_SLICE_US))

    def check_passthrough_uart(self):
        """A VM given the UART without its interrupt could print only what fits the UART's FIFO
        and read nothing: its VMM gets the interrupt, when no other PD has it."""
        uart = self.plat.uart
        if uart is None:
            return
        ints = uart.cells("interrupts") or []
        if len(ints) < 3 or ints[0] != 0:
            return
        uart_irq = ints[1] + 32
        addr, size = self.dt.reg(uart)[0]
        for pd in self.vmms:
            maps_uart = any(
                r.phys is not None and overlap(r.phys, r.size, addr, size)
                for r in (self.region_of(m, "virtual machine '%s'" % pd.vm_name)
                          for m in pd.vm_maps()))
            if not maps_uart or any(irq == uart_irq for irq, _, _ in pd.irqs()):
                continue
            owner = [p.name for p in self.pds if any(irq == uart_irq for irq, _, _ in p.irqs())]
            if owner:
                self.warn("virtual machine '%s' is given the UART (0x%x), but irq %d goes to "
                          "protection domain '%s': the guest's console will not work" %
                          (pd.vm_name, addr, uart_irq, owner[0]))
                continue
            cid = self.free_channel_id(pd.name)
            pd.el.insert(self._before_vm(pd), ET.Element("irq", irq=str(uart_irq), id=str(cid)))
            self.warn("virtual machine '%s' is given the UART (0x%x), but protection domain '%s' "
                      "had no <irq irq=\"%d\">, without which console input would not work: "
                      "added on channel %d" % (pd.vm_name, addr, pd.name, uart_irq, cid))

    def check_names(self):
        seen = {}
        for pd in self.vmms:
            if not pd.vm_name:
                raise ToolError("%s: the virtual machine of protection domain '%s' has no name" %
                                (self.path, pd.name))
            if pd.vm_name in seen:
                raise ToolError("%s: two virtual machines are named '%s' (in protection domains "
                                "'%s' and '%s')" % (self.path, pd.vm_name, seen[pd.vm_name],
                                                    pd.name))
            seen[pd.vm_name] = pd.name

    def vm_ram(self, pd):
        vmm_maps = [m for m in pd.maps() if m.get("setvar_vaddr") == "guest_ram_vaddr"]
        if not vmm_maps:
            raise ToolError("%s: protection domain '%s' maps no region with "
                            "setvar_vaddr=\"guest_ram_vaddr\"; the VMM needs guest RAM mapped to "
                            "load the guest" % (self.path, pd.name))
        return self.region_of(vmm_maps[0], "protection domain '%s'" % pd.name)

    def is_gic_vcpu(self, region):
        gicv = getattr(self.plat, "gicv", None)
        return gicv is not None and region.phys == gicv[0]

    def check_sharing(self):
        """Two VMs may not share RAM or a device, nor overlap in physical memory; an IRQ goes to
        one PD. The GIC's virtual CPU interface is per core: every VM maps it."""
        owner = {}
        phys = []
        for pd in self.vmms:
            for m in pd.vm_maps():
                r = self.region_of(m, "virtual machine '%s'" % pd.vm_name)
                if self.is_gic_vcpu(r):
                    continue
                if r.name in owner and owner[r.name] != pd.vm_name:
                    raise ToolError("%s: virtual machines '%s' and '%s' both map memory region "
                                    "'%s'" % (self.path, owner[r.name], pd.vm_name, r.name))
                owner[r.name] = pd.vm_name
                if r.phys is not None:
                    phys.append((r.phys, r.size, r.name, pd.vm_name))
        for i, (a, asz, an, avm) in enumerate(phys):
            for b, bsz, bn, bvm in phys[i + 1:]:
                if avm != bvm and overlap(a, asz, b, bsz):
                    raise ToolError("%s: virtual machines '%s' and '%s' overlap in physical "
                                    "memory: region '%s' (0x%x, 0x%x bytes) and region '%s' "
                                    "(0x%x, 0x%x bytes)" % (self.path, avm, bvm, an, a, asz, bn,
                                                            b, bsz))
        irq_owner = {}
        for pd in self.pds:
            for irq, _, _ in pd.irqs():
                if irq in irq_owner and irq_owner[irq] != pd.name:
                    raise ToolError("%s: irq %d is given to both protection domain '%s' and "
                                    "protection domain '%s'" % (self.path, irq, irq_owner[irq],
                                                                pd.name))
                irq_owner[irq] = pd.name
        self.irq_owner = irq_owner

    def collect_devices(self):
        """Take the device declarations out of each <virtual_machine>."""
        self.devices = {}
        for pd in self.vmms:
            decls = []
            for el in list(pd.vm_el):
                if el.tag in DEVICE_TAGS:
                    decls.append(el)
                    pd.vm_el.remove(el)
                elif el.tag.startswith("virtio_"):
                    raise ToolError("%s: virtual machine '%s': <%s> is not a device this build "
                                    "knows (it knows %s)" % (self.path, pd.vm_name, el.tag,
                                                             ", ".join("<%s/>" % t
                                                                       for t in DEVICE_TAGS)))
            consoles = [d for d in decls if d.tag == "virtio_console"]
            if len(consoles) > 1:
                raise ToolError("%s: virtual machine '%s' declares %d <virtio_console/>; one is "
                                "its console" % (self.path, pd.vm_name, len(consoles)))
            self.devices[pd.name] = decls

    def wakeup_timer(self):
        """Every VMM needs a timer to end its vCPUs' WFIs. The EL1 physical timer's PPI can go to
        one PD only: with one VM that is its VMM, with several a timer PD serves them all."""
        ppi = self.plat.ptimer_irq
        self.wakeup = {}
        if len(self.vmms) == 1:
            pd = self.vmms[0]
            ids = [cid for irq, cid, _ in pd.irqs() if irq == ppi]
            if not ids:
                cid = self.free_channel_id(pd.name)
                pd.el.insert(self._before_vm(pd), ET.Element("irq", irq=str(ppi), id=str(cid)))
                self.note("protection domain '%s' gets irq %d on channel %d: %s" %
                          (pd.name, ppi, cid, PTIMER_NOTE))
                ids = [cid]
            self.wakeup[pd.name] = {"mode": "ptimer", "channel": ids[0]}
            return
        for pd in self.vmms:
            if any(irq == ppi for irq, _, _ in pd.irqs()):
                raise ToolError("%s: protection domain '%s' takes irq %d (the EL1 physical timer), "
                                "which in a system of several VMs belongs to the timer PD the "
                                "build adds; remove that <irq>" % (self.path, pd.name, ppi))
        if ppi in self.irq_owner:
            raise ToolError("%s: irq %d (the EL1 physical timer) is given to protection domain "
                            "'%s'; with several VMs the build's timer PD needs it" %
                            (self.path, ppi, self.irq_owner[ppi]))
        timer = self.add_pd(TIMER_PD, TIMER_PRIORITY, "timer.elf")
        tid = self.free_channel_id(TIMER_PD)
        timer.el.append(ET.Element("irq", irq=str(ppi), id=str(tid)))
        clients = []
        for pd in self.vmms:
            region = self.add_region("%s_timer" % pd.vm_name, PAGE)
            slot_vmm = self.add_map(pd.name, region, "rw")
            slot_timer = self.add_map(TIMER_PD, region, "r")
            ch_vmm, ch_timer = self.add_channel(pd.name, TIMER_PD)
            self.wakeup[pd.name] = {"mode": "service", "channel": ch_vmm, "slot": slot_vmm}
            clients.append({"name": pd.vm_name, "slot": slot_timer, "channel": ch_timer})
        self.plan["components"].append({"pd": TIMER_PD, "kind": "timer", "elf": "timer.elf",
                                         "irq_channel": tid, "clients": clients})
        self.note("protection domain '%s' added: it owns irq %d and ends the WFIs of %d VMs" %
                  (TIMER_PD, ppi, len(self.vmms)))

    def _before_vm(self, pd):
        """Where a PD's new element goes: before its virtual machine, for readability."""
        kids = list(pd.el)
        for i, k in enumerate(kids):
            if k.tag == "virtual_machine":
                return i
        return len(kids)

    # ---- guest addresses of virtio devices ---------------------------------------------------

    def virtio_slots(self, pd):
        """(guest address, INTID) pairs free for a virtio-mmio device of this VM: the board's
        virtio-mmio slots when its DTB has them (QEMU virt), lowest first, else a window the
        board's DTB leaves free."""
        mapped = []
        for m in pd.vm_maps():
            r = self.region_of(m, "virtual machine '%s'" % pd.vm_name)
            mapped.append((parse_int(m.get("vaddr"), "vaddr", self.path), r.size))
        # Not the interrupt of a device some PD owns either (a block server's disk): a guest never
        # sees an emulated device where the board has one that is in use.
        taken_irqs = {irq for irq, _, _ in pd.irqs()} | set(getattr(self, "irq_owner", {}))
        slots = []
        for node in self.dt.nodes.values():
            if "virtio,mmio" not in node.strings("compatible"):
                continue
            regs = self.dt.reg(node)
            ints = node.cells("interrupts") or []
            if not regs or len(ints) < 3 or ints[0] != 0:
                continue
            addr, size = regs[0]
            irq = ints[1] + 32
            if irq in taken_irqs or any(overlap(addr, size, a, s) for a, s in mapped):
                continue
            slots.append((addr, irq))
        slots.sort()
        if slots:
            return slots
        return self.free_window_slots(mapped, taken_irqs)

    def free_window_slots(self, mapped, taken_irqs):
        busy = list(mapped)
        used_irqs = set(taken_irqs)
        for node in self.dt.nodes.values():
            if self.dt.is_mmio_node(node):
                busy += [(a, s) for a, s in self.dt.reg(node) if s]
            ints = node.cells("interrupts") or []
            for i in range(0, len(ints) - 2, 3):
                if ints[i] == 0:
                    used_irqs.add(ints[i + 1] + 32)
        busy += [m for m in self.plat.memory]
        addr = None
        candidate = 0x0800_0000  # the first gap above 128 MiB, below 4 GiB
        for a, s in sorted(busy) + [(1 << 32, 0)]:
            if a >= candidate + PAGE:
                addr = candidate
                break
            candidate = max(candidate, round_up(a + s, PAGE))
        if addr is None or addr + PAGE > 1 << 32:
            raise ToolError("%s: no free guest address below 4 GiB for virtio devices on this "
                            "board" % self.path)
        irqs = [i for i in range(32, 1020) if i not in used_irqs]
        return [(addr + i * VIRTIO_MMIO_SIZE, irqs[i]) for i in range(PAGE // VIRTIO_MMIO_SIZE)]

    # ---- the serial multiplexer -------------------------------------------------------------

    def native_components(self):
        """PDs of the file that are instances of the build's components (program image
        <kind>.elf), and their declarations (<serial_client/>)."""
        kinds = component_kinds()
        self.instances = {}
        self.pd_decls = {}
        for pd in self.pds:
            if pd.vm_el is not None:
                for el in pd.el:
                    if el.tag in PD_TAGS:
                        raise ToolError("%s: protection domain '%s': <%s/> belongs in a native PD; "
                                        "%s in its <virtual_machine>" %
                                        (self.path, pd.name, el.tag, VM_EQUIVALENT[el.tag]))
                continue
            image = pd.el.find("program_image")
            decls = [el for el in pd.el if el.tag in PD_TAGS]
            for el in decls:
                pd.el.remove(el)
            self.pd_decls[pd.name] = decls
            kind = image.get("path")[:-4] if image is not None and \
                image.get("path", "").endswith(".elf") else None
            if kind not in kinds:
                if decls:
                    raise ToolError("%s: protection domain '%s' declares <%s/>, but its program "
                                    "image is not one of the build's components (%s)" %
                                    (self.path, pd.name, decls[0].tag,
                                     ", ".join("%s.elf" % k for k in sorted(kinds))))
                continue
            elf = "%s.elf" % pd.name
            image.set("path", elf)
            self.instances[pd.name] = {"pd": pd.name, "kind": kind, "elf": elf,
                                       "serial_client": any(d.tag == "serial_client"
                                                            for d in decls)}

    def serial_mux(self):
        vm_clients = [pd for pd in self.vmms
                      if any(d.tag == "virtio_console" for d in self.devices[pd.name])]
        native_clients = [self.pd_by_name[name] for name, inst in self.instances.items()
                          if inst["serial_client"]]
        clients = vm_clients + native_clients
        if not clients:
            return
        uart = self.plat.uart
        if uart is None:
            raise ToolError("%s: %s needs the serial multiplexer, but %s has no console UART" %
                            (self.path, clients[0].vm_name or clients[0].name, self.dt.path))
        compat = [c for c in uart.strings("compatible") if c in UART_DRIVERS]
        if not compat:
            raise ToolError("%s: the console UART %s (\"%s\") has no serial-multiplexer driver "
                            "yet (drivers: %s)" % (self.dt.path, uart.path,
                                                   uart.strings("compatible")[0],
                                                   ", ".join(UART_DRIVERS)))
        uart_addr, uart_size = self.dt.reg(uart)[0]
        ints = uart.cells("interrupts") or []
        if len(ints) < 3 or ints[0] != 0:
            raise ToolError("%s: the console UART %s has no SPI in its interrupts" %
                            (self.dt.path, uart.path))
        uart_irq = ints[1] + 32
        for pd in self.vmms:
            for m in pd.vm_maps():
                r = self.region_of(m, "virtual machine '%s'" % pd.vm_name)
                if r.phys is not None and overlap(r.phys, r.size, uart_addr, uart_size):
                    raise ToolError("%s: virtual machine '%s' maps region '%s' over the UART "
                                    "(0x%x) that the serial multiplexer owns once a VM declares "
                                    "<virtio_console/>" % (self.path, pd.vm_name, r.name,
                                                           uart_addr))
        if uart_irq in self.irq_owner:
            raise ToolError("%s: irq %d (the UART's) is given to protection domain '%s'; the "
                            "serial multiplexer needs it" % (self.path, uart_irq,
                                                             self.irq_owner[uart_irq]))
        mux = self.add_pd(SERIAL_MUX_PD, SERIAL_MUX_PRIORITY, "serial_mux.elf")
        uart_region = self.add_region("serial_mux_uart", round_up(uart_size, PAGE), uart_addr)
        uart_vaddr = self.add_map(SERIAL_MUX_PD, uart_region, "rw", cached=False)
        irq_ch = self.free_channel_id(SERIAL_MUX_PD)
        mux.el.append(ET.Element("irq", irq=str(uart_irq), id=str(irq_ch)))
        self.irq_owner[uart_irq] = SERIAL_MUX_PD
        config = {"pd": SERIAL_MUX_PD, "kind": "serial_mux", "elf": "serial_mux.elf",
                  "driver": UART_DRIVERS[compat[0]], "uart": uart_vaddr, "uart_irq": uart_irq,
                  "irq_channel": irq_ch, "clients": []}
        if len(clients) > SERIAL_MUX_MAX_CLIENTS:
            raise ToolError("%s: %d serial clients (%s); the serial multiplexer serves at most %d "
                            "(Ctrl-\\ 1..9)" % (self.path, len(clients),
                                                 ", ".join(pd.vm_name or pd.name
                                                           for pd in clients),
                                                 SERIAL_MUX_MAX_CLIENTS))
        for pd in clients:
            name = pd.vm_name or pd.name
            conn = self.connection(pd.name, SERIAL_MUX_PD, "%s_serial" % name,
                                   SERIAL_RING_CAPACITY, SERIAL_DATA_SIZE)
            if pd.vm_el is not None:
                self.vm_devices[pd.name].append({"type": "console", "name": "console",
                                                 "conn": conn["client"]})
            else:
                self.instances[pd.name]["serial"] = conn["client"]
            config["clients"].append({"name": name, "conn": conn["server"]})
        self.plan["components"].append(config)
        self.note("protection domain '%s' added: it owns the UART %s (irq %d) and serves the "
                  "console of %s" % (SERIAL_MUX_PD, uart.path, uart_irq,
                                     ", ".join(pd.vm_name or pd.name for pd in clients)))

    def connection(self, client, server, prefix, capacity, data_size):
        """Queue region and two data regions mapped into both PDs, and a channel."""
        queue_bytes = round_up(4 * round_up(128 + 16 * capacity, 64), PAGE)
        queue = self.add_region(prefix + "_queue", queue_bytes)
        tx = self.add_region(prefix + "_tx", data_size)
        rx = self.add_region(prefix + "_rx", data_size)
        c_ch, s_ch = self.add_channel(client, server)

        def side(pd, tx_perms, rx_perms, ch):
            return {"queue": self.add_map(pd, queue, "rw"), "capacity": capacity,
                    "tx_data": self.add_map(pd, tx, tx_perms), "tx_size": data_size,
                    "rx_data": self.add_map(pd, rx, rx_perms), "rx_size": data_size,
                    "channel": ch}
        return {"client": side(client, "rw", "r", c_ch), "server": side(server, "r", "rw", s_ch)}

    def place_devices(self):
        """Give each VM's devices guest addresses and interrupts."""
        for pd in self.vmms:
            devs = self.vm_devices[pd.name]
            if not devs:
                continue
            slots = self.virtio_slots(pd)
            if len(slots) < len(devs):
                raise ToolError("%s: virtual machine '%s' declares %d devices, but only %d "
                                "virtio-mmio slots are free" % (self.path, pd.vm_name, len(devs),
                                                                len(slots)))
            for dev, (addr, irq) in zip(devs, slots):
                dev["base"] = addr
                dev["size"] = VIRTIO_MMIO_SIZE
                dev["irq"] = irq

    # ---- block servers -------------------------------------------------------------------------

    def parse_bytes(self, text, what):
        """A byte count: a number with an optional K, M or G (binary) suffix."""
        t = str(text).strip().replace("_", "")
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:].upper(), 1)
        if scale != 1:
            t = t[:-1]
        return parse_int(t, what, self.path) * scale

    def collect_block_servers(self):
        """Top-level <block_server name=".." device="<DTB node>"|ramdisk="<file>"/>: taken out
        of the file and checked against the board."""
        self.blk_servers = {}
        for el in list(self.root.findall("block_server")):
            self.root.remove(el)
            name = el.get("name")
            if not name:
                raise ToolError("%s: a <block_server> has no name" % self.path)
            what = "block server '%s'" % name
            unknown = sorted(set(el.attrib) - BLK_SERVER_ATTRS)
            if unknown:
                raise ToolError("%s: %s: unknown attribute '%s' (it takes %s)" %
                                (self.path, what, unknown[0], ", ".join(sorted(BLK_SERVER_ATTRS))))
            if name in self.blk_servers:
                raise ToolError("%s: two block servers are named '%s'" % (self.path, name))
            device, ramdisk = el.get("device"), el.get("ramdisk")
            if (device is None) == (ramdisk is None):
                raise ToolError("%s: %s needs exactly one of device=\"<board DTB node>\" and "
                                "ramdisk=\"<image file>\"" % (self.path, what))
            srv = {"name": name, "clients": [],
                   "priority": parse_int(el.get("priority", BLK_SERVER_PRIORITY),
                                         "priority of %s" % what, self.path)}
            if device is not None:
                srv.update(self.blk_device(what, device))
            else:
                srv.update(self.blk_ramdisk(what, ramdisk))
            self.blk_servers[name] = srv

    def blk_device(self, what, device):
        node = self.dt.nodes.get(device if device.startswith("/") else "/" + device)
        if node is None:
            node = next((n for n in self.dt.nodes.values() if n.name == device), None)
        if node is None:
            raise ToolError("%s: %s: the board's device tree (%s) has no node '%s'" %
                            (self.path, what, self.dt.path, device))
        compat = [c for c in node.strings("compatible") if c in BLK_STORAGE_DRIVERS]
        if not compat:
            raise ToolError("%s: %s: %s (\"%s\") has no block-server driver yet (drivers: %s)" %
                            (self.path, what, node.path,
                             (node.strings("compatible") or ["no compatible"])[0],
                             ", ".join(BLK_STORAGE_DRIVERS)))
        regs = self.dt.reg(node)
        ints = node.cells("interrupts") or []
        if not regs or len(ints) < 3 or ints[0] != 0:
            raise ToolError("%s: %s: %s has no registers or no SPI in its interrupts" %
                            (self.path, what, node.path))
        addr, size = regs[0]
        return {"storage": BLK_STORAGE_DRIVERS[compat[0]], "node": node.path, "addr": addr,
                "size": size, "irq": ints[1] + 32}

    def blk_ramdisk(self, what, ramdisk):
        path = os.path.join(os.path.dirname(os.path.abspath(self.path)), ramdisk)
        try:
            size = os.path.getsize(path)
        except OSError as e:
            raise ToolError("%s: %s: cannot read the RAM disk image %s: %s" %
                            (self.path, what, path, e.strerror))
        if size == 0 or size % 512:
            raise ToolError("%s: %s: the RAM disk image %s is %d bytes, not a whole number of "
                            "512-byte sectors" % (self.path, what, path, size))
        return {"storage": "ramdisk", "image": path, "image_size": size}

    def blk_client_decl(self, pd, el):
        """A VM's <virtio_blk server=".." partition="N" | offset=".." size=".."
        read_only="true|false"/>."""
        what = "virtual machine '%s': <virtio_blk>" % pd.vm_name
        unknown = sorted(set(el.attrib) - VIRTIO_BLK_ATTRS)
        if unknown:
            raise ToolError("%s: %s: unknown attribute '%s' (it takes %s)" %
                            (self.path, what, unknown[0], ", ".join(sorted(VIRTIO_BLK_ATTRS))))
        server = el.get("server")
        if server is None:
            raise ToolError("%s: %s has no server=\"...\" (the <block_server> it uses)" %
                            (self.path, what))
        if server not in self.blk_servers:
            raise ToolError("%s: %s: no <block_server name=\"%s\"> in the file (there are: %s)" %
                            (self.path, what, server, ", ".join(sorted(self.blk_servers)) or
                             "none"))
        ro = el.get("read_only", "false")
        if ro not in ("true", "false"):
            raise ToolError("%s: %s: read_only=\"%s\" is neither \"true\" nor \"false\"" %
                            (self.path, what, ro))
        decl = {"pd": pd.name, "name": pd.vm_name, "server": server, "read_only": ro == "true",
                "partition": 0, "start": 0, "sectors": 0}
        part, offset, size = el.get("partition"), el.get("offset"), el.get("size")
        if part is not None:
            if offset is not None or size is not None:
                raise ToolError("%s: %s takes partition=\"N\" or offset/size, not both" %
                                (self.path, what))
            n = parse_int(part, "partition of %s" % what, self.path)
            if not 1 <= n <= 128:
                raise ToolError("%s: %s: partition %d is not 1..128" % (self.path, what, n))
            decl["partition"] = n
        else:
            if offset is None or size is None:
                raise ToolError("%s: %s needs partition=\"N\", or offset=\"..\" and "
                                "size=\"..\" (bytes; K, M, G allowed)" % (self.path, what))
            off = self.parse_bytes(offset, "offset of %s" % what)
            length = self.parse_bytes(size, "size of %s" % what)
            if off % 512 or length % 512 or length == 0:
                raise ToolError("%s: %s: offset %d and size %d must be multiples of 512, the "
                                "size not 0" % (self.path, what, off, length))
            decl["start"], decl["sectors"] = off // 512, length // 512
        return decl

    def block_servers(self):
        """Each <block_server>: its PD, its device's registers and interrupt (or its RAM disk),
        the driver's DMA page, and for each client a connection whose data region is made of
        2 MiB pages with their physical addresses given to the server."""
        for pd in self.vmms:
            for el in self.devices[pd.name]:
                if el.tag == "virtio_blk":
                    decl = self.blk_client_decl(pd, el)
                    self.blk_servers[decl["server"]]["clients"].append(decl)
        for srv in self.blk_servers.values():
            self.check_blk_clients(srv)
            self.add_block_server(srv)

    def check_blk_clients(self, srv):
        what = "block server '%s'" % srv["name"]
        clients = srv["clients"]
        if not clients:
            self.warn("%s has no clients (no <virtio_blk server=\"%s\"/>)" % (what, srv["name"]))
        if len(clients) > BLK_SERVER_MAX_CLIENTS:
            raise ToolError("%s: %s has %d clients; it serves at most %d" %
                            (self.path, what, len(clients), BLK_SERVER_MAX_CLIENTS))
        for i, a in enumerate(clients):
            for b in clients[i + 1:]:
                if a["partition"] and a["partition"] == b["partition"]:
                    raise ToolError("%s: virtual machines '%s' and '%s' both use partition %d of "
                                    "%s" % (self.path, a["name"], b["name"], a["partition"], what))
                if not a["partition"] and not b["partition"] and overlap(
                        a["start"], a["sectors"], b["start"], b["sectors"]):
                    raise ToolError("%s: virtual machines '%s' and '%s' have overlapping ranges "
                                    "of %s" % (self.path, a["name"], b["name"], what))
        if srv["storage"] == "ramdisk":
            disk = srv["image_size"] // 512
            for c in clients:
                if not c["partition"] and c["start"] + c["sectors"] > disk:
                    raise ToolError("%s: virtual machine '%s': its range of %s ends at sector %d, "
                                    "beyond the RAM disk's %d" % (self.path, c["name"], what,
                                                                  c["start"] + c["sectors"], disk))

    def add_block_server(self, srv):
        name = srv["name"]
        server = self.add_pd(name, srv["priority"], "%s.elf" % name)
        server.el.set("stack_size", "0x%x" % BLK_SERVER_STACK)
        config = {"pd": name, "kind": "blk_server", "elf": "%s.elf" % name,
                  "storage": srv["storage"], "clients": [], "setvars": []}
        if srv["storage"] == "virtio":
            self.blk_device_resources(srv, server, config)
        else:
            config["ramdisk"] = srv["image"]
            config["ramdisk_size"] = srv["image_size"]
            config["deps"] = [srv["image"]]
        for i, c in enumerate(srv["clients"]):
            conn, symbols = self.blk_connection(c["pd"], name, "%s_%s" % (name, c["name"]), i,
                                                srv["storage"] == "virtio")
            self.vm_devices[c["pd"]].append({"type": "blk", "name": "blk-%s" % name,
                                             "conn": conn["client"],
                                             "read_only": c["read_only"]})
            client = {"name": c["name"], "conn": conn["server"], "data_paddr": symbols,
                      "partition": c["partition"], "start": c["start"],
                      "sectors": c["sectors"], "read_only": c["read_only"]}
            if srv["storage"] == "virtio":
                client.update(self.blk_window(server, c["pd"], i))
            config["clients"].append(client)
        self.plan["components"].append(config)
        self.note("protection domain '%s' added: the block server of %s for %s" %
                  (name, srv.get("node") or "the RAM disk %s" % srv.get("image"),
                   ", ".join(c["name"] for c in srv["clients"]) or "no client"))

    def blk_window(self, server, client, index):
        """A VM client's DMA window for direct requests (proto/blk.h): its guest RAM region,
        whose physical address the server gets (setvar region_paddr) without mapping it. The
        Microkit tool (2.0.1) allocates every memory region physically contiguous: one with a
        phys_addr by definition, the others all in one untyped allocation per page size, each
        region's pages in order (tool/microkit/src/main.rs, allocate_objects), so a whole guest
        RAM region is one range the device can reach."""
        ram = self.vm_ram(self.pd_by_name[client])
        sym = "blk_window_paddr_%d" % index
        ET.SubElement(server.el, "setvar", symbol=sym, region_paddr=ram.name)
        return {"window_paddr": sym, "window_size": ram.size}

    def blk_device_resources(self, srv, server, config):
        name = srv["name"]
        if srv["irq"] in self.irq_owner:
            raise ToolError("%s: block server '%s': irq %d (of %s) is given to protection domain "
                            "'%s'" % (self.path, name, srv["irq"], srv["node"],
                                      self.irq_owner[srv["irq"]]))
        for pd in self.vmms:
            for m in pd.vm_maps():
                r = self.region_of(m, "virtual machine '%s'" % pd.vm_name)
                if r.phys is not None and overlap(r.phys, r.size, srv["addr"], srv["size"]):
                    raise ToolError("%s: virtual machine '%s' maps region '%s' over %s, which "
                                    "block server '%s' owns" % (self.path, pd.vm_name, r.name,
                                                                srv["node"], name))
        base = srv["addr"] & ~(PAGE - 1)
        regs = self.add_region("%s_regs" % name,
                               round_up(srv["addr"] + srv["size"], PAGE) - base, base)
        vaddr = self.add_map(name, regs, "rw", cached=False)
        irq_ch = self.free_channel_id(name)
        server.el.append(ET.Element("irq", irq=str(srv["irq"]), id=str(irq_ch)))
        self.irq_owner[srv["irq"]] = name
        dma = self.add_region("%s_dma" % name, BLK_DMA_SIZE, page_size=BLK_DMA_SIZE)
        dma_vaddr = self.add_map(name, dma, "rw", vaddr=self.free_vaddr(name, BLK_DMA_SIZE))
        ET.SubElement(server.el, "setvar", symbol="blk_dma_paddr", region_paddr=dma.name)
        config.update({"regs": vaddr + (srv["addr"] - base), "irq_channel": irq_ch,
                       "dma": dma_vaddr, "dma_size": BLK_DMA_SIZE,
                       "dma_paddr": "blk_dma_paddr"})
        config["setvars"].append("blk_dma_paddr")
        self.qemu_disk(srv)

    def blk_connection(self, client, server, prefix, index, dma):
        """A block connection: queue region (rings and blk_info), a TX data region of 2 MiB
        pages mapped at the same offsets in both PDs, no RX data region. Returns both sides'
        views and, for a server whose device does DMA, the symbols that get each page's
        physical address."""
        queue = self.add_region(prefix + "_queue",
                                round_up(4 * round_up(128 + 16 * BLK_RING_CAPACITY, 64) + 64, PAGE))
        chunks = [self.add_region("%s_data%d" % (prefix, k), BLK_DATA_CHUNK,
                                  page_size=BLK_DATA_CHUNK) for k in range(BLK_DATA_CHUNKS)]
        c_ch, s_ch = self.add_channel(client, server)
        size = BLK_DATA_CHUNK * BLK_DATA_CHUNKS
        srv_pd = self.pd_by_name[server]
        symbols = []
        if dma:
            for k, r in enumerate(chunks):
                sym = "blk_data_paddr_%d_%d" % (index, k)
                ET.SubElement(srv_pd.el, "setvar", symbol=sym, region_paddr=r.name)
                symbols.append(sym)

        def side(pd, ch):
            q = self.add_map(pd, queue, "rw")
            base = self.free_vaddr(pd, size)
            for k, r in enumerate(chunks):
                self.add_map(pd, r, "rw", vaddr=base + k * BLK_DATA_CHUNK)
            return {"queue": q, "capacity": BLK_RING_CAPACITY, "tx_data": base, "tx_size": size,
                    "rx_data": 0, "rx_size": 0, "channel": ch}
        return {"client": side(client, c_ch), "server": side(server, s_ch)}, symbols

    def qemu_disk(self, srv):
        """For QEMU: the disk image (made by the build if missing) on the virtio-mmio slot the
        server drives, pinned to that slot's bus (QEMU numbers them by address)."""
        slots = sorted(self.dt.reg(n)[0][0] for n in self.dt.nodes.values()
                       if "virtio,mmio" in n.strings("compatible") and self.dt.reg(n))
        bus = slots.index(srv["addr"])
        name = srv["name"]
        parts = sorted({c["partition"] for c in srv["clients"] if c["partition"]})
        end = max([c["start"] + c["sectors"] for c in srv["clients"] if not c["partition"]] + [0])
        self.plan["qemu_disks"].append({"server": name, "partitions": max(parts + [0]),
                                        "partition_mib": QEMU_DISK_PARTITION_MIB,
                                        "raw_end": end * 512,
                                        "labels": {str(c["partition"]): c["name"]
                                                   for c in srv["clients"] if c["partition"]}})
        if "-global virtio-mmio.force-legacy=false" not in " ".join(self.plan["qemu_args"]):
            self.plan["qemu_args"].append("-global virtio-mmio.force-legacy=false")
        self.plan["qemu_args"].append(
            "-drive file=$(QEMU_DISK_%s),if=none,format=raw,id=%s "
            "-device virtio-blk-device,drive=%s,bus=virtio-mmio-bus.%d,queue-size=%d" %
            (name, name, name, bus, QEMU_BLK_QUEUE_SIZE))

    # ---- virtual networks (tools/vmmtools/network.py) ----------------------------------------

    def networks_declared(self):
        """Ports of the virtual switches: VMs' <virtio_net/>, component PDs' <net_client/>."""
        self.net.collect_vm_devices(self.vmms, self.devices)
        self.net.collect_pd_clients([self.pd_by_name[n] for n in self.instances], self.pd_decls)
        self.net.assign_addresses()

    # ---- the whole ------------------------------------------------------------------------------

    def run(self):
        self.collect_block_servers()
        self.net = network.Networks(self)
        self.net.collect_switches()
        self.normalise_seed_form()
        self.smp_time_slices()
        self.check_names()
        self.check_passthrough_uart()
        for pd in self.vmms:
            self.vm_ram(pd)
        self.check_sharing()
        self.collect_devices()
        self.native_components()
        self.vm_devices = {pd.name: [] for pd in self.vmms}
        self.networks_declared()
        if self.vmms:
            self.wakeup_timer()
        self.serial_mux()
        self.block_servers()
        self.net.build(self.vm_devices, self.instances)
        self.place_devices()
        self.plan["components"] += list(self.instances.values())
        added = {c["pd"] for c in self.plan["components"]}
        self.plan["user_pds"] = [
            {"pd": pd.name, "elf": pd.el.find("program_image").get("path")
             if pd.el.find("program_image") is not None else None}
            for pd in self.pds if pd.vm_el is None and pd.name not in added]
        for pd in self.vmms:
            elf = "vmm_%s.elf" % pd.vm_name
            pd.el.find("program_image").set("path", elf)
            has_console = any(d["type"] == "console" for d in self.vm_devices[pd.name])
            self.plan["vms"].append({
                "pd": pd.name, "vm": pd.vm_name, "elf": elf,
                "vcpus": len(pd.vm_el.findall("vcpu")),
                "wakeup": self.wakeup[pd.name],
                "virtio": self.vm_devices[pd.name],
                "console": "hvc0" if has_console else None,
            })
        return self.plan

    def xml(self):
        tree = copy.deepcopy(self.tree)
        ET.indent(tree, space="    ")
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<!-- Generated by tools/vmm-system.py '
                'from %s. Do not edit. -->\n' % self.path +
                ET.tostring(tree.getroot(), encoding="unicode") + "\n")
