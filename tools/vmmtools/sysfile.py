"""Reading a Microkit system description: memory regions, the VMM protection domain, its VM."""
import xml.etree.ElementTree as ET

from . import ToolError


def parse_int(text, what, path):
    try:
        return int(text.replace("_", ""), 0)
    except (ValueError, AttributeError):
        raise ToolError("%s: %s %r is not a number" % (path, what, text))


class Map:
    def __init__(self, mr, vaddr, perms, setvar):
        self.mr, self.vaddr, self.perms, self.setvar = mr, vaddr, perms, setvar


class MemoryRegion:
    def __init__(self, name, size, phys_addr, page_size):
        self.name, self.size, self.phys_addr, self.page_size = name, size, phys_addr, page_size


class VmmSystem:
    """The parts of a system file the build of one VMM needs: the PD that owns VM `vm` (the only
    VM of the file when `vm` is None)."""

    def __init__(self, path, vm=None):
        self.path = path
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as e:
            raise ToolError("%s: not a valid system file: %s" % (path, e))
        except OSError as e:
            raise ToolError("%s: cannot read: %s" % (path, e.strerror))
        if root.tag != "system":
            raise ToolError("%s: root element is <%s>, expected <system>" % (path, root.tag))
        self.regions = {}
        for mr in root.iter("memory_region"):
            name = mr.get("name")
            size = parse_int(mr.get("size"), "size of memory region %s" % name, path)
            phys = mr.get("phys_addr")
            page = mr.get("page_size")
            self.regions[name] = MemoryRegion(
                name, size, parse_int(phys, "phys_addr", path) if phys else None,
                parse_int(page, "page_size", path) if page else 0x1000)
        pds = [pd for pd in root.iter("protection_domain") if pd.find("virtual_machine") is not None]
        if not pds:
            raise ToolError("%s: no protection domain has a <virtual_machine>" % path)
        if vm is not None:
            pds = [pd for pd in pds if pd.find("virtual_machine").get("name") == vm]
            if not pds:
                raise ToolError("%s: no virtual machine is named '%s'" % (path, vm))
        elif len(pds) > 1:
            raise ToolError("%s: %d protection domains have a <virtual_machine>; say which VM to "
                            "build" % (path, len(pds)))
        pd = pds[0]
        vm = pd.find("virtual_machine")
        self.pd_name = pd.get("name")
        self.vm_name = vm.get("name")
        self.vcpus = sorted(parse_int(v.get("id"), "vcpu id", path) for v in vm.findall("vcpu"))
        if not self.vcpus:
            # Microkit 2.0 needs explicit <vcpu> elements; say so rather than guess.
            raise ToolError("%s: virtual machine '%s' has no <vcpu id=.../> element" %
                            (path, self.vm_name))
        if self.vcpus != list(range(len(self.vcpus))):
            raise ToolError("%s: vcpu ids of '%s' must be 0..%d, got %s" %
                            (path, self.vm_name, len(self.vcpus) - 1, self.vcpus))
        self.pd_maps = [self._map(m) for m in pd.findall("map")]
        self.vm_maps = [self._map(m) for m in vm.findall("map")]
        self.irqs = []
        for irq in pd.findall("irq"):
            self.irqs.append((parse_int(irq.get("id"), "irq id", path),
                              parse_int(irq.get("irq"), "irq number", path),
                              irq.get("trigger", "level")))

    def _map(self, el):
        mr = el.get("mr")
        if mr not in self.regions:
            raise ToolError("%s: map of memory region '%s', which the system file does not "
                            "define" % (self.path, mr))
        return Map(mr, parse_int(el.get("vaddr"), "vaddr of map %s" % mr, self.path),
                   el.get("perms", "rw"), el.get("setvar_vaddr"))

    def guest_ram(self):
        """(guest physical base, size, region) of guest RAM: the region the VMM maps with
        setvar_vaddr="guest_ram_vaddr" and the VM maps too."""
        vmm_maps = [m for m in self.pd_maps if m.setvar == "guest_ram_vaddr"]
        if not vmm_maps:
            raise ToolError("%s: protection domain '%s' maps no region with "
                            "setvar_vaddr=\"guest_ram_vaddr\"; the VMM needs guest RAM mapped to "
                            "load the guest" % (self.path, self.pd_name))
        mr = vmm_maps[0].mr
        in_vm = [m for m in self.vm_maps if m.mr == mr]
        if not in_vm:
            raise ToolError("%s: guest RAM region '%s' is mapped into the VMM but not into "
                            "virtual machine '%s'" % (self.path, mr, self.vm_name))
        return in_vm[0].vaddr, self.regions[mr].size, self.regions[mr]

    def vm_device_maps(self):
        """VM mappings other than guest RAM: (guest address, size, region)."""
        _, _, ram = self.guest_ram()
        return [(m.vaddr, self.regions[m.mr].size, self.regions[m.mr])
                for m in self.vm_maps if m.mr != ram.name]
