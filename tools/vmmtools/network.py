"""Virtual networks in a system file: switches, the VMs' network devices and the native PDs on
them, expanded into the switch PDs, their connections and each port's configuration.

Notation (README, "Networks"):

    <virtual_switch name="lan" subnet="10.0.0.0/24"/>           at the top level; subnet optional
    <virtio_net switch="lan" mac="02:00:00:00:00:01"/>          in a <virtual_machine>; mac optional
    <net_client switch="lan" mac="..." ip="10.0.0.100" udp_port="7"/>
                                                                in a native component's PD

MACs default to a locally administered unicast address derived from the switch and the VM or PD
name; a native PD's IPv4 address defaults to one of the switch's subnet derived from its name. The
switch PD the build adds is named vswitch_<switch>; each port is one connection (proto/net.h).
"""
import hashlib
import ipaddress
import re

from . import ToolError, uplink

NET_RING_CAPACITY = 64
NET_BUF_SIZE = 2048
NET_DATA_SIZE = NET_RING_CAPACITY * NET_BUF_SIZE
NET_MTU = 1500
VSWITCH_MAX_PORTS = 16
VSWITCH_PRIORITY = 200  # above the guests, below the VMMs (as the serial multiplexer)
NAME_MAX = 32  # components/vswitch/config.h: VSWITCH_NAME_MAX
DEFAULT_SUBNET = "10.0.0.0/24"
DEFAULT_UDP_PORT = 7

SWITCH_ATTRS = {"name", "subnet"}
VIRTIO_NET_ATTRS = {"switch", "mac"}
NET_CLIENT_ATTRS = {"switch", "mac", "ip", "udp_port"}
NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


def derived_mac(switch, name):
    """A stable locally administered unicast MAC for `name` on `switch`: 02 then 5 bytes of a
    hash, so a rebuild gives the same address and two names almost never share one."""
    h = hashlib.sha256(("%s/%s" % (switch, name)).encode()).digest()
    return [0x02] + list(h[:5])


def derived_ip(subnet, name, taken):
    """A stable address of the subnet for `name`: a host number from a hash, the next free one if
    taken; never the network, the broadcast or the first host (a gateway by habit)."""
    hosts = subnet.num_addresses - 3
    if hosts < 1:
        return None
    start = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % hosts
    for k in range(hosts):
        addr = subnet.network_address + 2 + (start + k) % hosts
        if addr not in taken:
            return addr
    return None


def mac_text(mac):
    return ":".join("%02x" % b for b in mac)


class Networks:
    """The network part of an Expansion (expand.py): `exp` gives the file, its PDs and the
    helpers that add regions, maps, channels and PDs."""

    def __init__(self, exp):
        self.exp = exp
        self.path = exp.path
        self.switches = {}  # name -> {"subnet", "ports": [...]}
        self.order = []
        self.uplinks = uplink.Uplinks(self)

    def fail(self, msg):
        raise ToolError("%s: %s" % (self.path, msg))

    def check_attrs(self, el, allowed, who):
        extra = sorted(set(el.attrib) - allowed)
        if extra:
            self.fail("%s: <%s> has no attribute '%s' (it takes %s)" %
                      (who, el.tag, extra[0], ", ".join(sorted(allowed))))

    # ---- declarations -------------------------------------------------------------------------

    def collect_switches(self):
        root = self.exp.root
        for el in root.iter("virtual_switch"):
            if el not in list(root):
                self.fail("<virtual_switch> belongs at the top level of <system>, not inside "
                          "another element")
        for el in root.iter():
            if any(k.tag == "uplink" for k in el) and el.tag != "virtual_switch":
                self.fail("<uplink/> belongs in a <virtual_switch>, not in <%s>" % el.tag)
        for el in root.findall("virtual_switch"):
            self.check_attrs(el, SWITCH_ATTRS, "virtual switch '%s'" % el.get("name", "?"))
            name = el.get("name")
            if not name:
                self.fail("a <virtual_switch> has no name")
            if not NAME_RE.match(name) or len(name) > NAME_MAX:
                self.fail("virtual switch '%s': a name is letters, digits and '_', at most %d "
                          "characters" % (name, NAME_MAX))
            if name in self.switches:
                self.fail("two virtual switches are named '%s'" % name)
            text = el.get("subnet", DEFAULT_SUBNET)
            try:
                subnet = ipaddress.IPv4Network(text)
            except ValueError:
                self.fail("virtual switch '%s': subnet '%s' is not an IPv4 network such as "
                          "10.0.0.0/24" % (name, text))
            if subnet.num_addresses < 4:
                self.fail("virtual switch '%s': subnet %s has no room for hosts" % (name, subnet))
            self.switches[name] = {"name": name, "subnet": subnet, "ports": []}
            self.order.append(name)
            self.uplinks.collect(self.switches[name], el)
            root.remove(el)

    def switch_of(self, el, who):
        name = el.get("switch")
        if not name:
            self.fail("%s: <%s/> names no switch (switch=\"...\")" % (who, el.tag))
        if name not in self.switches:
            known = ", ".join("'%s'" % s for s in self.order) or "none is declared"
            self.fail("%s: <%s switch=\"%s\"/> names no <virtual_switch> (%s)" %
                      (who, el.tag, name, known))
        return self.switches[name]

    def parse_mac(self, el, who):
        text = el.get("mac")
        if text is None:
            return None
        if not MAC_RE.match(text):
            self.fail("%s: mac '%s' is not six hex bytes such as 02:00:00:00:00:01" % (who, text))
        mac = [int(b, 16) for b in text.split(":")]
        if mac[0] & 1:
            self.fail("%s: mac %s is a group (multicast) address; a port needs a unicast one" %
                      (who, text))
        if not any(mac):
            self.fail("%s: mac %s is all zeros" % (who, text))
        return mac

    def add_port(self, sw, kind, pd, owner, el, who):
        """A port of switch `sw`: `owner` is the VM or PD name that names it."""
        if any(p["name"] == owner for p in sw["ports"]):
            self.fail("%s: a second <%s switch=\"%s\"/>; one port per switch" %
                      (who, el.tag, sw["name"]))
        port = {"name": owner, "kind": kind, "pd": pd, "who": who, "el": el,
                "mac": self.parse_mac(el, who), "mac_given": el.get("mac") is not None}
        sw["ports"].append(port)
        return port

    def collect_vm_devices(self, vmms, devices):
        """<virtio_net/> of each VM (devices: pd name -> the declarations taken out of it)."""
        for pd in vmms:
            for el in devices.get(pd.name, []):
                if el.tag != "virtio_net":
                    continue
                who = "virtual machine '%s'" % pd.vm_name
                self.check_attrs(el, VIRTIO_NET_ATTRS, who)
                self.add_port(self.switch_of(el, who), "vm", pd, pd.vm_name, el, who)

    def collect_pd_clients(self, pds, decls):
        """<net_client/> of each native component PD (decls: pd name -> its declarations)."""
        for pd in pds:
            clients = [el for el in decls.get(pd.name, []) if el.tag == "net_client"]
            who = "protection domain '%s'" % pd.name
            if len(clients) > 1:
                self.fail("%s declares %d <net_client/>; one is its network port" %
                          (who, len(clients)))
            for el in clients:
                self.check_attrs(el, NET_CLIENT_ATTRS, who)
                port = self.add_port(self.switch_of(el, who), "pd", pd, pd.name, el, who)
                port["ip_text"] = el.get("ip")
                port["udp_port_text"] = el.get("udp_port")

    # ---- addresses ----------------------------------------------------------------------------

    def assign_addresses(self):
        for name in self.order:
            sw = self.switches[name]
            if not sw["ports"]:
                self.fail("virtual switch '%s' has no ports: no <virtio_net switch=\"%s\"/> nor "
                          "<net_client switch=\"%s\"/> names it" % (name, name, name))
            if len(sw["ports"]) > VSWITCH_MAX_PORTS:
                self.fail("virtual switch '%s' has %d ports; a switch serves at most %d" %
                          (name, len(sw["ports"]), VSWITCH_MAX_PORTS))
            owner = {}
            for p in sw["ports"]:
                if p["mac"] is None:
                    p["mac"] = derived_mac(name, p["name"])
                key = tuple(p["mac"])
                if key in owner:
                    self.fail("virtual switch '%s': %s and %s have the same MAC %s" %
                              (name, owner[key]["who"], p["who"], mac_text(p["mac"])))
                owner[key] = p
            self.assign_ips(sw)

    def assign_ips(self, sw):
        subnet = sw["subnet"]
        taken = {}
        if "uplink" in sw:
            for addr in uplink.qemu_addresses(subnet):
                taken[addr] = {"who": "QEMU's user network behind the uplink"}
        clients = [p for p in sw["ports"] if p["kind"] == "pd"]
        for p in clients:
            text = p.pop("ip_text")
            if text is None:
                continue
            try:
                ip = ipaddress.IPv4Address(text)
            except ValueError:
                self.fail("%s: ip '%s' is not an IPv4 address" % (p["who"], text))
            if ip not in subnet:
                self.fail("%s: ip %s is not in the subnet of switch '%s' (%s)" %
                          (p["who"], ip, sw["name"], subnet))
            if ip in (subnet.network_address, subnet.broadcast_address):
                self.fail("%s: ip %s is the network or broadcast address of %s" %
                          (p["who"], ip, subnet))
            self.uplinks.check_ip(sw, ip, p["who"])
            if ip in taken:
                self.fail("virtual switch '%s': %s and %s have the same ip %s" %
                          (sw["name"], taken[ip]["who"], p["who"], ip))
            taken[ip] = p
            p["ip"] = ip
        for p in clients:
            if "ip" not in p:
                ip = derived_ip(subnet, p["name"], taken)
                if ip is None:
                    self.fail("virtual switch '%s': subnet %s has no free address for %s" %
                              (sw["name"], subnet, p["who"]))
                taken[ip] = p
                p["ip"] = ip
            text = p.pop("udp_port_text")
            port = DEFAULT_UDP_PORT
            if text is not None:
                try:
                    port = int(text, 0)
                except ValueError:
                    port = -1
                if not 1 <= port <= 65535:
                    self.fail("%s: udp_port '%s' is not a port number (1..65535)" %
                              (p["who"], text))
            p["udp_port"] = port

    # ---- the switch PDs and their connections -------------------------------------------------

    def build(self, vm_devices, instances):
        exp = self.exp
        for name in self.order:
            sw = self.switches[name]
            pd_name = "vswitch_%s" % name
            elf = "%s.elf" % pd_name
            exp.add_pd(pd_name, VSWITCH_PRIORITY, elf)
            config = {"pd": pd_name, "kind": "vswitch", "elf": elf, "switch": name, "ports": []}
            # The uplink's port comes last, after the VMs' and the PDs'.
            for p in sorted(sw["ports"], key=lambda p: p["kind"] == "uplink"):
                if p["kind"] == "uplink":
                    p.update(capacity=NET_RING_CAPACITY, data_size=NET_DATA_SIZE)
                    config["ports"].append({"name": p["name"], "mac": p["mac"], "uplink": True,
                                            "conn": self.uplinks.build(sw, p, pd_name)})
                    continue
                conn = exp.connection(p["pd"].name, pd_name, "%s_%s_net" % (p["name"], name),
                                      NET_RING_CAPACITY, NET_DATA_SIZE)
                config["ports"].append({"name": p["name"], "mac": p["mac"], "uplink": False,
                                        "conn": conn["server"]})
                if p["kind"] == "vm":
                    vm_devices[p["pd"].name].append({
                        "type": "net", "name": "net_%s" % name, "switch": name,
                        "mac": p["mac"], "mtu": NET_MTU, "conn": conn["client"]})
                    exp.note("virtual machine '%s' is on switch '%s' with MAC %s" %
                             (p["name"], name, mac_text(p["mac"])))
                else:
                    inst = instances[p["pd"].name]
                    inst["net"] = {"switch": name, "mac": p["mac"], "ip": str(p["ip"]),
                                   "udp_port": p["udp_port"], "conn": conn["client"]}
                    exp.note("protection domain '%s' is on switch '%s' with MAC %s, ip %s" %
                             (p["name"], name, mac_text(p["mac"]), p["ip"]))
            exp.plan["components"].append(config)
            exp.note("protection domain '%s' added: the virtual switch '%s' (%s) between %s" %
                     (pd_name, name, sw["subnet"], ", ".join(p["name"] for p in sw["ports"])))
