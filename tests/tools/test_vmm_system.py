#!/usr/bin/env python3
"""Tests of the system-file expansion (tools/vmm-system.py): several VMs, what they may share,
device declarations turned into backend PDs, regions and channels, the wake-up timer, the seed
manual's form, and one clear line for each mistake."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from vmmtools import ToolError, expand, fdt, platform  # noqa: E402

QEMU_DTS = os.path.join(ROOT, "board/qemu_virt_aarch64/qemu_virt.dts")
TOOL = os.path.join(ROOT, "tools/vmm-system.py")
SYSTEMS = os.path.join(ROOT, "board/qemu_virt_aarch64/systems")

VMM = """
  <protection_domain name="vmm_%(vm)s" priority="254">
    <program_image path="vmm.elf" />
    <map mr="%(ram)s" vaddr="0x40000000" perms="rw" setvar_vaddr="guest_ram_vaddr" />
    %(irqs)s
    <virtual_machine name="%(vm)s" priority="100">
      <vcpu id="0" />
      <map mr="%(ram)s" vaddr="0x40000000" perms="rwx" />
      <map mr="gic_vcpu" vaddr="0x8010000" perms="rw" cached="false" />
      %(extra)s
    </virtual_machine>
  </protection_domain>
"""

REGIONS = """
  <memory_region name="ram1" size="0x10000000" page_size="0x200000" phys_addr="0x40000000" />
  <memory_region name="ram2" size="0x8000000" page_size="0x200000" phys_addr="0x50000000" />
  <memory_region name="uart" size="0x1000" phys_addr="0x9000000" />
  <memory_region name="gic_vcpu" size="0x1000" phys_addr="0x8040000" />
"""


def vmm(vm, ram, irqs="", extra=""):
    return VMM % dict(vm=vm, ram=ram, irqs=irqs, extra=extra)


def system(*pds, regions=REGIONS, more=""):
    return "<?xml version=\"1.0\"?>\n<system>%s%s%s</system>\n" % (regions, "".join(pds), more)


class Board:
    dt = None

    @classmethod
    def get(cls):
        if cls.dt is None:
            cls.tmp = tempfile.TemporaryDirectory()
            out = os.path.join(cls.tmp.name, "board.dtb")
            subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", out, QEMU_DTS],
                           check=True)
            cls.dt = fdt.load(out)
            cls.path = out
        return cls.dt


class ExpansionCase(unittest.TestCase):
    """Expanding a system file given as text (on QEMU's board), and refusing a bad one with one
    line that names the file; no tests of its own (test_vmm_network.py uses it too)."""

    def expand(self, text):
        dt = Board.get()
        with tempfile.NamedTemporaryFile("w", suffix=".system", delete=False) as f:
            f.write(text)
            path = f.name
        self.addCleanup(os.unlink, path)
        msgs = []
        exp = expand.Expansion(path, dt, platform.Platform(dt), msgs)
        plan = exp.run()
        root = ET.fromstring(exp.xml().split("-->", 1)[1])
        return plan, root, msgs

    def refuse(self, text, *needles):
        with self.assertRaises(ToolError) as cm:
            self.expand(text)
        msg = str(cm.exception)
        self.assertNotIn("\n", msg)
        self.assertIn(".system: ", msg)  # names the file
        for n in needles:
            self.assertIn(n, msg)
        return msg


class ExpandTests(ExpansionCase):

    # -- one VM ---------------------------------------------------------------------------------

    def test_single_vm_keeps_its_wakeup_irq(self):
        plan, root, msgs = self.expand(system(vmm("linux", "ram1", '<irq irq="30" id="2" />')))
        self.assertEqual(plan["vms"][0]["wakeup"], {"mode": "ptimer", "channel": 2})
        self.assertEqual([c["pd"] for c in plan["components"]], [])
        self.assertEqual(root.find("protection_domain/program_image").get("path"),
                         "vmm_linux.elf")

    def test_single_vm_gets_the_wakeup_irq(self):
        plan, root, msgs = self.expand(system(vmm("linux", "ram1", '<irq irq="33" id="0" />')))
        self.assertEqual(plan["vms"][0]["wakeup"], {"mode": "ptimer", "channel": 1})
        irqs = [(i.get("irq"), i.get("id")) for i in root.iter("irq")]
        self.assertIn(("30", "1"), irqs)
        self.assertTrue(any("gets irq 30 on channel 1" in m for m in msgs))

    def test_smp_vm_gets_short_time_slices(self):
        two = vmm("linux", "ram1", extra='<vcpu id="1" />')
        plan, root, msgs = self.expand(system(two))
        vm = root.find(".//virtual_machine")
        self.assertEqual((vm.get("budget"), vm.get("period")),
                         (str(expand.SMP_TIME_SLICE_US), str(expand.SMP_TIME_SLICE_US)))
        self.assertTrue(any("'linux' (2 vCPUs): each vCPU gets time slices of 100 us" in m
                            for m in msgs), msgs)
        # One vCPU keeps Microkit's default; a file that says either keeps what it says.
        plan, root, msgs = self.expand(system(vmm("linux", "ram1")))
        vm = root.find(".//virtual_machine")
        self.assertIsNone(vm.get("budget"))
        self.assertIsNone(vm.get("period"))
        mine = two.replace('priority="100">', 'priority="100" budget="500">')
        plan, root, msgs = self.expand(system(mine))
        vm = root.find(".//virtual_machine")
        self.assertEqual((vm.get("budget"), vm.get("period")), ("500", None))
        self.assertFalse(any("time slices" in m for m in msgs), msgs)

    def test_seed_manual_form(self):
        text = """<system>
  <memory_region name="guest_ram" size="0x10_000_000" />
  <memory_region name="serial" size="0x1_000" phys_addr="0x9000000" />
  <memory_region name="gic_vcpu" size="0x1_000" phys_addr="0x8040000" />
  <protection_domain name="VMM" priority="254">
    <program_image path="vmm.elf" />
    <map mr="guest_ram" vaddr="0x40000000" perms="rw" setvar_vaddr="guest_ram_vaddr" />
    <virtual_machine name="linux" id="0">
      <map mr="guest_ram" vaddr="0x40000000" perms="rwx" />
      <map mr="serial" vaddr="0x9000000" perms="rw" />
      <map mr="gic_vcpu" vaddr="0x8010000" perms="rw" />
    </virtual_machine>
  </protection_domain>
</system>"""
        plan, root, msgs = self.expand(text)
        vm = root.find("protection_domain/virtual_machine")
        self.assertIsNone(vm.get("id"))
        self.assertEqual([v.get("id") for v in vm.findall("vcpu")], ["0"])
        joined = "\n".join(msgs)
        self.assertIn("'id' attribute", joined)
        self.assertIn("has no <vcpu>", joined)
        self.assertIn("console input would not work: added on channel 0", joined)
        irqs = [(i.get("irq"), i.get("id")) for i in root.find("protection_domain").iter("irq")]
        self.assertEqual(sorted(irqs), [("30", "1"), ("33", "0")])

    # -- several VMs ----------------------------------------------------------------------------

    def test_two_vms_with_consoles(self):
        plan, root, msgs = self.expand(system(vmm("a", "ram1", extra="<virtio_console />"),
                                              vmm("b", "ram2", extra="<virtio_console />")))
        self.assertEqual([vm["vm"] for vm in plan["vms"]], ["a", "b"])
        kinds = sorted(c["kind"] for c in plan["components"])
        self.assertEqual(kinds, ["serial_mux", "timer"])
        for vm in plan["vms"]:
            self.assertEqual(vm["wakeup"]["mode"], "service")
            self.assertEqual(vm["console"], "hvc0")
            (dev,) = vm["virtio"]
            self.assertEqual(dev["type"], "console")
            self.assertEqual((dev["base"], dev["irq"]), (0x0a000000, 48))  # QEMU's first slot
        # No device element is left for the Microkit tool, every map names a region, every
        # channel end a PD, and no PD uses a channel id twice.
        self.assertEqual(list(root.iter("virtio_console")), [])
        regions = {r.get("name") for r in root.iter("memory_region")}
        pds = {p.get("name"): p for p in root.iter("protection_domain")}
        self.assertIn("serial_mux", pds)
        self.assertIn("timer", pds)
        for m in root.iter("map"):
            self.assertIn(m.get("mr"), regions)
        ids = {}
        for ch in root.iter("channel"):
            for end in ch.findall("end"):
                self.assertIn(end.get("pd"), pds)
                ids.setdefault(end.get("pd"), []).append(end.get("id"))
        for name, pd in pds.items():
            ids.setdefault(name, []).extend(i.get("id") for i in pd.findall("irq"))
        for name, used in ids.items():
            self.assertEqual(len(used), len(set(used)), "%s reuses a channel id: %s" % (name, used))
        self.assertEqual(pds["serial_mux"].find("irq").get("irq"), "33")
        self.assertEqual(pds["timer"].find("irq").get("irq"), "30")
        mux = [c for c in plan["components"] if c["kind"] == "serial_mux"][0]
        self.assertEqual(mux["driver"], "pl011")
        self.assertEqual([c["name"] for c in mux["clients"]], ["a", "b"])
        # The two sides of a connection see the same regions.
        client = plan["vms"][0]["virtio"][0]["conn"]
        server = mux["clients"][0]["conn"]
        self.assertEqual(client["capacity"], server["capacity"])
        self.assertEqual(client["tx_size"], server["tx_size"])

    def test_same_vm_name(self):
        self.refuse(system(vmm("a", "ram1"), vmm("a", "ram2").replace("vmm_a", "vmm_a2")),
                    "two virtual machines are named 'a'", "vmm_a", "vmm_a2")

    def test_shared_ram(self):
        self.refuse(system(vmm("a", "ram1"), vmm("b", "ram1")), "'a' and 'b'", "'ram1'")

    def test_overlapping_ram(self):
        regions = REGIONS.replace('phys_addr="0x50000000"', 'phys_addr="0x48000000"')
        self.refuse(system(vmm("a", "ram1"), vmm("b", "ram2"), regions=regions),
                    "'a' and 'b' overlap in physical memory", "ram1", "ram2")

    def test_shared_device(self):
        uart = '<map mr="uart" vaddr="0x9000000" perms="rw" />'
        self.refuse(system(vmm("a", "ram1", extra=uart), vmm("b", "ram2", extra=uart)),
                    "'a' and 'b' both map memory region 'uart'")

    def test_irq_to_two_pds(self):
        irq = '<irq irq="40" id="5" />'
        self.refuse(system(vmm("a", "ram1", irq), vmm("b", "ram2", irq)),
                    "irq 40", "'vmm_a'", "'vmm_b'")

    def test_ptimer_irq_with_several_vms(self):
        self.refuse(system(vmm("a", "ram1", '<irq irq="30" id="3" />'), vmm("b", "ram2")),
                    "irq 30", "timer PD")

    def test_unknown_device(self):
        self.refuse(system(vmm("a", "ram1", extra="<virtio_gpu />")),
                    "virtual machine 'a'", "<virtio_gpu>")

    def test_two_consoles(self):
        self.refuse(system(vmm("a", "ram1", extra="<virtio_console /><virtio_console />")),
                    "virtual machine 'a'", "2 <virtio_console/>")

    def test_console_and_uart_passthrough(self):
        uart = '<map mr="uart" vaddr="0x9000000" perms="rw" /><virtio_console />'
        self.refuse(system(vmm("a", "ram1", extra=uart)), "virtual machine 'a'", "UART")

    def test_uart_irq_given_away(self):
        self.refuse(system(vmm("a", "ram1", '<irq irq="33" id="1" />', "<virtio_console />")),
                    "irq 33", "'vmm_a'")

    def test_generated_name_taken(self):
        self.refuse(system(vmm("a", "ram1"), vmm("b", "ram2"),
                           more='<protection_domain name="timer"><program_image path="t.elf"/>'
                                '</protection_domain>'),
                    "'timer' is one the build adds")

    # -- native PDs ---------------------------------------------------------------------------------

    def test_native_serial_clients_without_vms(self):
        hello = ('<protection_domain name="%s" priority="100"><program_image path="hello.elf" />'
                 '<serial_client /></protection_domain>')
        plan, root, msgs = self.expand(system(hello % "h1", hello % "h2", regions=""))
        self.assertEqual(plan["vms"], [])
        comps = {c["pd"]: c for c in plan["components"]}
        self.assertEqual(comps["h1"]["kind"], "hello")
        self.assertIn("serial", comps["h1"])
        self.assertEqual([c["name"] for c in comps["serial_mux"]["clients"]], ["h1", "h2"])
        self.assertNotIn("timer", comps)  # no VM, no wake-ups to serve
        images = {p.get("name"): p.find("program_image").get("path")
                  for p in root.iter("protection_domain")}
        self.assertEqual(images["h1"], "h1.elf")
        self.assertEqual(list(root.iter("serial_client")), [])

    def test_serial_client_of_a_program_the_build_does_not_have(self):
        self.refuse(system(vmm("a", "ram1"), more='<protection_domain name="mine"><program_image '
                                                  'path="mine.elf" /><serial_client />'
                                                  '</protection_domain>'),
                    "'mine'", "<serial_client/>", "hello.elf")

    def test_serial_client_in_a_vmm(self):
        self.refuse(system(vmm("a", "ram1").replace("<virtual_machine", "<serial_client />"
                                                    "<virtual_machine")),
                    "'vmm_a'", "<virtio_console/>")

    def test_too_many_serial_clients(self):
        hello = ('<protection_domain name="h%d" priority="100"><program_image path="hello.elf" />'
                 '<serial_client /></protection_domain>')
        self.refuse(system(*[hello % i for i in range(10)], regions=""), "10 serial clients",
                    "at most 9")


    # -- block servers ------------------------------------------------------------------------------

    DISK = '<block_server name="disk" device="virtio_mmio@a003e00" />'

    def blk(self, *decls, servers=None, regions=REGIONS):
        pds = [vmm(chr(ord("a") + i), "ram%d" % (i + 1), extra=d) for i, d in enumerate(decls)]
        return system(*pds, regions=regions, more=self.DISK if servers is None else servers)

    def test_block_server_on_virtio_with_two_partitions(self):
        plan, root, msgs = self.expand(self.blk('<virtio_blk server="disk" partition="1" />',
                                                '<virtio_blk server="disk" partition="2" '
                                                'read_only="true" />'))
        comps = {c["pd"]: c for c in plan["components"]}
        srv = comps["disk"]
        self.assertEqual(srv["kind"], "blk_server")
        self.assertEqual(srv["storage"], "virtio")
        self.assertEqual([(c["name"], c["partition"], c["read_only"]) for c in srv["clients"]],
                         [("a", 1, False), ("b", 2, True)])
        pds = {p.get("name"): p for p in root.iter("protection_domain")}
        disk = pds["disk"]
        self.assertEqual(disk.find("irq").get("irq"), str(16 + 31 + 32))  # the last slot's SPI
        self.assertEqual(disk.get("stack_size"), "0x4000")
        regions = {r.get("name"): r for r in root.iter("memory_region")}
        self.assertEqual(regions["disk_regs"].get("phys_addr"), "0xa003000")
        self.assertEqual(srv["regs"] % 0x1000, 0xe00)
        # Every page of a client's data region is a 2 MiB page whose physical address the server
        # gets, mapped at consecutive 2 MiB-aligned addresses in both PDs.
        setvars = {v.get("symbol"): v.get("region_paddr") for v in disk.findall("setvar")}
        self.assertEqual(setvars["blk_dma_paddr"], "disk_dma")
        for i, c in enumerate(srv["clients"]):
            vm = plan["vms"][i]
            (dev,) = [d for d in vm["virtio"] if d["type"] == "blk"]
            self.assertEqual(dev["read_only"], i == 1)
            for side, pd in ((c["conn"], "disk"), (dev["conn"], "vmm_" + vm["vm"])):
                self.assertEqual(side["tx_size"], 0x800000)
                self.assertEqual(side["tx_data"] % 0x200000, 0)
                maps = {m.get("mr"): int(m.get("vaddr"), 0) for m in pds[pd].findall("map")}
                for k in range(4):
                    mr = "disk_%s_data%d" % (vm["vm"], k)
                    self.assertEqual(regions[mr].get("page_size"), "0x200000")
                    self.assertEqual(maps[mr], side["tx_data"] + k * 0x200000)
                    self.assertEqual(setvars[c["data_paddr"][k]], mr)
            self.assertEqual(c["conn"]["capacity"], dev["conn"]["capacity"])
            # Its DMA window for direct requests: the VM's guest RAM region, by physical address.
            ram = "ram%d" % (i + 1)
            self.assertEqual(c["window_paddr"], "blk_window_paddr_%d" % i)
            self.assertEqual(setvars["blk_window_paddr_%d" % i], ram)
            self.assertEqual(c["window_size"], int(regions[ram].get("size"), 0))
            self.assertNotIn(ram, [m.get("mr") for m in disk.findall("map")])  # nor mapped
        self.assertEqual([c["window_size"] for c in srv["clients"]], [0x10000000, 0x8000000])
        # QEMU: the disk on the slot the server drives, the modern interface, a queue of 1024
        # (seg_max 1022), the image made.
        self.assertIn("-global virtio-mmio.force-legacy=false", plan["qemu_args"])
        (disk_arg,) = [a for a in plan["qemu_args"] if "virtio-blk-device" in a]
        self.assertIn("-device virtio-blk-device,drive=disk,bus=virtio-mmio-bus.31,"
                      "queue-size=1024", disk_arg)
        self.assertEqual(plan["qemu_disks"][0]["partitions"], 2)
        self.assertEqual(plan["qemu_disks"][0]["labels"], {"1": "a", "2": "b"})
        # No guest gets a virtio device where the disk is.
        for vm in plan["vms"]:
            for d in vm["virtio"]:
                self.assertNotEqual(d["base"], 0xa003e00)
        self.assertEqual(list(root.iter("virtio_blk")), [])
        self.assertEqual(list(root.iter("block_server")), [])

    def test_block_server_ranges_in_bytes(self):
        plan, _, _ = self.expand(self.blk('<virtio_blk server="disk" offset="1M" size="64M" />',
                                          '<virtio_blk server="disk" offset="0x4100000" '
                                          'size="1_048_576" />'))
        srv = [c for c in plan["components"] if c["pd"] == "disk"][0]
        self.assertEqual([(c["start"], c["sectors"]) for c in srv["clients"]],
                         [(2048, 131072), (0x4100000 // 512, 2048)])
        self.assertEqual(plan["qemu_disks"][0]["raw_end"], 0x4100000 + 0x100000)

    def test_block_server_ramdisk(self):
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        with open(os.path.join(d.name, "rd.img"), "wb") as f:
            f.write(bytes(1 << 20))
        text = self.blk('<virtio_blk server="rd" offset="0" size="512K" />',
                        servers='<block_server name="rd" ramdisk="rd.img" />')
        path = os.path.join(d.name, "x.system")
        with open(path, "w") as f:
            f.write(text)
        msgs = []
        exp = expand.Expansion(path, Board.get(), platform.Platform(Board.get()), msgs)
        plan = exp.run()
        srv = [c for c in plan["components"] if c["pd"] == "rd"][0]
        self.assertEqual(srv["storage"], "ramdisk")
        self.assertEqual(srv["ramdisk"], os.path.join(d.name, "rd.img"))
        self.assertEqual(srv["ramdisk_size"], 1 << 20)
        self.assertEqual(srv["deps"], [srv["ramdisk"]])
        self.assertEqual(srv["clients"][0]["data_paddr"], [])  # no DMA, no physical addresses
        self.assertNotIn("window_paddr", srv["clients"][0])  # nor a DMA window
        (rd_pd,) = [p for p in ET.fromstring(exp.xml().split("-->", 1)[1]).iter(
            "protection_domain") if p.get("name") == "rd"]
        self.assertEqual(rd_pd.findall("setvar"), [])
        self.assertEqual(plan["qemu_disks"], [])
        ET.fromstring(exp.xml().split("-->", 1)[1])
        text = text.replace('size="512K"', 'size="2M"')
        with open(path, "w") as f:
            f.write(text)
        with self.assertRaises(ToolError) as cm:
            expand.Expansion(path, Board.get(), platform.Platform(Board.get()), []).run()
        self.assertIn("beyond the RAM disk's 2048", str(cm.exception))

    def test_block_server_errors(self):
        p1 = '<virtio_blk server="disk" partition="1" />'
        cases = [
            (self.blk('<virtio_blk partition="1" />'), ["virtual machine 'a'", "no server="]),
            (self.blk('<virtio_blk server="dsk" partition="1" />'),
             ["no <block_server name=\"dsk\">", "there are: disk"]),
            (self.blk('<virtio_blk server="disk" />'), ["'a'", "needs partition="]),
            (self.blk('<virtio_blk server="disk" partition="1" offset="0" size="1M" />'),
             ["not both"]),
            (self.blk('<virtio_blk server="disk" partition="0" />'), ["partition 0 is not"]),
            (self.blk('<virtio_blk server="disk" partition="x" />'), ["partition", "'x'"]),
            (self.blk('<virtio_blk server="disk" offset="100" size="1M" />'),
             ["multiples of 512"]),
            (self.blk('<virtio_blk server="disk" offset="0" size="0" />'), ["multiples of 512"]),
            (self.blk('<virtio_blk server="disk" partiton="1" />'),
             ["unknown attribute 'partiton'"]),
            (self.blk('<virtio_blk server="disk" partition="1" read_only="yes" />'),
             ["read_only=\"yes\""]),
            (self.blk(p1, p1), ["'a' and 'b' both use partition 1"]),
            (self.blk('<virtio_blk server="disk" offset="0" size="2M" />',
                      '<virtio_blk server="disk" offset="1M" size="2M" />'),
             ["'a' and 'b' have overlapping ranges"]),
            (self.blk(p1, servers='<block_server device="virtio_mmio@a003e00" />'),
             ["a <block_server> has no name"]),
            (self.blk(p1, servers='<block_server name="disk" />'),
             ["block server 'disk' needs exactly one of"]),
            (self.blk(p1, servers='<block_server name="disk" device="virtio_mmio@a003e00" '
                                  'ramdisk="x.img" />'), ["exactly one of"]),
            (self.blk(p1, servers='<block_server name="disk" device="virtio_mmio@b000000" />'),
             ["has no node 'virtio_mmio@b000000'"]),
            (self.blk(p1, servers='<block_server name="disk" device="pl031@9010000" />'),
             ["/pl031@9010000", "no block-server driver", "virtio,mmio"]),
            (self.blk(p1, servers='<block_server name="disk" ramdisk="no-such.img" />'),
             ["cannot read the RAM disk image"]),
            (self.blk(p1, servers=self.DISK + self.DISK), ["two block servers are named 'disk'"]),
            (self.blk(p1, servers='<block_server name="disk" device="virtio_mmio@a003e00" '
                                  'size="1" />'), ["unknown attribute 'size'"]),
            (system(vmm("a", "ram1", extra='<virtio_blk server="vmm_a" partition="1" />'),
                    more='<block_server name="vmm_a" device="virtio_mmio@a003e00" />'),
             ["'vmm_a' is one the build adds"]),
        ]
        for text, needles in cases:
            with self.subTest(needles=needles):
                self.refuse(text, *needles)

    def test_block_server_irq_or_registers_taken(self):
        p1 = '<virtio_blk server="disk" partition="1" />'
        text = system(vmm("a", "ram1", '<irq irq="79" id="4" />', p1), more=self.DISK)
        self.refuse(text, "irq 79", "'vmm_a'")
        regions = REGIONS + '<memory_region name="mmio" size="0x1000" phys_addr="0xa003000" />'
        text = system(vmm("a", "ram1", extra=p1 + '<map mr="mmio" vaddr="0xa003000" perms="rw" />'),
                      regions=regions, more=self.DISK)
        self.refuse(text, "virtual machine 'a' maps region 'mmio'", "block server 'disk' owns")

    def test_block_server_without_clients_is_said(self):
        plan, _, msgs = self.expand(self.blk(""))
        self.assertTrue(any("block server 'disk' has no clients" in m for m in msgs))

    def test_block_server_too_many_clients(self):
        decls = "".join('<virtio_blk server="disk" offset="%dM" size="1M" />' % i
                        for i in range(9))
        self.refuse(self.blk(decls), "9 clients", "at most 8")

    # -- the tool ---------------------------------------------------------------------------------

    def run_tool(self, system_path):
        Board.get()
        out = tempfile.TemporaryDirectory()
        self.addCleanup(out.cleanup)
        res = subprocess.run([sys.executable, TOOL, "--system", system_path, "--board-dtb",
                              Board.path, "--out-xml", os.path.join(out.name, "system.xml"),
                              "--out-plan", os.path.join(out.name, "plan.json"),
                              "--out-mk", os.path.join(out.name, "system.mk")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return res, out.name

    def test_tool_two_vms_example(self):
        res, out = self.run_tool(os.path.join(SYSTEMS, "two_vms.system"))
        self.assertEqual(res.returncode, 0, res.stderr)
        with open(os.path.join(out, "plan.json")) as f:
            plan = json.load(f)
        self.assertEqual([vm["vcpus"] for vm in plan["vms"]], [1, 2])
        with open(os.path.join(out, "system.mk")) as f:
            mk = f.read()
        self.assertIn("SYSTEM_VMS := linux1 linux2", mk)
        self.assertIn("COMPONENT_KIND_serial_mux := serial_mux", mk)

    def test_tool_two_vms_disk_example(self):
        """The make fragment gives QEMU the disk on its slot and says how to make the image; the
        block server's generated configuration compiles."""
        Board.get()
        out = tempfile.TemporaryDirectory()
        self.addCleanup(out.cleanup)
        res = subprocess.run([sys.executable, TOOL, "--system",
                              os.path.join(SYSTEMS, "two_vms_disk.system"), "--board-dtb",
                              Board.path, "--out-xml", os.path.join(out.name, "system.xml"),
                              "--out-plan", os.path.join(out.name, "plan.json"),
                              "--out-mk", os.path.join(out.name, "system.mk"),
                              "--out-gen", out.name],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(res.returncode, 0, res.stderr)
        with open(os.path.join(out.name, "system.mk")) as f:
            mk = f.read()
        self.assertIn("SYSTEM_QEMU_ARGS = -global virtio-mmio.force-legacy=false -drive "
                      "file=$(QEMU_DISK_disk),if=none,format=raw,id=disk -device "
                      "virtio-blk-device,drive=disk,bus=virtio-mmio-bus.31,queue-size=1024", mk)
        self.assertIn("SYSTEM_QEMU_DISKS := disk", mk)
        self.assertIn("QEMU_DISK_disk ?= $(BUILD_DIR)/disk.img", mk)
        self.assertIn("QEMU_DISK_LAYOUT_disk := --partitions 2 --partition-mib 128 --min-bytes 0 "
                      "--label 1=linux1 --label 2=linux2", mk)
        self.assertIn("COMPONENT_KIND_disk := blk_server", mk)
        cfg = os.path.join(out.name, "disk", "config.c")
        subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-c", "-I" + ROOT +
                        "/include", "-I" + ROOT + "/components", "-I" + ROOT + "/drivers", cfg,
                        "-o", os.path.join(out.name, "config.o")], check=True)
        # Each VM's DMA window: a variable in .data the Microkit tool fills with its guest RAM
        # region's physical address, and the region's size.
        with open(cfg) as f:
            text = f.read()
        with open(os.path.join(out.name, "system.xml")) as f:
            xml = ET.fromstring(f.read().split("-->", 1)[1])
        sizes = {r.get("name"): int(r.get("size"), 0) for r in xml.iter("memory_region")}
        (disk_pd,) = [p for p in xml.iter("protection_domain") if p.get("name") == "disk"]
        setvars = {v.get("symbol"): v.get("region_paddr") for v in disk_pd.findall("setvar")}
        for i in range(2):
            sym = "blk_window_paddr_%d" % i
            self.assertIn("uint64_t %s __attribute__((section(\".data\")));" % sym, text)
            ram = setvars[sym]
            self.assertIn(".window_paddr = &%s,\n            .window_size = 0x%xul," %
                          (sym, sizes[ram]), text)
        vm_rams = [m.get("mr") for p in xml.iter("protection_domain")
                   for m in p.findall("map") if m.get("setvar_vaddr") == "guest_ram_vaddr"]
        self.assertEqual(sorted(setvars[s] for s in setvars if s.startswith("blk_window")),
                         sorted(vm_rams))
        syms = subprocess.run(["nm", os.path.join(out.name, "config.o")], stdout=subprocess.PIPE,
                              text=True, check=True).stdout
        self.assertRegex(syms, r"[0-9a-f]+ D blk_window_paddr_1")

    def test_tool_ramdisk_config_compiles_with_the_image(self):
        out = tempfile.TemporaryDirectory()
        self.addCleanup(out.cleanup)
        img = os.path.join(out.name, "rd.img")
        with open(img, "wb") as f:
            f.write(b"\xab" * 4096)
        path = os.path.join(out.name, "rd.system")
        with open(path, "w") as f:
            f.write(system(vmm("a", "ram1", extra='<virtio_blk server="rd" offset="0" '
                                                  'size="4K" />'),
                           more='<block_server name="rd" ramdisk="rd.img" />'))
        Board.get()
        res = subprocess.run([sys.executable, TOOL, "--system", path, "--board-dtb", Board.path,
                              "--out-xml", os.path.join(out.name, "system.xml"),
                              "--out-plan", os.path.join(out.name, "plan.json"),
                              "--out-mk", os.path.join(out.name, "system.mk"),
                              "--out-gen", out.name],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(res.returncode, 0, res.stderr)
        with open(os.path.join(out.name, "system.mk")) as f:
            self.assertIn("COMPONENT_DEPS_rd := %s" % img, f.read())
        obj = os.path.join(out.name, "config.o")
        subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-c", "-I" + ROOT +
                        "/include", "-I" + ROOT + "/components", "-I" + ROOT + "/drivers",
                        os.path.join(out.name, "rd", "config.c"), "-o", obj], check=True)
        # The image is in the object, in writable data, page-aligned, under its symbol.
        syms = subprocess.run(["nm", obj], stdout=subprocess.PIPE, text=True, check=True).stdout
        self.assertRegex(syms, r"[0-9a-f]+ D blk_ramdisk")
        data = subprocess.run(["objcopy", "-O", "binary", "--only-section=.data", obj, "/dev/stdout"],
                              stdout=subprocess.PIPE, check=True).stdout
        self.assertIn(b"\xab" * 4096, data)

    def test_make_disk_image(self):
        """tools/make-disk-image.py: an MBR with the partitions asked for, each a clean ext4 with
        its label; an existing image is kept as it is."""
        out = tempfile.TemporaryDirectory()
        self.addCleanup(out.cleanup)
        img = os.path.join(out.name, "d.img")
        tool = os.path.join(ROOT, "tools/make-disk-image.py")
        subprocess.run([sys.executable, tool, "--out", img, "--partitions", "2",
                        "--partition-mib", "16", "--label", "1=vm-a", "--label", "2=vm-b"],
                       check=True, stdout=subprocess.DEVNULL)
        with open(img, "rb") as f:
            data = f.read()
        self.assertEqual(len(data), (1 + 2 * 16) << 20)
        self.assertEqual(data[510:512], b"\x55\xaa")
        import struct
        for i, label in enumerate(("vm-a", "vm-b")):
            _, _, ptype, _, start, count = struct.unpack_from("<B3sB3sII", data, 446 + 16 * i)
            self.assertEqual((ptype, start, count), (0x83, 2048 + i * 32768, 32768))
            part = os.path.join(out.name, "p%d" % i)
            with open(part, "wb") as f:
                f.write(data[start * 512:(start + count) * 512])
            fsck = shutil.which("e2fsck") or "/usr/sbin/e2fsck"
            self.assertEqual(subprocess.run([fsck, "-fn", part], stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL).returncode, 0)
            dumpe2fs = shutil.which("dumpe2fs") or "/usr/sbin/dumpe2fs"
            info = subprocess.run([dumpe2fs, "-h", part], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True).stdout
            self.assertRegex(info, r"Filesystem volume name:\s+%s" % label)
        with open(img, "r+b") as f:
            f.write(b"mine")
        res = subprocess.run([sys.executable, tool, "--out", img, "--partitions", "1"],
                             stdout=subprocess.PIPE, text=True, check=True)
        self.assertIn("kept as it is", res.stdout)
        with open(img, "rb") as f:
            self.assertEqual(f.read(4), b"mine")

    def test_tool_every_example_expands(self):
        for name in sorted(os.listdir(SYSTEMS)):
            res, _ = self.run_tool(os.path.join(SYSTEMS, name))
            self.assertEqual(res.returncode, 0, "%s: %s" % (name, res.stderr))

    def test_tool_error_is_one_line(self):
        with tempfile.NamedTemporaryFile("w", suffix=".system", delete=False) as f:
            f.write(system(vmm("a", "ram1"), vmm("a", "ram2").replace("vmm_a", "vmm_c")))
        self.addCleanup(os.unlink, f.name)
        res, _ = self.run_tool(f.name)
        self.assertEqual(res.returncode, 1)
        self.assertEqual(res.stderr.count("\n"), 1, res.stderr)
        self.assertTrue(res.stderr.startswith("vmm-system: error: " + f.name))


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    failed = len(result.failures) + len(result.errors)
    print("system tool tests: %d passed, %d failed" % (result.testsRun - failed, failed))
    sys.exit(1 if failed else 0)
