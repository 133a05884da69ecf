#!/usr/bin/env python3
"""Tests of the network declarations in a system file (tools/vmmtools/network.py): switches, the
VMs' <virtio_net/>, native PDs' <net_client/>, the switch PD and its connections the build adds,
the generated configurations (switch, echo service, the VMM's device), derived addresses, and one
clear line for each bad declaration."""
import ipaddress
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tools"))

from test_vmm_system import ROOT, SYSTEMS, Board, ExpansionCase, system, vmm  # noqa: E402
from vmmtools import ToolError, component_config, expand, network, platform  # noqa: E402

SWITCH = '<virtual_switch name="lan" />'


def echo(name="echo", attrs='switch="lan"', extra=""):
    return ('<protection_domain name="%s" priority="150"><program_image path="echo.elf" />'
            '<net_client %s />%s</protection_domain>' % (name, attrs, extra))


def load_vmm_config():
    """tools/vmm-config.py as a module (its name has a dash)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("vmm_config", os.path.join(ROOT, "tools",
                                                                             "vmm-config.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class NetworkTests(ExpansionCase):
    def two_vms_and_echo(self, a_net='<virtio_net switch="lan" />',
                         b_net='<virtio_net switch="lan" mac="02:00:00:00:00:0b" />',
                         echo_attrs='switch="lan" ip="10.0.0.100" udp_port="7"', more=SWITCH):
        return system(vmm("a", "ram1", extra="<virtio_console />" + a_net),
                      vmm("b", "ram2", extra="<virtio_console />" + b_net),
                      more=more + echo(attrs=echo_attrs))

    # -- what the build adds --------------------------------------------------------------------

    def test_two_vms_and_echo_on_one_switch(self):
        plan, root, msgs = self.expand(self.two_vms_and_echo())
        comps = {c["pd"]: c for c in plan["components"]}
        sw = comps["vswitch_lan"]
        self.assertEqual(sw["kind"], "vswitch")
        self.assertEqual([p["name"] for p in sw["ports"]], ["a", "b", "echo"])
        self.assertEqual(sw["ports"][1]["mac"], [2, 0, 0, 0, 0, 0x0b])
        self.assertEqual(comps["echo"]["net"]["ip"], "10.0.0.100")
        self.assertEqual(comps["echo"]["net"]["udp_port"], 7)
        pds = {p.get("name"): p for p in root.iter("protection_domain")}
        self.assertEqual(pds["vswitch_lan"].find("program_image").get("path"), "vswitch_lan.elf")
        self.assertEqual(pds["echo"].find("program_image").get("path"), "echo.elf")
        self.assertEqual(list(root.iter("virtual_switch")), [])
        self.assertEqual(list(root.iter("virtio_net")), [])
        self.assertEqual(list(root.iter("net_client")), [])
        # Each VM: console first, then its network device, in the next virtio-mmio slot.
        for vm in plan["vms"]:
            types = [d["type"] for d in vm["virtio"]]
            self.assertEqual(types, ["console", "net"])
            net = vm["virtio"][1]
            self.assertEqual((net["base"], net["irq"]), (0x0a000200, 49))
            self.assertEqual(net["name"], "net_lan")
            self.assertEqual(net["mtu"], 1500)
        # The two sides of each connection map the same regions, with the data regions' write
        # permission on the side that fills them.
        maps = {}
        for pd in root.iter("protection_domain"):
            for m in pd.findall("map"):
                maps.setdefault(m.get("mr"), {})[pd.get("name")] = m.get("perms")
        for name in ("a", "b", "echo"):
            client = "vmm_" + name if name != "echo" else "echo"
            self.assertEqual(maps["%s_lan_net_tx" % name], {client: "rw", "vswitch_lan": "r"})
            self.assertEqual(maps["%s_lan_net_rx" % name], {client: "r", "vswitch_lan": "rw"})
            self.assertEqual(maps["%s_lan_net_queue" % name], {client: "rw", "vswitch_lan": "rw"})
        # Channel ids are unique per PD.
        ids = {}
        for ch in root.iter("channel"):
            for end in ch.findall("end"):
                ids.setdefault(end.get("pd"), []).append(end.get("id"))
        for name, used in ids.items():
            self.assertEqual(len(used), len(set(used)), name)
        joined = "\n".join(msgs)
        self.assertIn("protection domain 'vswitch_lan' added: the virtual switch 'lan' "
                      "(10.0.0.0/24) between a, b, echo", joined)
        self.assertIn("virtual machine 'b' is on switch 'lan' with MAC 02:00:00:00:00:0b", joined)

    def test_generated_configurations(self):
        plan, root, msgs = self.expand(self.two_vms_and_echo())
        comps = {c["pd"]: c for c in plan["components"]}
        text = component_config.generate(comps["vswitch_lan"], "x.system")
        self.assertIn('.name = "lan"', text)
        self.assertIn(".num_ports = 3", text)
        self.assertIn("{.name = \"b\", .mac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0b}, "
                      ".uplink = false", text)
        text = component_config.generate(comps["echo"], "x.system")
        self.assertIn(".ip = {0x0a, 0x00, 0x00, 0x64}", text)
        self.assertIn(".udp_port = 7", text)
        vm_b = [vm for vm in plan["vms"] if vm["vm"] == "b"][0]
        text = load_vmm_config().c_virtio(vm_b["virtio"])
        self.assertIn(".type = VMM_VIRTIO_NET", text)
        self.assertIn(".u.net = {.mac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0b}, .mtu = 1500}", text)
        # The sides agree: the VMM's channel is the one the channel element gives it.
        conn = vm_b["virtio"][1]["conn"]
        ends = [(c.findall("end")[0].get("pd"), c.findall("end")[0].get("id"),
                 c.findall("end")[1].get("pd")) for c in root.iter("channel")]
        self.assertIn(("vmm_b", str(conn["channel"]), "vswitch_lan"), ends)

    def test_derived_addresses_are_stable_and_distinct(self):
        plan1, _, _ = self.expand(self.two_vms_and_echo(b_net='<virtio_net switch="lan" />',
                                                        echo_attrs='switch="lan"'))
        plan2, _, _ = self.expand(self.two_vms_and_echo(b_net='<virtio_net switch="lan" />',
                                                        echo_attrs='switch="lan"'))
        sw1 = [c for c in plan1["components"] if c["kind"] == "vswitch"][0]
        sw2 = [c for c in plan2["components"] if c["kind"] == "vswitch"][0]
        macs = [tuple(p["mac"]) for p in sw1["ports"]]
        self.assertEqual(macs, [tuple(p["mac"]) for p in sw2["ports"]])
        self.assertEqual(len(set(macs)), 3)
        for m in macs:
            self.assertEqual(m[0], 0x02)  # locally administered, unicast
        self.assertEqual(list(macs[0]), network.derived_mac("lan", "a"))
        echo_net = [c for c in plan1["components"] if c["pd"] == "echo"][0]["net"]
        ip = ipaddress.IPv4Address(echo_net["ip"])
        self.assertIn(ip, ipaddress.IPv4Network("10.0.0.0/24"))
        self.assertNotIn(str(ip), ("10.0.0.0", "10.0.0.1", "10.0.0.255"))
        self.assertEqual(echo_net["udp_port"], 7)

    def test_derived_ip_skips_taken_addresses(self):
        subnet = ipaddress.IPv4Network("10.1.0.0/29")  # hosts .2 .. .6 usable here
        taken = {}
        got = set()
        for i in range(5):
            ip = network.derived_ip(subnet, "pd%d" % i, taken)
            self.assertIsNotNone(ip)
            self.assertNotIn(ip, taken)
            taken[ip] = i
            got.add(ip)
        self.assertEqual(got, {ipaddress.IPv4Address("10.1.0.%d" % h) for h in range(2, 7)})
        self.assertIsNone(network.derived_ip(subnet, "one-too-many", taken))

    def test_subnet_of_the_switch(self):
        plan, _, _ = self.expand(self.two_vms_and_echo(
            echo_attrs='switch="lan"', more='<virtual_switch name="lan" subnet="192.168.7.0/28" />'))
        echo_net = [c for c in plan["components"] if c["pd"] == "echo"][0]["net"]
        self.assertIn(ipaddress.IPv4Address(echo_net["ip"]),
                      ipaddress.IPv4Network("192.168.7.0/28"))

    def test_two_switches(self):
        text = system(vmm("a", "ram1", extra='<virtio_net switch="lan" /><virtio_net switch="dmz" '
                                             '/>'),
                      more=SWITCH + '<virtual_switch name="dmz" />' + echo("e1") +
                      echo("e2", 'switch="dmz"'))
        plan, root, _ = self.expand(text)
        kinds = sorted(c["pd"] for c in plan["components"] if c["kind"] == "vswitch")
        self.assertEqual(kinds, ["vswitch_dmz", "vswitch_lan"])
        devs = plan["vms"][0]["virtio"]
        self.assertEqual([d["name"] for d in devs], ["net_lan", "net_dmz"])
        self.assertNotEqual(devs[0]["base"], devs[1]["base"])

    def test_every_example_system_with_a_network(self):
        for name in sorted(os.listdir(SYSTEMS)):
            with open(os.path.join(SYSTEMS, name)) as f:
                if "virtual_switch" not in f.read():
                    continue
            msgs = []
            dt = Board.get()
            exp = expand.Expansion(os.path.join(SYSTEMS, name), dt, platform.Platform(dt), msgs)
            plan = exp.run()
            for c in plan["components"]:
                component_config.generate(c, name)

    # -- mistakes: one line each ----------------------------------------------------------------

    def test_switch_without_name(self):
        self.refuse(self.two_vms_and_echo(more="<virtual_switch />"), "has no name")

    def test_switch_bad_name(self):
        self.refuse(self.two_vms_and_echo(more='<virtual_switch name="l-an" />'), "'l-an'",
                    "letters, digits")

    def test_two_switches_same_name(self):
        self.refuse(self.two_vms_and_echo(more=SWITCH + SWITCH), "two virtual switches are named "
                    "'lan'")

    def test_switch_not_at_top_level(self):
        self.refuse(system(vmm("a", "ram1", extra=SWITCH)), "<virtual_switch> belongs at the top "
                    "level")

    def test_switch_bad_subnet(self):
        self.refuse(self.two_vms_and_echo(more='<virtual_switch name="lan" subnet="10.0.0.1/24" '
                                               '/>'), "subnet '10.0.0.1/24'")
        self.refuse(self.two_vms_and_echo(more='<virtual_switch name="lan" subnet="10.0.0.0/31" '
                                               '/>'), "no room for hosts")

    def test_switch_unknown_attribute(self):
        self.refuse(self.two_vms_and_echo(more='<virtual_switch name="lan" vlan="3" />'),
                    "no attribute 'vlan'")

    def test_switch_without_ports(self):
        self.refuse(system(vmm("a", "ram1"), more=SWITCH), "virtual switch 'lan' has no ports")

    def test_virtio_net_without_switch(self):
        self.refuse(self.two_vms_and_echo(a_net="<virtio_net />"), "virtual machine 'a'",
                    "names no switch")

    def test_virtio_net_unknown_switch(self):
        self.refuse(self.two_vms_and_echo(a_net='<virtio_net switch="wan" />'),
                    "virtual machine 'a'", "switch=\"wan\"", "'lan'")

    def test_virtio_net_unknown_attribute(self):
        self.refuse(self.two_vms_and_echo(a_net='<virtio_net switch="lan" ip="10.0.0.1" />'),
                    "virtual machine 'a'", "no attribute 'ip'")

    def test_bad_macs(self):
        for mac, needle in (("02:00:00:00:00", "not six hex bytes"),
                            ("02:00:00:00:00:zz", "not six hex bytes"),
                            ("01:00:5e:00:00:01", "group (multicast)"),
                            ("00:00:00:00:00:00", "all zeros")):
            self.refuse(self.two_vms_and_echo(a_net='<virtio_net switch="lan" mac="%s" />' % mac),
                        "virtual machine 'a'", needle)

    def test_same_mac_twice(self):
        self.refuse(self.two_vms_and_echo(a_net='<virtio_net switch="lan" mac="02:00:00:00:00:0b"'
                                                ' />'),
                    "virtual machine 'a' and virtual machine 'b' have the same MAC "
                    "02:00:00:00:00:0b")

    def test_two_ports_on_one_switch_in_one_vm(self):
        self.refuse(self.two_vms_and_echo(a_net='<virtio_net switch="lan" />' * 2),
                    "virtual machine 'a'", "one port per switch")

    def test_echo_bad_ip(self):
        for ip, needle in (("10.0.0", "not an IPv4 address"),
                           ("10.0.1.5", "not in the subnet of switch 'lan' (10.0.0.0/24)"),
                           ("10.0.0.255", "network or broadcast"),
                           ("10.0.0.0", "network or broadcast")):
            self.refuse(self.two_vms_and_echo(echo_attrs='switch="lan" ip="%s"' % ip),
                        "protection domain 'echo'", needle)

    def test_two_pds_same_ip(self):
        self.refuse(system(vmm("a", "ram1", extra='<virtio_net switch="lan" />'),
                           more=SWITCH + echo("e1", 'switch="lan" ip="10.0.0.9"') +
                           echo("e2", 'switch="lan" ip="10.0.0.9"')),
                    "protection domain 'e1' and protection domain 'e2' have the same ip 10.0.0.9")

    def test_echo_bad_udp_port(self):
        for port in ("0", "65536", "seven"):
            self.refuse(self.two_vms_and_echo(echo_attrs='switch="lan" udp_port="%s"' % port),
                        "protection domain 'echo'", "udp_port '%s'" % port)

    def test_net_client_unknown_attribute(self):
        self.refuse(self.two_vms_and_echo(echo_attrs='switch="lan" tcp_port="7"'),
                    "protection domain 'echo'", "no attribute 'tcp_port'")

    def test_two_net_clients_in_one_pd(self):
        self.refuse(self.two_vms_and_echo(echo_attrs='switch="lan" /><net_client switch="lan"'),
                    "protection domain 'echo' declares 2 <net_client/>")

    def test_net_client_in_a_vmm(self):
        self.refuse(system(vmm("a", "ram1").replace("<virtual_machine", '<net_client switch="lan" '
                                                    '/><virtual_machine'), more=SWITCH),
                    "'vmm_a'", "<virtio_net switch=")

    def test_net_client_of_a_program_the_build_does_not_have(self):
        self.refuse(system(vmm("a", "ram1"), more=SWITCH + '<protection_domain name="mine">'
                           '<program_image path="mine.elf" /><net_client switch="lan" />'
                           '</protection_domain>'),
                    "'mine'", "<net_client/>", "echo.elf")

    def test_echo_without_net_client(self):
        plan, _, _ = self.expand(system(vmm("a", "ram1"), more='<protection_domain name="echo">'
                                        '<program_image path="echo.elf" /></protection_domain>'))
        comp = [c for c in plan["components"] if c["pd"] == "echo"][0]
        with self.assertRaises(ToolError) as cm:
            component_config.generate(comp, "x.system")
        self.assertIn("needs <net_client switch=", str(cm.exception))

    def test_net_client_on_a_component_without_network(self):
        text = system(vmm("a", "ram1", extra='<virtio_net switch="lan" />'),
                      more=SWITCH + '<protection_domain name="h"><program_image path="hello.elf" '
                      '/><serial_client /><net_client switch="lan" /></protection_domain>')
        plan, _, _ = self.expand(text)
        comp = [c for c in plan["components"] if c["pd"] == "h"][0]
        with self.assertRaises(ToolError) as cm:
            component_config.generate(comp, "x.system")
        self.assertIn("has no network port: remove its <net_client/>", str(cm.exception))

    def test_switch_program_named_by_hand(self):
        plan, _, _ = self.expand(system(vmm("a", "ram1"), more='<protection_domain name="sw">'
                                        '<program_image path="vswitch.elf" /></protection_domain>'))
        comp = [c for c in plan["components"] if c["pd"] == "sw"][0]
        with self.assertRaises(ToolError) as cm:
            component_config.generate(comp, "x.system")
        self.assertIn("declare <virtual_switch name=", str(cm.exception))

    def test_too_many_ports(self):
        pds = "".join(echo("e%d" % i) for i in range(17))
        self.refuse(system(vmm("a", "ram1"), more=SWITCH + pds), "17 ports", "at most 16")

    def test_switch_pd_name_taken(self):
        self.refuse(self.two_vms_and_echo(more=SWITCH + '<protection_domain name="vswitch_lan">'
                                          '<program_image path="x.elf" /></protection_domain>'),
                    "'vswitch_lan' is one the build adds")

    # -- the uplink ------------------------------------------------------------------------------

    UPLINK = ('<virtual_switch name="lan"><uplink hostfwd="tcp:5555-10.0.0.2:5001 '
              'tcp:5556-10.0.0.1:22" /></virtual_switch>')

    def test_uplink_pd_nic_dma_and_qemu_options(self):
        plan, root, msgs = self.expand(self.two_vms_and_echo(more=self.UPLINK))
        comps = {c["pd"]: c for c in plan["components"]}
        up = comps["vswitch_lan_uplink"]
        self.assertEqual(up["kind"], "uplink")
        self.assertEqual(up["regs_phys"], 0x0a003e00)  # QEMU's last slot: its first -device
        self.assertEqual(up["regs"] & 0xfff, 0xe00)
        sw = comps["vswitch_lan"]
        self.assertEqual([p["name"] for p in sw["ports"]], ["a", "b", "echo", "uplink"])
        self.assertEqual([p["uplink"] for p in sw["ports"]], [False, False, False, True])
        pds = {p.get("name"): p for p in root.iter("protection_domain")}
        pd = pds["vswitch_lan_uplink"]
        self.assertEqual([(i.get("irq"), i.get("id")) for i in pd.findall("irq")],
                         [("79", str(up["irq_channel"]))])
        setvar = pd.find("setvar")
        self.assertEqual(setvar.get("symbol"), "uplink_dma_paddr")
        regions = {r.get("name"): r for r in root.iter("memory_region")}
        dma = regions[setvar.get("region_paddr")]
        self.assertEqual((int(dma.get("size"), 0), int(dma.get("page_size"), 0)),
                         (0x200000, 0x200000))
        nic = regions["vswitch_lan_uplink_nic"]
        self.assertEqual(int(nic.get("phys_addr"), 0), 0x0a003000)
        maps = {m.get("mr"): m for m in pd.findall("map")}
        self.assertEqual(maps["vswitch_lan_uplink_nic"].get("cached"), "false")
        self.assertEqual(maps[dma.get("name")].get("cached"), "false")
        args = " ".join(plan["qemu_args"])
        self.assertIn("-global virtio-mmio.force-legacy=false", args)
        mac = ":".join("%02x" % b for b in sw["ports"][3]["mac"])
        self.assertIn("-device virtio-net-device,netdev=lan,mac=%s" % mac, args)
        netdev = plan["qemu_args"][plan["qemu_args"].index("-netdev") + 1].split(",")
        self.assertEqual(netdev[:7], ["user", "id=lan", "restrict=on", "ipv6=off",
                                      "net=10.0.0.0/24", "host=10.0.0.254", "dns=10.0.0.253"])
        self.assertEqual(netdev[7:], ["hostfwd=tcp:127.0.0.1:5555-10.0.0.2:5001",
                                      "hostfwd=tcp:127.0.0.1:5556-10.0.0.1:22"])
        text = component_config.generate(up, "x.system")
        self.assertIn(".regs_phys = 0xa003e00ull", text)
        self.assertIn(".dma_size = 0x200000", text)
        self.assertTrue(any("restricted to this machine" in m for m in msgs))

    def test_uplink_make_fragment(self):
        import importlib.util
        spec = importlib.util.spec_from_file_location("vmm_system", os.path.join(
            ROOT, "tools", "vmm-system.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        plan, _, _ = self.expand(self.two_vms_and_echo(more=self.UPLINK))
        mk = mod.make_fragment(plan, "x.system")
        self.assertRegex(mk, r"SYSTEM_QEMU_ARGS = -global virtio-mmio.force-legacy=false "
                             r"-netdev user,id=lan,restrict=on,")
        # Pinned to the slot the uplink drives, the highest (QEMU numbers the buses by address).
        self.assertRegex(mk, r"-device virtio-net-device,netdev=lan,mac=[0-9a-f:]+,"
                             r"bus=virtio-mmio-bus\.31\n")
        plan, _, _ = self.expand(self.two_vms_and_echo())
        self.assertIn("SYSTEM_QEMU_ARGS = \n", mod.make_fragment(plan, "x.system"))

    def test_uplink_keeps_qemus_addresses_free(self):
        plan, _, _ = self.expand(self.two_vms_and_echo(
            echo_attrs='switch="lan"',
            more='<virtual_switch name="lan" subnet="10.9.0.0/29"><uplink /></virtual_switch>'))
        ip = [c for c in plan["components"] if c["pd"] == "echo"][0]["net"]["ip"]
        self.assertNotIn(ip, ("10.9.0.6", "10.9.0.5"))
        for ip in ("10.0.0.254", "10.0.0.253"):
            self.refuse(self.two_vms_and_echo(echo_attrs='switch="lan" ip="%s"' % ip,
                                              more=self.UPLINK),
                        "protection domain 'echo'", "QEMU's user network")

    def test_uplink_mistakes(self):
        for uplink, needles in (
                ('<uplink /><uplink />', ("2 <uplink/>",)),
                ('<uplink vlan="2" />', ("no attribute 'vlan'",)),
                ('<port />', ("holds only <uplink/>", "<port>")),
                ('<uplink hostfwd="tcp:5555:10.0.0.2:22" />', ("not tcp:HOSTPORT-IP:PORT",)),
                ('<uplink hostfwd="udp:5555-10.0.0.2:7" />', ("only tcp can be forwarded",)),
                ('<uplink hostfwd="tcp:0-10.0.0.2:22" />', ("not 1..65535",)),
                ('<uplink hostfwd="tcp:5555-10.0.0.300:22" />', ("not an IPv4 address",)),
                ('<uplink hostfwd="tcp:5555-192.168.1.2:22" />', ("not in the switch's subnet",)),
                ('<uplink mac="01:00:00:00:00:01" />', ("group (multicast)",))):
            self.refuse(self.two_vms_and_echo(more='<virtual_switch name="lan">%s</virtual_switch>'
                                              % uplink), "virtual switch 'lan'", *needles)

    def test_uplink_outside_a_switch(self):
        self.refuse(system(vmm("a", "ram1", extra='<virtio_net switch="lan" /><uplink />'),
                           more=SWITCH), "<uplink/> belongs in a <virtual_switch>")

    def test_uplink_slot_taken(self):
        # The highest slot's interrupt is a VM's: the uplink drives the next one down.
        plan, _, _ = self.expand(system(vmm("a", "ram1", '<irq irq="79" id="5" />',
                                            '<virtio_net switch="lan" />'), more=self.UPLINK))
        up = [c for c in plan["components"] if c["kind"] == "uplink"][0]
        self.assertEqual(up["regs_phys"], 0xa003c00)
        self.assertIn("bus=virtio-mmio-bus.30", " ".join(plan["qemu_args"]))

    def test_config_header_limits_match(self):
        with open(os.path.join(ROOT, "components/vswitch/config.h")) as f:
            h = f.read()
        self.assertEqual(int(re.search(r"#define VSWITCH_MAX_PORTS (\d+)", h).group(1)),
                         network.VSWITCH_MAX_PORTS)
        self.assertEqual(int(re.search(r"#define VSWITCH_NAME_MAX (\d+)", h).group(1)),
                         network.NAME_MAX)
        with open(os.path.join(ROOT, "include/proto/net.h")) as f:
            h = f.read()
        self.assertEqual(int(re.search(r"#define NET_BUF_SIZE (\d+)u", h).group(1)),
                         network.NET_BUF_SIZE)
        self.assertEqual(int(re.search(r"#define NET_MTU (\d+)u", h).group(1)), network.NET_MTU)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    failed = len(result.failures) + len(result.errors)
    print("network declaration tests: %d passed, %d failed" % (result.testsRun - failed, failed))
    sys.exit(1 if failed else 0)
