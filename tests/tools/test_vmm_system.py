#!/usr/bin/env python3
"""Tests of the system-file expansion (tools/vmm-system.py): several VMs, what they may share,
device declarations turned into backend PDs, regions and channels, the wake-up timer, the seed
manual's form, and one clear line for each mistake."""
import json
import os
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


class ExpandTests(unittest.TestCase):
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
        self.assertIn("console input will not work", joined)

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
