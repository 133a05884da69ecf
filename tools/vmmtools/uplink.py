"""A virtual switch's uplink: a NIC (QEMU's virtio-net-device on a virtio-mmio slot) as one more
port of the switch, driven by a PD the build adds (components/uplink), with QEMU's user network
behind it restricted to this machine.

    <virtual_switch name="lan" subnet="10.0.0.0/24">
        <uplink mac="52:54:00:12:34:56" hostfwd="tcp:5555-10.0.0.1:5555 tcp:8022-10.0.0.2:22"/>
    </virtual_switch>

hostfwd: TCP forwards from the host's loopback (127.0.0.1:5555) to an address on the switch; the
only traffic QEMU's network carries (restrict=on: nothing leaves this machine, and nothing from
the switch reaches the host but the replies of forwarded TCP connections, which is also why UDP
cannot be forwarded: QEMU drops every datagram from the guest side when restricted). QEMU's own
addresses on the switch's subnet are its last two (the gateway, then the DNS address).
"""
import ipaddress
import re
import xml.etree.ElementTree as ET

from . import ToolError

UPLINK_ATTRS = {"mac", "hostfwd"}
UPLINK_PRIORITY = 200  # as the switch
DMA_SIZE = 0x20_0000  # one 2 MiB page: physically contiguous, as the device needs
DMA_PAGE = 0x20_0000
PAGE = 0x1000
HOSTFWD_RE = re.compile(r"^(\w+):(\d+)-([0-9.]+):(\d+)$")


def qemu_addresses(subnet):
    """QEMU's user-network gateway and DNS addresses on the switch's subnet."""
    return subnet.broadcast_address - 1, subnet.broadcast_address - 2


class Uplinks:
    def __init__(self, net):
        self.net = net
        self.exp = net.exp
        self.path = net.path

    def fail(self, msg):
        raise ToolError("%s: %s" % (self.path, msg))

    def collect(self, sw, el):
        """The <uplink/> children of switch `sw`'s element (taken out of the tree)."""
        who = "virtual switch '%s'" % sw["name"]
        kids = list(el)
        for k in kids:
            if k.tag != "uplink":
                self.fail("%s: <virtual_switch> holds only <uplink/>, not <%s>" % (who, k.tag))
        if len(kids) > 1:
            self.fail("%s has %d <uplink/>; one is its uplink" % (who, len(kids)))
        if not kids:
            return
        up = kids[0]
        self.net.check_attrs(up, UPLINK_ATTRS, who)
        if sw["subnet"].num_addresses < 8:
            self.fail("%s: subnet %s is too small for an uplink (QEMU takes two addresses of it)"
                      % (who, sw["subnet"]))
        sw["uplink"] = {"hostfwd": self.hostfwd(sw, up.get("hostfwd", ""), who)}
        port = self.net.add_port(sw, "uplink", None, "uplink", up,
                                 "the uplink of virtual switch '%s'" % sw["name"])
        port["pd_name"] = "vswitch_%s_uplink" % sw["name"]
        el.remove(up)

    def hostfwd(self, sw, text, who):
        rules = []
        for item in text.split():
            m = HOSTFWD_RE.match(item)
            if not m:
                self.fail("%s: hostfwd '%s' is not tcp:HOSTPORT-IP:PORT, e.g. "
                          "tcp:5555-10.0.0.1:22" % (who, item))
            if m.group(1) != "tcp":
                self.fail("%s: hostfwd '%s': only tcp can be forwarded (QEMU's restricted user "
                          "network drops every datagram from the switch's side)" % (who, item))
            proto, hport, ip, gport = m.group(1), int(m.group(2)), m.group(3), int(m.group(4))
            try:
                addr = ipaddress.IPv4Address(ip)
            except ValueError:
                self.fail("%s: hostfwd '%s': %s is not an IPv4 address" % (who, item, ip))
            if not (1 <= hport <= 65535 and 1 <= gport <= 65535):
                self.fail("%s: hostfwd '%s': a port is not 1..65535" % (who, item))
            if addr not in sw["subnet"]:
                self.fail("%s: hostfwd '%s': %s is not in the switch's subnet %s" %
                          (who, item, addr, sw["subnet"]))
            rules.append((proto, hport, str(addr), gport))
        return rules

    def check_ip(self, sw, ip, who):
        """A PD's address may not be one QEMU's user network takes."""
        if "uplink" in sw and ip in qemu_addresses(sw["subnet"]):
            self.fail("%s: ip %s is one QEMU's user network behind the uplink of switch '%s' "
                      "takes (its gateway and DNS addresses are the subnet's last two)" %
                      (who, ip, sw["name"]))

    def nic_slot(self):
        """The board's highest virtio-mmio slot no other PD (a block server) has taken, and its
        index among QEMU's virtio-mmio buses (numbered by address)."""
        dt = self.exp.dt
        slots = []
        for node in dt.nodes.values():
            if "virtio,mmio" not in node.strings("compatible"):
                continue
            regs = dt.reg(node)
            ints = node.cells("interrupts") or []
            if regs and len(ints) >= 3 and ints[0] == 0:
                slots.append((regs[0][0], regs[0][1], ints[1] + 32))
        if not slots:
            self.fail("the uplink needs a virtio-mmio slot for its NIC, and %s has none" %
                      dt.path)
        slots.sort()
        free = [s for s in slots if s[2] not in self.exp.irq_owner]
        if not free:
            self.fail("the uplink needs a virtio-mmio slot for its NIC, and every one of %s is "
                      "taken" % dt.path)
        return free[-1] + (slots.index(free[-1]),)

    def build(self, sw, port, switch_pd):
        """The uplink PD, its NIC, DMA region and connection; returns the switch's view."""
        exp = self.exp
        pd_name = port["pd_name"]
        elf = "%s.elf" % pd_name
        addr, size, irq, bus = self.nic_slot()
        pd = exp.add_pd(pd_name, UPLINK_PRIORITY, elf)
        page = addr & ~(PAGE - 1)
        nic = exp.add_region("%s_nic" % pd_name, PAGE, page)
        regs = exp.add_map(pd_name, nic, "rw", cached=False) + (addr - page)
        cid = exp.free_channel_id(pd_name)
        pd.el.append(ET.Element("irq", irq=str(irq), id=str(cid)))
        exp.irq_owner[irq] = pd_name
        dma = exp.add_region("%s_dma" % pd_name, DMA_SIZE)
        dma.el.set("page_size", "0x%x" % DMA_PAGE)
        dma.page = DMA_PAGE
        dma_vaddr = exp.add_map(pd_name, dma, "rw", cached=False)
        pd.el.append(ET.Element("setvar", symbol="uplink_dma_paddr", region_paddr=dma.name))
        conn = exp.connection(pd_name, switch_pd, "%s_net" % pd_name, port["capacity"],
                              port["data_size"])
        mac = ":".join("%02x" % b for b in port["mac"])
        exp.plan["components"].append({
            "pd": pd_name, "kind": "uplink", "elf": elf, "switch": sw["name"],
            "net": conn["client"], "regs": regs, "regs_phys": addr, "irq_channel": cid,
            "dma": dma_vaddr, "dma_size": DMA_SIZE})
        gateway, dns = qemu_addresses(sw["subnet"])
        netdev = ["user", "id=%s" % sw["name"], "restrict=on", "ipv6=off",
                  "net=%s" % sw["subnet"], "host=%s" % gateway, "dns=%s" % dns]
        netdev += ["hostfwd=%s:127.0.0.1:%d-%s:%d" % r for r in sw["uplink"]["hostfwd"]]
        exp.plan.setdefault("qemu_args", [])
        if "-global virtio-mmio.force-legacy=false" not in " ".join(exp.plan["qemu_args"]):
            exp.plan["qemu_args"] += ["-global", "virtio-mmio.force-legacy=false"]
        exp.plan["qemu_args"] += ["-netdev", ",".join(netdev), "-device",
                                  "virtio-net-device,netdev=%s,mac=%s,bus=virtio-mmio-bus.%d" %
                                  (sw["name"], mac, bus)]
        exp.note("protection domain '%s' added: the uplink of switch '%s' on the NIC at 0x%x (irq "
                 "%d, MAC %s), QEMU's user network on %s restricted to this machine%s" %
                 (pd_name, sw["name"], addr, irq, mac, sw["subnet"],
                  "".join(", %s 127.0.0.1:%d -> %s:%d" % r for r in sw["uplink"]["hostfwd"])))
        return conn["server"]

