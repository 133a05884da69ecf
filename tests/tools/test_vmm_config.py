#!/usr/bin/env python3
"""Tests of the build tools: platform facts from the board DTB, system file checks, the guest DTB,
the image layout, and clear one-line errors for bad input."""
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from vmmtools import ToolError, fdt, guestdtb, layout, platform, sysfile  # noqa: E402

QEMU_DTS = os.path.join(ROOT, "board/qemu_virt_aarch64/qemu_virt.dts")
QEMU_SYSTEM = os.path.join(ROOT, "board/qemu_virt_aarch64/systems/simple.system")
TOOL = os.path.join(ROOT, "tools/vmm-config.py")

SYSTEM_TEMPLATE = """<?xml version="1.0"?>
<system>
  <memory_region name="guest_ram" size="%(ram_size)s" page_size="0x200_000" />
  <memory_region name="uart" size="0x1000" phys_addr="0x9000000" />
  <memory_region name="gic_vcpu" size="0x1000" phys_addr="%(gicv)s" />
  <protection_domain name="VMM" priority="254">
    <program_image path="vmm.elf" />
    <map mr="guest_ram" vaddr="%(ram)s" perms="rw" %(setvar)s />
    <irq irq="33" id="1" />
    <virtual_machine name="linux">
      %(vcpus)s
      <map mr="guest_ram" vaddr="%(ram)s" perms="rwx" />
      <map mr="%(uart_mr)s" vaddr="0x9000000" perms="rw" />
      <map mr="gic_vcpu" vaddr="%(gicc)s" perms="rw" />
    </virtual_machine>
  </protection_domain>
</system>
"""


def system_xml(**kw):
    d = dict(ram_size="0x10000000", gicv="0x8040000", ram="0x40000000",
             setvar='setvar_vaddr="guest_ram_vaddr"', vcpus='<vcpu id="0" />', uart_mr="uart",
             gicc="0x8010000")
    d.update(kw)
    return SYSTEM_TEMPLATE % d


def fake_kernel(image_size=0x2000000, size=4096):
    b = bytearray(size)
    b[16:24] = image_size.to_bytes(8, "little")
    b[0x38:0x3c] = b"ARM\x64"
    return bytes(b)


class Tmp:
    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()

    def file(self, name, data):
        path = os.path.join(self.dir.name, name)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        return path

    def dtb(self, name, dts_text):
        src = self.file(name + ".dts", dts_text)
        out = os.path.join(self.dir.name, name + ".dtb")
        subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", out, src], check=True)
        return out


def qemu_board():
    t = Tmp()
    with open(QEMU_DTS) as f:
        return fdt.load(t.dtb("board", f.read())), t


class PlatformTests(unittest.TestCase):
    def test_qemu_virt_facts(self):
        dt, _ = qemu_board()
        p = platform.Platform(dt)
        self.assertEqual(p.gic_version, 2)
        self.assertEqual(p.gicd, (0x08000000, 0x10000))
        self.assertEqual(p.gicc[0], 0x08010000)
        self.assertEqual(p.gicv[0], 0x08040000)
        self.assertEqual(p.maintenance_irq, 25)
        self.assertEqual(p.vtimer_irq, 27)
        self.assertEqual(p.ptimer_irq, 30)
        self.assertEqual(p.uart.path, "/pl011@9000000")
        self.assertEqual(p.uart_tty, "ttyAMA0")
        self.assertEqual(p.memory, [(0x40000000, 0x80000000)])
        self.assertEqual(p.num_irqs % 32, 0)
        self.assertGreaterEqual(p.num_irqs, 32 + 48)  # virtio SPIs go up to 47

    def test_unknown_gic_compatible(self):
        t = Tmp()
        path = t.dtb("x", """/dts-v1/; / { #address-cells = <1>; #size-cells = <1>;
            intc@1000 { compatible = "vendor,super-gic"; interrupt-controller; reg = <0x1000 0x1000>; };
        };""")
        with self.assertRaisesRegex(ToolError, "super-gic.*does not know"):
            platform.Platform(fdt.load(path))

    def test_no_timer(self):
        t = Tmp()
        path = t.dtb("x", """/dts-v1/; / { #address-cells = <1>; #size-cells = <1>;
            intc@1000 { compatible = "arm,gic-400"; interrupt-controller; #interrupt-cells = <3>;
                        reg = <0x1000 0x1000 0x2000 0x2000>; };
        };""")
        with self.assertRaisesRegex(ToolError, "armv8-timer"):
            platform.Platform(fdt.load(path))


class BadDtbTests(unittest.TestCase):
    def test_not_a_dtb(self):
        t = Tmp()
        with self.assertRaisesRegex(ToolError, "not a device tree blob"):
            fdt.load(t.file("junk.dtb", b"hello world" * 10))

    def test_truncated(self):
        dt, t = qemu_board()
        with self.assertRaisesRegex(ToolError, "truncated device tree"):
            fdt.load(t.file("cut.dtb", dt.data[:len(dt.data) // 2]))

    def test_missing_file(self):
        with self.assertRaisesRegex(ToolError, "cannot read"):
            fdt.load("/nonexistent/board.dtb")

    def test_corrupt_structure(self):
        dt, t = qemu_board()
        data = bytearray(dt.data)
        off = int.from_bytes(data[8:12], "big")  # structure block
        data[off:off + 64] = b"\xff" * 64
        with self.assertRaises(ToolError):
            fdt.load(t.file("bad.dtb", bytes(data)))


class SystemFileTests(unittest.TestCase):
    def load(self, text):
        t = Tmp()
        self.t = t
        return sysfile.VmmSystem(t.file("s.system", text))

    def test_example_system(self):
        s = sysfile.VmmSystem(QEMU_SYSTEM)
        self.assertEqual(s.vm_name, "linux")
        self.assertEqual(s.vcpus, [0])
        self.assertEqual(s.guest_ram()[:2], (0x40000000, 0x10000000))
        self.assertEqual(s.irqs, [(1, 33, "level"), (2, 30, "level")])
        self.assertEqual(sorted(a for a, _, _ in s.vm_device_maps()), [0x8010000, 0x9000000])

    def test_missing_setvar(self):
        s = self.load(system_xml(setvar=""))
        with self.assertRaisesRegex(ToolError, "guest_ram_vaddr"):
            s.guest_ram()

    def test_undefined_region(self):
        with self.assertRaisesRegex(ToolError, "memory region 'nosuch'.*does not define"):
            self.load(system_xml(uart_mr="nosuch"))

    def test_no_vcpu(self):
        with self.assertRaisesRegex(ToolError, "no <vcpu"):
            self.load(system_xml(vcpus=""))

    def test_vcpu_ids_must_be_dense(self):
        with self.assertRaisesRegex(ToolError, "vcpu ids"):
            self.load(system_xml(vcpus='<vcpu id="0" /><vcpu id="2" />'))

    def test_not_xml(self):
        with self.assertRaisesRegex(ToolError, "not a valid system file"):
            self.load("<system><oops></system>")


class ToolRunTests(unittest.TestCase):
    """The command-line tool as the build runs it."""

    def run_tool(self, system_text, kernel=None, extra=(), dts=None):
        t = Tmp()
        self.t = t
        with open(QEMU_DTS) as f:
            board = t.dtb("board", f.read())
        system = t.file("s.system", system_text)
        k = t.file("linux", kernel if kernel is not None else fake_kernel())
        initrd = t.file("rootfs.cpio.gz", b"\x1f\x8b" + b"\0" * 5000)
        argv = [sys.executable, TOOL, "--system", system, "--board-dtb", board, "--kernel", k,
                "--initrd", initrd, "--out-c", os.path.join(t.dir.name, "c.c"),
                "--out-dtb", os.path.join(t.dir.name, "guest.dtb")] + list(extra)
        if dts:
            argv += ["--guest-dts", t.file("linux.dts", dts)]
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def test_generates_config_and_dtb(self):
        r = self.run_tool(system_xml())
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.t.dir.name, "c.c")) as f:
            c = f.read()
        self.assertIn(".gicd_base = 0x8000000ull", c)
        self.assertIn(".vtimer_irq = 27", c)
        self.assertIn(".ptimer_irq = 30", c)
        self.assertIn("{.channel = 1, .irq = 33}", c)
        self.assertIn(".wakeup_channel = -1", c)  # this system file gives no wake-up timer
        self.assertIn(".ram_size = 0x10000000ull", c)
        g = fdt.load(os.path.join(self.t.dir.name, "guest.dtb"))
        mem = [n for n in g.root.children if n.props.get("device_type") == b"memory\0"]
        self.assertEqual([g.reg(n) for n in mem], [[(0x40000000, 0x10000000)]])
        chosen = g.nodes["/chosen"]
        self.assertIn("console=ttyAMA0", chosen.strings("bootargs")[0])
        self.assertEqual(chosen.strings("stdout-path"), ["/pl011@9000000"])
        start = int.from_bytes(chosen.props["linux,initrd-start"], "big")
        end = int.from_bytes(chosen.props["linux,initrd-end"], "big")
        self.assertEqual(end - start, 5002)
        self.assertEqual(g.nodes["/psci"].strings("method"), ["smc"])
        self.assertEqual(g.reg(g.nodes["/intc@8000000"]),
                         [(0x8000000, 0x10000), (0x8010000, 0x10000)])
        self.assertNotIn("interrupts", g.nodes["/intc@8000000"].props)
        self.assertFalse(g.nodes["/virtio_mmio@a000000"].enabled())
        self.assertFalse(g.nodes["/pl031@9010000"].enabled())
        self.assertTrue(g.nodes["/pl011@9000000"].enabled())
        self.assertIn("guest will not have /pl031@9010000 (0x9010000)", r.stdout)

    def test_two_vcpus_get_cpu_nodes(self):
        r = self.run_tool(system_xml(vcpus='<vcpu id="0" /><vcpu id="1" />'))
        self.assertEqual(r.returncode, 0, r.stderr)
        g = fdt.load(os.path.join(self.t.dir.name, "guest.dtb"))
        cpus = [n for n in g.nodes["/cpus"].children if n.props.get("device_type") == b"cpu\0"]
        self.assertEqual([n.u32("reg") for n in cpus], [0, 1])
        self.assertEqual(cpus[1].strings("enable-method"), ["psci"])

    def test_gic_cpu_interface_not_mapped(self):
        r = self.run_tool(system_xml(gicc="0x8020000"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("maps nothing at the GIC CPU interface 0x8010000", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)

    def test_wrong_vcpu_interface_address(self):
        r = self.run_tool(system_xml(gicv="0x8030000"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("vCPU interface is at 0x8040000", r.stderr)

    def test_ram_overlapping_device(self):
        r = self.run_tool(system_xml(ram="0x8000000", ram_size="0x10000000"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("overlaps device", r.stderr)

    def test_ram_too_small(self):
        r = self.run_tool(system_xml(ram_size="0x1000000"), kernel=fake_kernel(0x2000000))
        self.assertEqual(r.returncode, 1)
        self.assertIn("guest RAM is 16 MiB", r.stderr)

    def test_kernel_not_an_image(self):
        r = self.run_tool(system_xml(), kernel=b"MZ" + b"\0" * 100)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not an arm64 Linux Image", r.stderr)

    def test_kernel_corrupt_gzip(self):
        r = self.run_tool(system_xml(), kernel=b"\x1f\x8b" + b"\0" * 100)
        self.assertEqual(r.returncode, 1)
        self.assertIn("gzip data is corrupt", r.stderr)

    def test_kernel_gzip_accepted(self):
        import gzip as gz
        r = self.run_tool(system_xml(), kernel=gz.compress(fake_kernel(), mtime=0))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.t.dir.name, "c.c")) as f:
            self.assertIn(".kernel_gzip = 1", f.read())

    def test_user_dts_unreachable_device_warns(self):
        dts = """/dts-v1/; / { #address-cells = <2>; #size-cells = <2>;
            chosen { bootargs = "console=ttyAMA0 mine"; };
            memory@40000000 { device_type = "memory"; reg = <0 0x40000000 0 0x10000000>; };
            rtc@9010000 { compatible = "arm,pl031"; reg = <0 0x9010000 0 0x1000>; };
        };"""
        r = self.run_tool(system_xml(), dts=dts)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning", r.stderr)
        self.assertIn("/rtc@9010000 (0x9010000) is enabled but the VM cannot reach it", r.stderr)
        g = fdt.load(os.path.join(self.t.dir.name, "guest.dtb"))
        self.assertEqual(g.nodes["/chosen"].strings("bootargs"), ["console=ttyAMA0 mine"])
        self.assertIn("linux,initrd-start", g.nodes["/chosen"].props)
        r = self.run_tool(system_xml(), dts=dts, extra=["--strict-devices"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("status = \"disabled\"", r.stderr)

    def test_user_dts_syntax_error(self):
        r = self.run_tool(system_xml(), dts="/dts-v1/; / { oops")
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not compile", r.stderr)


class GicV3Tests(unittest.TestCase):
    QEMU_V3_DTS = os.path.join(ROOT, "board/qemu_virt_aarch64_gicv3/qemu_virt_gicv3.dts")
    V3_SYSTEM = os.path.join(ROOT, "board/qemu_virt_aarch64_gicv3/systems/simple.system")

    def run_tool(self, sdk_config_text=None, vcpus=1):
        t = Tmp()
        self.t = t
        with open(self.QEMU_V3_DTS) as f:
            board = t.dtb("board", f.read())
        with open(self.V3_SYSTEM) as f:
            system = f.read()
        if vcpus > 1:
            system = system.replace('<vcpu id="0" />', "".join('<vcpu id="%d" />' % i
                                                             for i in range(vcpus)))
        argv = [sys.executable, TOOL, "--system", t.file("s.system", system), "--board-dtb", board,
                "--kernel", t.file("linux", fake_kernel()), "--initrd", t.file("i", b"x" * 100),
                "--out-c", os.path.join(t.dir.name, "c.c"),
                "--out-dtb", os.path.join(t.dir.name, "guest.dtb")]
        if sdk_config_text is not None:
            argv += ["--sdk-config", t.file("gen_config.h", sdk_config_text)]
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def test_platform_v3(self):
        dt, _ = qemu_board()
        t = Tmp()
        with open(self.QEMU_V3_DTS) as f:
            p = platform.Platform(fdt.load(t.dtb("b", f.read())))
        self.assertEqual(p.gic_version, 3)
        self.assertEqual(p.gicd[0], 0x8000000)
        self.assertEqual(p.gicr[0], 0x80a0000)

    def test_guest_dtb_one_redistributor_per_vcpu(self):
        r = self.run_tool("#define CONFIG_ARM_GIC_V3_SUPPORT 1\n", vcpus=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        g = fdt.load(os.path.join(self.t.dir.name, "guest.dtb"))
        gic = g.nodes["/intc@8000000"]
        self.assertEqual(g.reg(gic), [(0x8000000, 0x10000), (0x80a0000, 0x40000)])
        self.assertEqual([c for c in gic.children], [])  # no ITS
        with open(os.path.join(self.t.dir.name, "c.c")) as f:
            c = f.read()
        self.assertIn(".gic_version = 3", c)
        self.assertIn(".gicr_base = 0x80a0000ull", c)
        self.assertIn(".wakeup_channel = 2", c)
        self.assertIn(".num_irqs = 1,", c)  # the timer PPI is not passed to the guest

    def test_sdk_for_the_other_gic_is_refused(self):
        r = self.run_tool("/* disabled: CONFIG_ARM_GIC_V3_SUPPORT */\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("this SDK's seL4 drives a GICv2", r.stderr)
        self.assertIn("describes a GICv3", r.stderr)


BOARD_DTBS = {}


def debian_board_dtb(name):
    """A board DTB from Debian's kernel package, through the project's own fetch tool."""
    if name not in BOARD_DTBS:
        out = os.path.join(tempfile.mkdtemp(), os.path.basename(name))
        r = subprocess.run([sys.executable, os.path.join(ROOT, "tools/fetch-guest-images.py"),
                            "--board-dtb", name, "--board-dtb-out", out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        BOARD_DTBS[name] = out if r.returncode == 0 else None
    if BOARD_DTBS[name] is None:
        raise unittest.SkipTest("cannot get %s from Debian's kernel package" % name)
    return fdt.load(BOARD_DTBS[name])


class BoardDtbTests(unittest.TestCase):
    """Platform facts of the real boards, from the DTBs Debian ships."""

    def test_odroidc2(self):
        dt = debian_board_dtb("amlogic/meson-gxbb-odroidc2.dtb")
        p = platform.Platform(dt)
        self.assertEqual((p.gic_version, p.gicd[0], p.gicc[0], p.gicv[0]),
                         (2, 0xc4301000, 0xc4302000, 0xc4306000))
        self.assertEqual((p.vtimer_irq, p.ptimer_irq, p.maintenance_irq), (27, 30, 25))
        self.assertEqual(dt.reg(p.uart), [(0xc81004c0, 0x18)])
        self.assertEqual(p.uart_tty, "ttyAML0")
        self.assertEqual(p.memory, [(0, 0x80000000)])
        self.assertEqual(p.num_irqs, 256)

    def test_odroidc4(self):
        dt = debian_board_dtb("amlogic/meson-sm1-odroid-c4.dtb")
        p = platform.Platform(dt)
        self.assertEqual((p.gic_version, p.gicd[0], p.gicc[0], p.gicv[0]),
                         (2, 0xffc01000, 0xffc02000, 0xffc06000))
        self.assertEqual(dt.reg(p.uart), [(0xff803000, 0x18)])
        self.assertEqual(p.uart_tty, "ttyAML0")
        self.assertEqual(p.vtimer_irq, 27)

    def test_imx8mm_evk(self):
        dt = debian_board_dtb("freescale/imx8mm-evk.dtb")
        p = platform.Platform(dt)
        self.assertEqual((p.gic_version, p.gicd[0], p.gicr[0]), (3, 0x38800000, 0x38880000))
        self.assertEqual(dt.reg(p.uart), [(0x30890000, 0x10000)])
        self.assertEqual(p.uart_tty, "ttymxc1")
        self.assertEqual(p.memory, [(0x40000000, 0x80000000)])

    def test_board_system_files_check_out(self):
        for board, dtb in (("odroidc2", "amlogic/meson-gxbb-odroidc2.dtb"),
                           ("odroidc4", "amlogic/meson-sm1-odroid-c4.dtb"),
                           ("imx8mm_evk", "freescale/imx8mm-evk.dtb")):
            dt = debian_board_dtb(dtb)
            t = Tmp()
            argv = [sys.executable, TOOL, "--system",
                    os.path.join(ROOT, "board", board, "systems/simple.system"),
                    "--board-dtb", BOARD_DTBS[dtb], "--kernel", t.file("linux", fake_kernel()),
                    "--initrd", t.file("i", b"x" * 100), "--out-c", os.path.join(t.dir.name, "c.c"),
                    "--out-dtb", os.path.join(t.dir.name, "g.dtb")]
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.assertEqual(r.returncode, 0, board + ": " + r.stderr)
            g = fdt.load(os.path.join(t.dir.name, "g.dtb"))
            self.assertIn("guest will not have", r.stdout)
            plat = platform.Platform(dt)
            self.assertTrue(g.nodes[plat.uart.path].enabled(), board)


class LayoutTests(unittest.TestCase):
    def test_layout(self):
        lay = layout.plan(0x40000000, 0x10000000, fake_kernel(0x3000000), "k", 1 << 20)
        self.assertEqual(lay.kernel_addr, 0x40000000)
        self.assertEqual(lay.dtb_addr, 0x4fe00000)
        self.assertEqual(lay.initrd_addr, 0x4fd00000)
        self.assertEqual(lay.initrd_addr % 4096, 0)

    def test_unaligned_ram(self):
        with self.assertRaisesRegex(ToolError, "2 MiB aligned"):
            layout.plan(0x40001000, 0x10000000, fake_kernel(), "k", 0)


class ResultPrinter(unittest.TextTestResult):
    pass


if __name__ == "__main__":
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=1, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    skipped = len(result.skipped)
    for test, why in result.skipped:
        print("SKIPPED %s: %s" % (test.id(), why))
    print("tool tests: %d passed, %d failed%s" % (result.testsRun - failed - skipped, failed,
                                                  ", %d skipped" % skipped if skipped else ""))
    sys.exit(1 if failed else 0)
