#!/usr/bin/env python3
"""Tests of the build tools: platform facts from the board DTB, system file checks, the guest DTB,
the image layout, and clear one-line errors for bad input."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

import libfdt

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from vmmtools import ToolError, dtrefs, fdt, guestdtb, layout, platform, sysfile  # noqa: E402

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


RAW = ["--protocol", "raw", "--raw-addr", "0x40080000", "--raw-entry", "0x40080000"]
SEED_ROOM = 132  # what the VMM's boot-time seeds may add (src/core/seed.c)
MIB = 1024 * 1024


def reference_problems(g):
    """Every phandle reference and alias path of a tree that does not hold."""
    return [(n.path, p, why) for n, p, why in dtrefs.broken_refs(g)] + \
        [(n.path, p, lost) for n, p, lost in dtrefs.stale_paths(g)]


def dtc_reference_warnings(path):
    """dtc's own complaints about references (it checks clocks, gpios, interrupts, ...)."""
    r = subprocess.run(["dtc", "-I", "dtb", "-O", "dts", "-o", os.devnull, path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return [line for line in r.stderr.splitlines()
            if re.search(r"phandle|Missing property '#|non-existent|_property\)", line)]


def with_seeds(dts_text):
    """The QEMU board's DTS with seeds in /chosen, as QEMU itself writes them."""
    return dts_text.replace("chosen {", "chosen {\n\t\tkaslr-seed = <0x708c3b3b 0x6767c82>;\n"
                            "\t\trng-seed = <0x88ccdf3c 0xe5f46e84 0x9b56bc8d 0x7ab17936>;", 1)


def run_tool(system_text, kernel=None, extra=(), dts=None, board_text=None):
    """Run vmm-config.py on the QEMU board (or board_text) in a fresh directory: (result, Tmp)."""
    t = Tmp()
    if board_text is None:
        with open(QEMU_DTS) as f:
            board_text = f.read()
    board = t.dtb("board", board_text)
    system = t.file("s.system", system_text)
    k = t.file("linux", kernel if kernel is not None else fake_kernel())
    initrd = t.file("rootfs.cpio.gz", b"\x1f\x8b" + b"\0" * 5000)
    argv = [sys.executable, TOOL, "--system", system, "--board-dtb", board, "--kernel", k,
            "--initrd", initrd, "--out-c", os.path.join(t.dir.name, "c.c"),
            "--out-dtb", os.path.join(t.dir.name, "guest.dtb")] + list(extra)
    if dts:
        argv += ["--guest-dts", t.file("linux.dts", dts)]
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), t


def padded_guest_dtb(target):
    """The tool's guest DTB for the QEMU board with a padding node making it at most `target`
    bytes and less than 4 below: (result, guest DTB path, Tmp keeping it)."""
    with open(QEMU_DTS) as f:
        board = f.read()
    keep = Tmp()
    pad = os.path.join(keep.dir.name, "pad.bin")

    def run(n):
        with open(pad, "wb") as f:
            f.write(b"\xa5" * n)
        text = board.replace("chosen {", 'padding { blob = /incbin/("%s"); };\n\tchosen {' % pad,
                             1)
        return run_tool(system_xml(), board_text=text)
    r, t = run(MIB)
    if r.returncode:
        return r, None, t
    base = os.path.getsize(os.path.join(t.dir.name, "guest.dtb"))
    r, t = run(MIB + ((target - base) & ~3))
    return r, os.path.join(t.dir.name, "guest.dtb"), t


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

    def run_tool(self, system_text, kernel=None, extra=(), dts=None, board_text=None):
        r, self.t = run_tool(system_text, kernel, extra, dts, board_text)
        return r

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

    def guest(self):
        return fdt.load(os.path.join(self.t.dir.name, "guest.dtb"))

    def test_raw_guest_omits_unreachable_devices(self):
        r = self.run_tool(system_xml(), extra=RAW)
        self.assertEqual(r.returncode, 0, r.stderr)
        g = self.guest()
        for path in ("/pl031@9010000", "/pl061@9030000", "/virtio_mmio@a000000",
                     "/virtio_mmio@a003e00", "/fw-cfg@9020000", "/flash@0", "/pcie@10000000",
                     "/gpio-keys/poweroff"):
            self.assertNotIn(path, g.nodes)
        for path in ("/", "/pl011@9000000", "/intc@8000000", "/timer", "/psci", "/cpus/cpu@0",
                     "/memory@40000000", "/chosen", "/apb-pclk"):
            self.assertIn(path, g.nodes)
        self.assertTrue(g.nodes["/pl011@9000000"].enabled())
        self.assertIn("guest will not have /pl031@9010000 (0x9010000): omitted, not mapped into "
                      "VM 'linux'", r.stdout)
        self.assertIn("guest will not have /gpio-keys/poweroff: omitted, its gpios refers to",
                      r.stdout)
        self.assertNotIn("disabled", r.stdout)
        # What is left is what the VM reaches, and every reference in it holds.
        windows = [(0x9000000, 0x1000), (0x8010000, 0x1000), (0x8000000, 0x10000),
                   (0x40000000, 0x10000000)]
        for n in g.nodes.values():
            if g.is_mmio_node(n) and n.path != "/intc@8000000":
                self.assertTrue(all(guestdtb.reachable(a, sz, windows) for a, sz in g.reg(n)),
                                n.path)
        self.assertEqual(reference_problems(g), [])
        self.assertEqual(dtc_reference_warnings(os.path.join(self.t.dir.name, "guest.dtb")), [])
        self.assertEqual(g.nodes["/chosen"].strings("stdout-path"), ["/pl011@9000000"])

    def test_raw_guest_may_keep_disabled_nodes(self):
        r = self.run_tool(system_xml(), extra=RAW + ["--unreachable-devices", "disable"])
        self.assertEqual(r.returncode, 0, r.stderr)
        g = self.guest()
        self.assertFalse(g.nodes["/pl031@9010000"].enabled())
        self.assertFalse(g.nodes["/virtio_mmio@a000000"].enabled())
        self.assertIn("guest will not have /pl031@9010000 (0x9010000): disabled", r.stdout)
        self.assertNotIn("bootargs", g.nodes["/chosen"].props)

    def test_linux_guest_may_omit(self):
        r = self.run_tool(system_xml(), extra=["--unreachable-devices", "omit"])
        self.assertEqual(r.returncode, 0, r.stderr)
        g = self.guest()
        self.assertNotIn("/pl031@9010000", g.nodes)
        self.assertEqual(g.nodes["/chosen"].strings("bootargs"), ["console=ttyAMA0 rdinit=/init"])
        self.assertEqual(reference_problems(g), [])

    def test_linux_guest_disables_by_default_with_references_intact(self):
        r = self.run_tool(system_xml())
        self.assertEqual(r.returncode, 0, r.stderr)
        g = self.guest()
        self.assertFalse(g.nodes["/pl061@9030000"].enabled())
        self.assertIn("/gpio-keys/poweroff", g.nodes)  # its GPIO controller is still there
        self.assertNotIn("omitted", r.stdout)
        self.assertEqual(reference_problems(g), [])

    def bootargs(self, extra, dts=None):
        r = self.run_tool(system_xml(), extra=extra, dts=dts)
        self.assertEqual(r.returncode, 0, r.stderr)
        return self.guest().nodes["/chosen"].props.get("bootargs")

    def test_bootargs_rules(self):
        self.assertEqual(self.bootargs([]), b"console=ttyAMA0 rdinit=/init\0")
        self.assertEqual(self.bootargs(["--bootargs", ""]), b"\0")
        self.assertEqual(self.bootargs(["--bootargs", "quiet"]), b"quiet\0")
        self.assertIsNone(self.bootargs(RAW))  # a raw guest gets no Linux command line
        self.assertEqual(self.bootargs(RAW + ["--bootargs", ""]), b"\0")
        self.assertEqual(self.bootargs(RAW + ["--bootargs", "mode=1"]), b"mode=1\0")
        dts = """/dts-v1/; / { #address-cells = <2>; #size-cells = <2>;
            chosen { bootargs = "from the dts"; };
            memory@40000000 { device_type = "memory"; reg = <0 0x40000000 0 0x10000000>; };
        };"""
        self.assertEqual(self.bootargs([], dts=dts), b"from the dts\0")
        self.assertEqual(self.bootargs(["--bootargs", "given"], dts=dts), b"given\0")
        self.assertEqual(self.bootargs(["--bootargs", ""], dts=dts), b"\0")
        no_args = dts.replace('bootargs = "from the dts";', "")
        self.assertEqual(self.bootargs([], dts=no_args), b"console=ttyAMA0 rdinit=/init\0")
        self.assertIsNone(self.bootargs(RAW, dts=no_args))

    def test_build_seeds_never_reach_the_guest(self):
        with open(QEMU_DTS) as f:
            seeded = with_seeds(f.read())
        self.assertIn("kaslr-seed", seeded)
        for extra in ([], RAW):
            r = self.run_tool(system_xml(), extra=extra, board_text=seeded)
            self.assertEqual(r.returncode, 0, r.stderr)
            chosen = self.guest().nodes["/chosen"]
            self.assertNotIn("kaslr-seed", chosen.props)
            self.assertNotIn("rng-seed", chosen.props)
        dts = """/dts-v1/; / { #address-cells = <2>; #size-cells = <2>;
            chosen { kaslr-seed = <1 2>; rng-seed = <3 4 5 6>; };
            memory@40000000 { device_type = "memory"; reg = <0 0x40000000 0 0x10000000>; };
        };"""
        r = self.run_tool(system_xml(), dts=dts)
        self.assertEqual(r.returncode, 0, r.stderr)
        chosen = self.guest().nodes["/chosen"]
        self.assertNotIn("kaslr-seed", chosen.props)
        self.assertNotIn("rng-seed", chosen.props)
        # The board files themselves carry none.
        for dts_path in (QEMU_DTS, GicV3Tests.QEMU_V3_DTS):
            with open(dts_path) as f:
                self.assertNotIn("seed", f.read(), dts_path)

    def build_secret(self):
        with open(os.path.join(self.t.dir.name, "c.c")) as f:
            m = re.search(r"\.build_secret = \{([^}]*)\}", f.read())
        self.assertIsNotNone(m)
        return [int(v, 16) for v in m.group(1).split(",")]

    def test_build_secret_is_fresh_for_every_build(self):
        self.assertEqual(self.run_tool(system_xml()).returncode, 0)
        a = self.build_secret()
        self.assertEqual(self.run_tool(system_xml()).returncode, 0)
        b = self.build_secret()
        self.assertEqual((len(a), len(b)), (32, 32))
        self.assertTrue(all(0 <= v < 256 for v in a + b))
        self.assertNotEqual(a, b)

    def test_dtb_keeps_room_for_the_boot_seeds(self):
        """The tool refuses a guest DTB the VMM could not add its seeds to (the bound of
        src/core/seed.c, which SeedEditTests checks from the C side)."""
        r, path, keep = padded_guest_dtb(2 * MIB - SEED_ROOM)
        self.assertEqual(r.returncode, 0, r.stderr)
        size = os.path.getsize(path)
        self.assertTrue(2 * MIB - SEED_ROOM - 4 < size <= 2 * MIB - SEED_ROOM, size)
        r, path, keep = padded_guest_dtb(2 * MIB - SEED_ROOM + 4)
        self.assertEqual(r.returncode, 1)
        self.assertIn("less the %d bytes the VMM adds at boot" % SEED_ROOM, r.stderr)

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


class SeedEditTests(unittest.TestCase):
    """The VMM's boot-time seed edit (src/core/fdt.c, seed.c), built for the host and run on the
    DTBs the tool makes, checked with libfdt and dtc: the tree is valid, only the seeds changed,
    the size grew by what they take."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = Tmp()
        cls.tool = os.path.join(cls.tmp.dir.name, "fdt_edit")
        src = [os.path.join(ROOT, p) for p in ("tests/tools/fdt_edit.c", "src/core/fdt.c",
                                               "src/core/seed.c", "src/core/chacha20.c",
                                               "src/core/mem.c")]
        r = subprocess.run(["cc", "-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
                            "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                            "-I" + os.path.join(ROOT, "include")] + src + ["-o", cls.tool],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        cls.build_error = r.stdout if r.returncode else None

    def edit(self, dtb_path, capacity=2 * MIB):
        self.assertIsNone(self.build_error)
        out = dtb_path + ".seeded"
        r = subprocess.run([self.tool, dtb_path, out, str(capacity)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        return r, out

    def check_seeded(self, before_path, after_path):
        with open(before_path, "rb") as f:
            before = f.read()
        with open(after_path, "rb") as f:
            after = bytearray(f.read())
        self.assertEqual(libfdt.fdt_check_full(after, len(after)), 0)
        r = subprocess.run(["dtc", "-I", "dtb", "-O", "dts", "-o", os.devnull, after_path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        a, b = fdt.DeviceTree(before, before_path), fdt.DeviceTree(bytes(after), after_path)
        self.assertEqual(sorted(list(a.nodes) + (["/chosen"] if "/chosen" not in a.nodes else [])),
                         sorted(b.nodes))
        for path, node in b.nodes.items():
            props = dict(node.props)
            if path == "/chosen":
                self.assertEqual(props.pop("kaslr-seed"), bytes(range(0x11, 0x19)))
                self.assertEqual(props.pop("rng-seed"), bytes((i * 7 + 1) & 0xff
                                                                for i in range(64)))
            old = dict(a.nodes[path].props) if path in a.nodes else {}
            old.pop("kaslr-seed", None)
            old.pop("rng-seed", None)
            self.assertEqual(props, old, path)
        # Growth: each new property with its 12-byte header and its name unless the strings
        # block has it, an old one by the difference of the padded sizes, a /chosen node when
        # there was none; totalsize never shrinks.
        hdr = libfdt.Fdt(bytearray(before))
        strings = before[hdr.off_dt_strings():hdr.off_dt_strings() + hdr.size_dt_strings()]
        chosen = a.nodes["/chosen"].props if "/chosen" in a.nodes else {}
        grow = 0 if "/chosen" in a.nodes else 16
        for name, size in (("kaslr-seed", 8), ("rng-seed", 64)):
            if name in chosen:
                grow += size - (len(chosen[name]) + 3) // 4 * 4
            else:
                grow += 12 + size + (0 if name.encode() + b"\0" in strings else len(name) + 1)
        self.assertEqual(libfdt.Fdt(after).totalsize(), len(before) + max(grow, 0))

    def test_seeds_in_the_tools_guest_dtbs(self):
        for extra in ([], RAW):
            r, t = run_tool(system_xml(), extra=extra)
            self.assertEqual(r.returncode, 0, r.stderr)
            path = os.path.join(t.dir.name, "guest.dtb")
            r, out = self.edit(path)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.check_seeded(path, out)

    def test_seeds_in_a_board_dtb_with_other_seeds(self):
        t = Tmp()
        with open(QEMU_DTS) as f:
            path = t.dtb("seeded", with_seeds(f.read()))
        r, out = self.edit(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_seeded(path, out)

    def test_seeds_in_a_dtb_without_chosen(self):
        t = Tmp()
        path = t.dtb("nochosen", """/dts-v1/; / { model = "m"; #address-cells = <1>;
            cpus { #address-cells = <1>; #size-cells = <0>; cpu@0 { reg = <0>; }; };
        };""")
        r, out = self.edit(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_seeded(path, out)

    def test_seeds_in_a_debian_board_dtb(self):
        name = "amlogic/meson-gxbb-odroidc2.dtb"
        debian_board_dtb(name)
        r, out = self.edit(BOARD_DTBS[name])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_seeded(BOARD_DTBS[name], out)

    def test_slot_limit_agrees_with_the_tool(self):
        r, path, keep = padded_guest_dtb(2 * MIB - SEED_ROOM)
        self.assertEqual(r.returncode, 0, r.stderr)
        r, out = self.edit(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertLessEqual(os.path.getsize(out), 2 * MIB)
        # Four bytes less room than the tool leaves: refused, with the reason.
        r, out = self.edit(path, 2 * MIB - 4)
        self.assertEqual(r.returncode, 2)
        self.assertIn("has no room left for the edit", r.stderr)

    def test_malformed_dtb_refused(self):
        t = Tmp()
        with open(QEMU_DTS) as f:
            path = t.dtb("board", f.read())
        with open(path, "rb") as f:
            data = bytearray(f.read())
        off = int.from_bytes(data[8:12], "big")
        data[off:off + 4] = b"\0\0\0\x07"  # an unknown token
        bad = t.file("bad.dtb", bytes(data))
        r, out = self.edit(bad)
        self.assertEqual(r.returncode, 2)
        self.assertIn("malformed structure block", r.stderr)


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

    def test_board_guest_dtbs_in_both_modes(self):
        for board, dtb in (("odroidc2", "amlogic/meson-gxbb-odroidc2.dtb"),
                           ("odroidc4", "amlogic/meson-sm1-odroid-c4.dtb"),
                           ("imx8mm_evk", "freescale/imx8mm-evk.dtb")):
            dt = debian_board_dtb(dtb)
            plat = platform.Platform(dt)
            for mode in ("disable", "omit"):
                t = Tmp()
                out = os.path.join(t.dir.name, "g.dtb")
                argv = [sys.executable, TOOL, "--system",
                        os.path.join(ROOT, "board", board, "systems/simple.system"),
                        "--board-dtb", BOARD_DTBS[dtb], "--kernel", t.file("linux", fake_kernel()),
                        "--out-c", os.path.join(t.dir.name, "c.c"), "--out-dtb", out,
                        "--unreachable-devices", mode]
                r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
                what = "%s %s" % (board, mode)
                self.assertEqual(r.returncode, 0, what + ": " + r.stderr)
                g = fdt.load(out)
                self.assertEqual(reference_problems(g), [], what)
                self.assertEqual(dtc_reference_warnings(out), [], what)
                for path in ("/cpus/cpu@0", "/psci", "/chosen", plat.timer.path, plat.gic.path):
                    self.assertIn(path, g.nodes, what)
                # The console and every bus on the way to it stay, enabled.
                n = g.nodes.get(plat.uart.path)
                self.assertIsNotNone(n, what)
                while n is not None:
                    self.assertTrue(n.enabled(), "%s: %s" % (what, n.path))
                    n = n.parent
                self.assertIn("guest keeps ", r.stdout, what)
                lost = re.findall(r"guest will not have (\S+) \(0x[0-9a-f]+\): (\w+)", r.stdout)
                self.assertTrue(lost, what)
                for path, how in lost:
                    self.assertEqual(how, "disabled" if mode == "disable" else "omitted", what)
                    if mode == "omit":
                        self.assertNotIn(path, g.nodes, what)
                    else:
                        self.assertFalse(g.nodes[path].enabled(), what)
            if board.startswith("odroid"):
                self.assertIn("has a hardware RNG", r.stdout)
                self.assertIn("the VMM has no driver for", r.stdout)

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


class MakeDependencyTests(unittest.TestCase):
    """make remakes the generated guest DTB and configuration when any input changes, make
    variables included, and only then (`make BOOTARGS=x` in an old build directory used to keep
    the old command line). No SDK needed for these files."""

    def setUp(self):
        self.t = Tmp()
        self.build = os.path.join(self.t.dir.name, "build")
        self.img = os.path.join(self.t.dir.name, "img")
        os.makedirs(self.img)
        self.kernel = self.t.file("img/linux", fake_kernel())
        self.t.file("img/rootfs.cpio.gz", b"\x1f\x8b" + b"\0" * 100)
        self.dtb = os.path.join(self.build, "gen/guest.dtb")
        # Nothing from an outer make or the caller's environment.
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "BOOTARGS", "GUEST_PROTOCOL",
                                 "UNREACHABLE_DEVICES", "TRACE_MMIO", "STRICT_DEVICES")}

    def make(self, *variables):
        argv = ["make", "-s", "-C", ROOT, "BUILD_DIR=" + self.build, "IMAGE_DIR=" + self.img,
                "MICROKIT_SDK="] + list(variables) + [self.dtb]
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=self.env)
        self.assertEqual(r.returncode, 0, " ".join(variables) + ":\n" + r.stdout)
        return r.stdout

    def guest(self):
        return fdt.load(self.dtb)

    def bootargs(self):
        return self.guest().nodes["/chosen"].props.get("bootargs")

    def mtime(self):
        return os.stat(self.dtb).st_mtime_ns

    def test_every_input_remakes_the_generated_files(self):
        raw = ("GUEST_PROTOCOL=raw", "GUEST_LOAD_ADDR=0x40080000")
        self.make("BOOTARGS=first")
        self.assertEqual(self.bootargs(), b"first\0")
        made = self.mtime()
        out = self.make("BOOTARGS=first")
        self.assertEqual(self.mtime(), made, "remade with nothing changed: " + out)
        self.assertNotIn("vmm-config", out)
        self.make("BOOTARGS=second")
        self.assertEqual(self.bootargs(), b"second\0")
        self.make()
        self.assertEqual(self.bootargs(), b"console=ttyAMA0 rdinit=/init\0")
        self.make("BOOTARGS=")
        self.assertEqual(self.bootargs(), b"\0")
        self.make("BOOTARGS=it's \"quoted\"")
        self.assertEqual(self.bootargs(), b"it's \"quoted\"\0")
        self.make(*raw)
        g = self.guest()
        self.assertNotIn("bootargs", g.nodes["/chosen"].props)
        self.assertNotIn("/pl031@9010000", g.nodes)
        self.make(*raw, "UNREACHABLE_DEVICES=disable")
        self.assertFalse(self.guest().nodes["/pl031@9010000"].enabled())
        self.make(*raw, "UNREACHABLE_DEVICES=disable", "GUEST_ENTRY=0x40080100")
        with open(os.path.join(self.build, "gen/vm_config.c")) as f:
            self.assertIn(".entry = 0x40080100ull", f.read())
        self.make("TRACE_MMIO=1")
        with open(os.path.join(self.build, "gen/vm_config.c")) as f:
            self.assertIn(".trace_mmio = 1", f.read())
        # A newer input file: the kernel image.
        made = self.mtime()
        os.utime(self.kernel, ns=(made + 1000000, made + 1000000))  # a millisecond newer
        self.make("TRACE_MMIO=1")
        self.assertNotEqual(self.mtime(), made)
        made = self.mtime()
        self.make("TRACE_MMIO=1")
        self.assertEqual(self.mtime(), made)


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
