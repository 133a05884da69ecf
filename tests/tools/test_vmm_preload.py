#!/usr/bin/env python3
"""Tests of preloaded guest images (GUEST_IMAGES=preload): the images file and its header, the
VMM configuration that points into it, the choice of RAM outside seL4's memory (reserved memory,
fixed regions, several VMs, a board with none free), the regions added to the system, and the
check of the system image against them. Each mistake is one line naming the file."""
import json
import os
import subprocess
import sys
import unittest
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vmmtools import ToolError, fdt, platform, preload, sysfile  # noqa: E402
from test_vmm_config import QEMU_DTS, Tmp, fake_kernel, system_xml  # noqa: E402

CONFIG_TOOL = os.path.join(ROOT, "tools/vmm-config.py")
PRELOAD_TOOL = os.path.join(ROOT, "tools/vmm-preload.py")
MIB = 1024 * 1024
# What this SDK's seL4 uses on QEMU virt (its platform_gen.json): 0x60000000..0xc0000000.
QEMU_SEL4 = [{"start": 0x60000000, "end": 0xc0000000}]


def qemu_dts():
    with open(QEMU_DTS) as f:
        return f.read()


def two_vm_system(ram1=0x40000000, ram2=0x50000000, size2=0x8000000):
    vm = """
  <protection_domain name="vmm_%(vm)s" priority="254">
    <program_image path="vmm_%(vm)s.elf" />
    <map mr="ram_%(vm)s" vaddr="0x40000000" perms="rw" setvar_vaddr="guest_ram_vaddr" />
    <virtual_machine name="%(vm)s" priority="100">
      <vcpu id="0" />
      <map mr="ram_%(vm)s" vaddr="0x40000000" perms="rwx" />
      <map mr="gic_vcpu" vaddr="0x8010000" perms="rw" />
    </virtual_machine>
  </protection_domain>"""
    return """<?xml version="1.0"?>
<system>
  <memory_region name="ram_a" size="0x8000000" page_size="0x200000" phys_addr="0x%x" />
  <memory_region name="ram_b" size="0x%x" page_size="0x200000" phys_addr="0x%x" />
  <memory_region name="gic_vcpu" size="0x1000" phys_addr="0x8040000" />%s%s
</system>
""" % (ram1, size2, ram2, vm % dict(vm="a"), vm % dict(vm="b"))


class ImagesFileTests(unittest.TestCase):
    def test_header_and_layout(self):
        kernel, initrd = b"K" * 5000, b"I" * 300
        img = preload.Images(kernel, initrd)
        b = img.blob
        self.assertEqual(b[:8], b"SEL4VMMG")
        self.assertEqual(int.from_bytes(b[8:12], "little"), 1)
        self.assertEqual(int.from_bytes(b[12:16], "little"), 4096)
        self.assertEqual(b[16:32], img.nonce)
        fields = [int.from_bytes(b[32 + 8 * i:40 + 8 * i], "little") for i in range(5)]
        self.assertEqual(fields, [4096, 5000, 4096 + 8192, 300, 4096 + 8192 + 300])
        self.assertEqual(b[4096:4096 + 5000], kernel)
        self.assertEqual(b[12288:12288 + 300], initrd)
        self.assertEqual(len(b), fields[4])
        self.assertEqual(img.region_size, 2 * MIB)

    def test_nonce_follows_the_contents(self):
        a = preload.Images(b"K" * 100, b"I" * 10).nonce
        self.assertEqual(a, preload.Images(b"K" * 100, b"I" * 10).nonce)
        self.assertNotEqual(a, preload.Images(b"K" * 100, b"J" + b"I" * 9).nonce)
        # The same bytes split differently between kernel and initrd are other images.
        self.assertNotEqual(a, preload.Images(b"K" * 100 + b"I", b"I" * 9).nonce)

    def test_without_initrd(self):
        img = preload.Images(b"K" * 10, b"")
        self.assertEqual(img.initrd_offset, 0)
        self.assertEqual(img.initrd_size, 0)
        self.assertEqual(img.total_size, 4096 + 10)


class PlacementTests(unittest.TestCase):
    def setUp(self):
        self.t = Tmp()
        self.addCleanup(self.t.dir.cleanup)

    def board(self, dts_text=None):
        dt = fdt.load(self.t.dtb("board", dts_text or qemu_dts()))
        return dt, platform.Platform(dt)

    def test_qemu_free_ram_is_below_sel4s(self):
        dt, plat = self.board()
        free = preload.free_ranges(dt, plat, [(0x60000000, 0xc0000000)], [])
        self.assertEqual(free, [(0x40000000, 0x60000000)])

    def test_fixed_regions_reserved_memory_and_memreserve_are_not_free(self):
        dts = qemu_dts().replace("/dts-v1/;", "/dts-v1/;\n/memreserve/ 0x5f000000 0x1000000;",
                                 1) + """
/ {
	reserved-memory {
		#address-cells = <0x02>;
		#size-cells = <0x02>;
		ranges;
		secmon@48000000 {
			reg = <0x00 0x48000000 0x00 0x200000>;
			no-map;
		};
	};
};
"""
        dt, plat = self.board(dts)
        ram = sysfile.MemoryRegion("ram", 0x8000000, 0x40000000, 0x200000)
        free = preload.free_ranges(dt, plat, [(0x60000000, 0xc0000000)], [ram])
        self.assertEqual(free, [(0x48200000, 0x5f000000)])

    def test_a_hole_in_sel4s_memory_is_not_free(self):
        # As on the i.MX8MM: seL4 leaves out 4 MiB between its ranges, and the board DTB says
        # nothing of them.
        dt, plat = self.board()
        free = preload.free_ranges(dt, plat, [(0x40000000, 0x58000000), (0x58400000, 0x60000000),
                                              (0x70000000, 0xc0000000)], [])
        self.assertEqual(free, [])

    def test_placed_from_the_top_2mib_aligned_without_overlap(self):
        where = preload.place([(0x40000000, 0x60000000)],
                              [("a", 36 * MIB), ("b", 4 * MIB)], "qemu")
        self.assertEqual(where["a"], 0x60000000 - 36 * MIB)
        self.assertEqual(where["b"], where["a"] - 4 * MIB)
        where = preload.place([(0x40000000, 0x40300000), (0x50100000, 0x50700000)],
                              [("a", 4 * MIB)], "qemu")
        self.assertEqual(where["a"], 0x50200000)  # aligned down inside the range

    def test_no_room_names_board_and_vm(self):
        with self.assertRaises(ToolError) as e:
            preload.place([(0x40000000, 0x41000000)], [("linux", 36 * MIB)], "odroidc2")
        msg = str(e.exception)
        self.assertIn("odroidc2: no 36 MiB of RAM outside seL4's memory", msg)
        self.assertIn("VM 'linux'", msg)
        self.assertIn("free: 0x40000000..0x41000000", msg)
        with self.assertRaises(ToolError) as e:
            preload.place([], [("linux", 2 * MIB)], "imx8mm_evk")
        self.assertIn("(free: none)", str(e.exception))

    def test_vmm_vaddr_is_above_every_map(self):
        path = self.t.file("s.system", two_vm_system())
        s = sysfile.VmmSystem(path, "a")
        self.assertEqual(preload.vmm_vaddr(s), 0x80000000)
        text = two_vm_system().replace(
            '<virtual_machine name="a"',
            '<map mr="gic_vcpu" vaddr="0x1000200000" perms="r" />\n<virtual_machine name="a"')
        s = sysfile.VmmSystem(self.t.file("t.system", text), "a")
        self.assertEqual(preload.vmm_vaddr(s), 0x1000400000)


class ToolTests(unittest.TestCase):
    """vmm-config.py --preload-images and vmm-preload.py as the build runs them."""

    def setUp(self):
        self.t = Tmp()
        self.addCleanup(self.t.dir.cleanup)
        self.board = self.t.dtb("board", qemu_dts())
        self.sdk = self.t.file("platform_gen.json", json.dumps({"memory": QEMU_SEL4}))
        self.kernel = self.t.file("linux", fake_kernel(size=8192))
        self.initrd = self.t.file("rootfs.cpio.gz", b"\x1f\x8b" + b"\0" * 5000)

    def config(self, system, vm=None):
        d = self.t.dir.name
        out = os.path.join(d, "%s.img" % (vm or "linux"))
        argv = [sys.executable, CONFIG_TOOL, "--system", system, "--board-dtb", self.board,
                "--kernel", self.kernel, "--initrd", self.initrd, "--preload-images", out,
                "--out-c", os.path.join(d, "%s.c" % (vm or "linux")),
                "--out-dtb", os.path.join(d, "%s.dtb" % (vm or "linux"))]
        if vm:
            argv += ["--vm", vm]
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return out

    def place(self, system, infos, extra=()):
        d = self.t.dir.name
        argv = [sys.executable, PRELOAD_TOOL, "--system", system, "--board-dtb", self.board,
                "--board-name", "qemu_virt_aarch64", "--sdk-platform", self.sdk,
                "--info"] + infos + ["--out-xml", os.path.join(d, "final.xml"),
                                     "--out-qemu", os.path.join(d, "qemu.args"),
                                     "--out-placement", os.path.join(d, "placed.json")]
        return subprocess.run(argv + list(extra), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)

    def test_config_points_into_the_region_and_carries_no_images(self):
        system = self.t.file("s.system", system_xml())
        img = self.config(system)
        with open(os.path.join(self.t.dir.name, "linux.c")) as f:
            c = f.read()
        self.assertNotIn("guest_kernel_image", c)
        self.assertNotIn("guest_initrd_image", c)
        self.assertIn(".preloaded = &preloaded", c)
        self.assertIn(".kernel = (const uint8_t *)0x80001000ul", c)
        self.assertIn(".kernel_end = (const uint8_t *)0x80003000ul", c)
        self.assertIn(".initrd = (const uint8_t *)0x80003000ul", c)
        self.assertIn('.file = "%s"' % img, c)
        self.assertIn("uint64_t vmm_guest_images_paddr", c)
        with open(self.kernel, "rb") as k, open(self.initrd, "rb") as i:
            nonce = ", ".join("0x%02x" % b for b in preload.Images(k.read(), i.read()).nonce)
        self.assertIn(".nonce = {%s}" % nonce, c)
        with open(img + ".json") as f:
            info = json.load(f)
        self.assertEqual((info["vm"], info["pd"], info["vaddr"], info["size"]),
                         ("linux", "VMM", 0x80000000, 2 * MIB))
        with open(img, "rb") as f:
            self.assertEqual(f.read(8), b"SEL4VMMG")

    def test_embedded_config_unchanged(self):
        d = self.t.dir.name
        r = subprocess.run([sys.executable, CONFIG_TOOL, "--system",
                            self.t.file("s.system", system_xml()), "--board-dtb", self.board,
                            "--kernel", self.kernel, "--out-c", os.path.join(d, "e.c"),
                            "--out-dtb", os.path.join(d, "e.dtb")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(d, "e.c")) as f:
            c = f.read()
        self.assertIn(".kernel = guest_kernel_image,", c)
        self.assertIn(".preloaded = 0,", c)

    def test_two_vms_placed_mapped_and_given_to_qemu(self):
        system = self.t.file("s.system", two_vm_system())
        imgs = [self.config(system, vm) for vm in ("a", "b")]
        r = self.place(system, [i + ".json" for i in imgs])
        self.assertEqual(r.returncode, 0, r.stderr)
        d = self.t.dir.name
        root = ET.parse(os.path.join(d, "final.xml")).getroot()
        mrs = {mr.get("name"): mr for mr in root.iter("memory_region")}
        pa = int(mrs["guest_images_a"].get("phys_addr"), 0)
        pb = int(mrs["guest_images_b"].get("phys_addr"), 0)
        self.assertEqual(pa, 0x60000000 - 2 * MIB)
        self.assertEqual(pb, pa - 2 * MIB)
        self.assertEqual(mrs["guest_images_a"].get("page_size"), "0x200000")
        for vm in ("a", "b"):
            pd = [p for p in root.iter("protection_domain") if p.get("name") == "vmm_" + vm][0]
            maps = [m for m in pd.findall("map") if m.get("mr") == "guest_images_" + vm]
            self.assertEqual([(m.get("vaddr"), m.get("perms")) for m in maps],
                             [("0x80000000", "r")])
            self.assertEqual([(s.get("symbol"), s.get("region_paddr"))
                              for s in pd.findall("setvar")],
                             [("vmm_guest_images_paddr", "guest_images_" + vm)])
            vm_el = pd.find("virtual_machine")
            self.assertFalse([m for m in vm_el.findall("map")
                              if m.get("mr").startswith("guest_images")])
        with open(os.path.join(d, "qemu.args")) as f:
            self.assertEqual(f.read().split(), [
                "-device", "loader,file=%s,addr=0x%x,force-raw=on" % (imgs[0], pa),
                "-device", "loader,file=%s,addr=0x%x,force-raw=on" % (imgs[1], pb)])

    def test_guest_ram_at_fixed_addresses_is_avoided(self):
        # Guest RAM of both VMs fills 0x40000000..0x60000000 but 2 MiB: room for one VM's.
        system = self.t.file("s.system", two_vm_system(0x40000000, 0x48000000, 0x17e00000))
        imgs = [self.config(system, vm) for vm in ("a", "b")]
        r = self.place(system, [i + ".json" for i in imgs])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        self.assertIn("vmm-preload: error: qemu_virt_aarch64 (seL4's memory from %s): no 2 MiB "
                      "of RAM outside seL4's memory for the preloaded guest images of VM 'b' "
                      "(free: none)" % self.sdk, r.stderr)

    def test_region_name_taken(self):
        text = two_vm_system().replace(
            '<memory_region name="gic_vcpu"',
            '<memory_region name="guest_images_a" size="0x1000" />\n  '
            '<memory_region name="gic_vcpu"')
        system = self.t.file("s.system", text)
        img = self.config(system, "a")
        r = self.place(system, [img + ".json"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("a memory region is already named 'guest_images_a'", r.stderr)

    def test_system_image_overlapping_the_images_refused(self):
        system = self.t.file("s.system", two_vm_system())
        img = self.config(system, "a")
        self.assertEqual(self.place(system, [img + ".json"]).returncode, 0)
        d = self.t.dir.name
        loader = self.t.file("loader.img", b"\0" * (3 * MIB))
        check = [sys.executable, PRELOAD_TOOL, "--check-loader", loader,
                 "--out-placement", os.path.join(d, "placed.json"), "--loader-addr"]
        ok = subprocess.run(check + ["0x70000000"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        bad = subprocess.run(check + ["0x5fd00000"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("would overlap VM 'a''s preloaded images at 0x5fe00000..0x60000000",
                      bad.stderr)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    failed = len(result.failures) + len(result.errors)
    print("preloaded image tests: %d passed, %d failed" % (result.testsRun - failed, failed))
    sys.exit(1 if failed else 0)
