#!/usr/bin/env python3
"""Tests of the default guest images: the module resolver on crafted modules, and the real
initramfs built from Debian's packages (its cpio, the modules of the kernel's own version, /init's
load order checked against modules.dep and, independently, against the modules' symbol tables),
reproducible, cached, and safe to build twice at once."""
import gzip
import lzma
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from vmmtools import ToolError, cpio, kmod  # noqa: E402

TOOL = os.path.join(ROOT, "tools/fetch-guest-images.py")
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "sel4-vmm")
# What the later disk and network work needs in the guest, with their dependencies.
WANTED = ["virtio_mmio", "virtio_console", "virtio_blk", "virtio_net", "failover",
          "net_failover", "ext4", "jbd2", "mbcache", "crc16", "crc32c_generic"]


def elf(sections):
    """A little-endian ELF64 relocatable file holding `sections` ([(name, type, data, link,
    entsize)]), after a null section; the section name table comes last."""
    names = b"\0"
    name_off = []
    for name, *_ in sections + [(".shstrtab",)]:
        name_off.append(len(names))
        names += name.encode() + b"\0"
    body = bytearray(b"\0" * 64)
    placed = []
    for (_, typ, data, link, entsize), off in zip(sections, name_off):
        placed.append((off, typ, len(body), len(data), link, entsize))
        body += data
    placed.append((name_off[-1], 3, len(body), len(names), 0, 0))
    body += names
    shoff = len(body)
    body += b"\0" * 64  # the null section
    for off, typ, foff, size, link, entsize in placed:
        body += struct.pack("<IIQQQQIIQQ", off, typ, 0, 0, foff, size, link, 0, 1, entsize)
    hdr = b"\x7fELF" + bytes([2, 1, 1]) + b"\0" * 9
    hdr += struct.pack("<HHIQQQIHHHHHH", 1, 183, 1, 0, 0, shoff, 0, 64, 0, 0, 64,
                       len(placed) + 1, len(placed))
    body[:64] = hdr
    return bytes(body)


def fake_module(name, depends="", softdep=None, aliases=(), version="6.1.0-test"):
    info = ["name=" + name, "depends=" + depends, "vermagic=%s SMP mod_unload" % version]
    info += ["alias=" + a for a in aliases]
    if softdep:
        info.append("softdep=" + softdep)
    return elf([(".modinfo", 1, "\0".join(info).encode() + b"\0", 0, 0)])


class FakeTree:
    def __init__(self, modules, builtin=(), version="6.1.0-test"):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        base = os.path.join(self.root, "lib/modules", version)
        for rel, data in modules.items():
            path = os.path.join(base, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(lzma.compress(data) if rel.endswith(".xz") else data)
        os.makedirs(base, exist_ok=True)
        with open(os.path.join(base, "modules.builtin"), "w") as f:
            f.write("".join("kernel/%s.ko\n" % b for b in builtin))

    def tree(self):
        return kmod.ModuleTree(self.root)


class ResolverTests(unittest.TestCase):
    def sample(self):
        return FakeTree({
            "kernel/fs/fsx.ko": fake_module("fsx", "jour,crc-x", "pre: crypto-sum"),
            "kernel/fs/jour.ko.xz": fake_module("jour", "", "pre: crypto-sum"),
            "kernel/lib/crc-x.ko": fake_module("crc_x"),
            "kernel/crypto/sum_generic.ko": fake_module("sum_generic", "",
                                                        aliases=["crypto-sum", "sum"]),
            "kernel/drivers/dev.ko": fake_module("dev", "virtio_ring"),
        }, builtin=["drivers/virtio/virtio_ring"])

    def test_dependencies_first(self):
        t = self.sample()
        order = t.tree().load_order(["dev", "fsx"])
        self.assertEqual(order, ["dev", "sum_generic", "jour", "crc_x", "fsx"])

    def test_compressed_module_read_and_named_without_suffix(self):
        fake = self.sample()  # holds the files while the test reads them
        t = fake.tree()
        self.assertEqual(t.modules["jour"].relpath, "kernel/fs/jour.ko")
        self.assertTrue(kmod.read_module(t.files["jour"]).startswith(b"\x7fELF"))

    def test_modules_dep_format(self):
        t = self.sample().tree()
        dep = t.modules_dep(t.load_order(["fsx"]))
        self.assertIn("kernel/fs/fsx.ko: kernel/lib/crc-x.ko kernel/fs/jour.ko "
                      "kernel/crypto/sum_generic.ko\n", dep)
        self.assertIn("kernel/crypto/sum_generic.ko:\n", dep)

    def test_builtin_wanted_is_skipped(self):
        t = self.sample().tree()
        self.assertEqual(t.load_order(["virtio_ring", "crc-x"]), ["crc_x"])

    def test_missing_module_names_the_chain(self):
        t = FakeTree({"kernel/a.ko": fake_module("a", "b")}).tree()
        with self.assertRaisesRegex(ToolError, "no module b \\(wanted by a\\)"):
            t.load_order(["a"])
        with self.assertRaisesRegex(ToolError, "no module zz \\(wanted by the image\\)"):
            t.load_order(["zz"])

    def test_unknown_softdep_is_ignored(self):
        t = FakeTree({"kernel/a.ko": fake_module("a", "", "pre: crypto-none post: b")}).tree()
        self.assertEqual(t.load_order(["a"]), ["a"])

    def test_cycle(self):
        t = FakeTree({"kernel/a.ko": fake_module("a", "b"),
                      "kernel/b.ko": fake_module("b", "a")}).tree()
        with self.assertRaisesRegex(ToolError, "cycle: a -> b -> a"):
            t.load_order(["a"])

    def test_vermagic_of_another_kernel(self):
        with self.assertRaisesRegex(ToolError, "does not match the kernel version 6.1.0-test"):
            FakeTree({"kernel/a.ko": fake_module("a", version="6.2.0-other")}).tree()

    def test_not_a_module(self):
        with self.assertRaisesRegex(ToolError, "not a little-endian ELF64"):
            FakeTree({"kernel/a.ko": b"garbage" * 20}).tree()
        with self.assertRaisesRegex(ToolError, "no .modinfo section"):
            FakeTree({"kernel/a.ko": elf([(".text", 1, b"\0" * 8, 0, 0)])}).tree()
        cut = fake_module("a")[:-100]
        with self.assertRaisesRegex(ToolError, "section headers lie outside the file"):
            FakeTree({"kernel/a.ko": cut}).tree()

    def test_two_kernel_versions(self):
        t = FakeTree({"kernel/a.ko": fake_module("a")})
        os.makedirs(os.path.join(t.root, "lib/modules/9.9.9"))
        with self.assertRaisesRegex(ToolError, "expected one kernel version"):
            t.tree()


class CpioTests(unittest.TestCase):
    def test_round_trip(self):
        entries = [("dev", 0o040755, None, 0, 0), ("dev/console", 0o020600, None, 5, 1),
                   ("init", 0o100755, b"#!/bin/sh\n", 0, 0)]
        back = cpio.read_newc(cpio.write_newc(entries))
        self.assertEqual([e[:5] for e in back],
                         [(n, m, d or b"", a, b) for n, m, d, a, b in entries])

    def test_malformed(self):
        good = cpio.write_newc([("init", 0o100755, b"x" * 10, 0, 0)])
        with self.assertRaisesRegex(ToolError, "bad magic"):
            cpio.read_newc(b"070707" + good[6:])
        with self.assertRaisesRegex(ToolError, "data runs past the end"):
            cpio.read_newc(good[:120])
        with self.assertRaisesRegex(ToolError, "truncated header"):
            cpio.read_newc(good[:good.index(b"TRAILER") - 110])


def run_tool(out, cache=None):
    argv = [sys.executable, TOOL, "--out", out] + (["--cache", cache] if cache else [])
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def symbols(data, what):
    """(undefined names, names the module exports) from a module's .symtab."""
    secs = kmod.elf_sections(data, what)
    if ".symtab" not in secs:
        raise AssertionError("%s has no .symtab" % what)
    off, size, _, link, entsize = secs[".symtab"]
    shoff, = struct.unpack_from("<Q", data, 0x28)
    strtab = struct.unpack_from("<IIQQQQIIQQ", data, shoff + link * 64)[4]
    undefined, exported = set(), set()
    for at in range(off, off + size, entsize):
        name, _, _, shndx, _, _ = struct.unpack_from("<IBBHQQ", data, at)
        sym = data[strtab + name:data.index(b"\0", strtab + name)].decode()
        if shndx == 0 and sym:
            undefined.add(sym)
        if sym.startswith("__ksymtab_"):
            exported.add(sym[len("__ksymtab_"):])
    return undefined, exported


class RealImageTests(unittest.TestCase):
    """The images built from Debian's packages (fetched once into the shared cache)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = os.path.join(cls.tmp.name, "images")
        r = run_tool(cls.out)
        if r.returncode != 0:
            raise unittest.SkipTest("cannot build the default images here:\n" + r.stdout)
        with open(os.path.join(cls.out, "VERSIONS")) as f:
            cls.versions = f.read().splitlines()
        cls.kdeb = os.path.join(CACHE, "debs", cls.versions[0])
        cls.version = re.match(r"linux-image-(.+?)_", cls.versions[0]).group(1)
        with open(os.path.join(cls.out, "rootfs.cpio.gz"), "rb") as f:
            cls.rootfs = f.read()
        cls.entries = cpio.read_newc(gzip.decompress(cls.rootfs))
        cls.files = {e[0]: e for e in cls.entries}
        cls.pkg = os.path.join(cls.tmp.name, "pkg")
        subprocess.run(["dpkg-deb", "-x", cls.kdeb, cls.pkg], check=True)
        cls.moddir = "lib/modules/" + cls.version
        cls.init = cls.files["init"][2].decode()
        cls.loads = re.findall(r"^\s+load (\S+) (\S+)$", cls.init, re.M)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_cpio_is_sorted_reproducible_and_complete(self):
        names = [e[0] for e in self.entries]
        self.assertEqual(names, sorted(names))
        self.assertEqual(len(names), len(set(names)))
        for name, mode, data, _, _, mtime in self.entries:
            self.assertEqual(mtime, 0, name)
            parent = os.path.dirname(name)
            if parent:
                self.assertIn(parent, self.files, "%s before its directory" % name)
                self.assertEqual(self.files[parent][1] & 0o170000, 0o040000, parent)
        for need in ["init", "bin/busybox", "dev/console", "etc/profile"]:
            self.assertIn(need, self.files)
        self.assertEqual(self.files["dev/console"][1:5], (0o020600, b"", 5, 1))
        self.assertEqual(self.rootfs[4:8], b"\0\0\0\0", "gzip header mtime")

    def test_modules_of_the_kernels_own_version(self):
        with open(os.path.join(self.out, "linux"), "rb") as f:
            image = f.read()
        self.assertIn(b"Linux version %s " % self.version.encode(), image)
        mods = [n for n in self.files if n.endswith(".ko")]
        self.assertTrue(mods)
        for name in mods:
            self.assertTrue(name.startswith(self.moddir + "/kernel/"), name)
            data = self.files[name][2]
            info = kmod.modinfo(data, name)
            self.assertEqual(info["vermagic"][0].split()[0], self.version, name)
            # Byte for byte the package's module (signature included).
            pkg_file = os.path.join(self.pkg, name)
            if not os.path.exists(pkg_file) and os.path.exists(pkg_file + ".xz"):
                pkg_file += ".xz"
            self.assertEqual(kmod.read_module(pkg_file), data, name)
        have = {kmod.module_name(n) for n in mods}
        self.assertEqual(sorted(have), sorted(WANTED))

    def test_init_loads_every_module_in_modules_dep_order(self):
        dep_text = self.files[self.moddir + "/modules.dep"][2].decode()
        deps = {}
        for line in dep_text.splitlines():
            mod, rest = line.split(":", 1)
            deps[mod] = rest.split()
        loaded = [path for _, path in self.loads]
        self.assertEqual(sorted(loaded), sorted(deps), "/init loads what modules.dep lists")
        self.assertEqual(sorted(self.moddir + "/" + p for p in loaded),
                         sorted(n for n in self.files if n.endswith(".ko")))
        for i, path in enumerate(loaded):
            for d in deps[path]:
                self.assertIn(d, loaded[:i], "%s loaded before its dependency %s" % (path, d))
        for name, path in self.loads:
            self.assertEqual(kmod.module_name(path), name)
        # ext4 and jbd2 ask for crc32c through the crypto API (softdep), not by symbol.
        names = [n for n, _ in self.loads]
        for user in ["jbd2", "ext4"]:
            self.assertLess(names.index("crc32c_generic"), names.index(user))

    def test_init_order_resolves_every_symbol(self):
        """Independently of modules.dep: a module's undefined symbols are exported by a module
        loaded before it, or by no module of the package at all (then the kernel must have it:
        its name is among the Image's exported symbol strings)."""
        exporters = {}
        kdir = os.path.join(self.pkg, self.moddir, "kernel")
        for top, _, names in os.walk(kdir):
            for f in names:
                if f.endswith(kmod.MODULE_SUFFIXES):
                    path = os.path.join(top, f)
                    for sym in symbols(kmod.read_module(path), path)[1]:
                        exporters.setdefault(sym, set()).add(kmod.module_name(f))
        with open(os.path.join(self.out, "linux"), "rb") as f:
            image = f.read()
        have = set()
        for name, path in self.loads:
            undefined, exported = symbols(self.files[self.moddir + "/" + path][2], path)
            for sym in sorted(undefined - have):
                self.assertFalse(sym in exporters, "%s needs %s from %s, not loaded before it"
                                 % (name, sym, sorted(exporters.get(sym, ()))))
                self.assertIn(b"\0%s\0" % sym.encode(), image,
                              "%s needs %s, which neither the kernel nor a module exports"
                              % (name, sym))
            have |= exported

    def test_init_marker_last_and_console(self):
        lines = [ln for ln in self.init.splitlines() if ln.strip()]
        self.assertEqual(lines[-1], "exec setsid $shell_ctty /bin/sh -l")
        self.assertEqual(lines[-2], 'echo "SEL4VMM-GUEST-READY: $(uname -sr) $(uname -m), '
                         '$(grep -c ^processor /proc/cpuinfo) cpu(s)"')
        marker = self.init.index("SEL4VMM-GUEST-READY")
        self.assertLess(self.init.rindex("    load "), marker)
        self.assertLess(self.init.index("exec </dev/hvc0 >/dev/hvc0 2>&1"), marker)

    def test_cached_and_rebuilt_when_the_recipe_changes(self):
        out = os.path.join(self.tmp.name, "again")
        shutil.copytree(self.out, out)
        stamp = os.path.join(out, "VERSIONS")
        before = {f: os.stat(os.path.join(out, f)).st_mtime_ns for f in os.listdir(out)}
        r = run_tool(out)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("is up to date", r.stdout)
        self.assertNotIn("downloading", r.stdout)
        # An image made by another recipe: rebuilt, and since the contents are the same, the
        # files are left as they were.
        with open(stamp, "w") as f:
            f.write("\n".join(self.versions[:2] + ["recipe 0000000000000000"]) + "\n")
        before["VERSIONS"] = os.stat(stamp).st_mtime_ns
        r = run_tool(out)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("wrote", r.stdout)
        with open(stamp) as f:
            self.assertEqual(f.read().splitlines(), self.versions)
        for f in ["linux", "rootfs.cpio.gz"]:
            self.assertEqual(os.stat(os.path.join(out, f)).st_mtime_ns, before[f], f)

    def test_private_cache_downloads_nothing_and_concurrent_builds_agree(self):
        cache = os.path.join(self.tmp.name, "cache")
        os.makedirs(os.path.join(cache, "debs"))
        for deb in self.versions[:2]:
            src = os.path.join(CACHE, "debs", deb)
            dst = os.path.join(cache, "debs", deb)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
        results = {}

        def build(n):
            results[n] = run_tool(os.path.join(self.tmp.name, "conc%d" % n), cache)

        threads = [threading.Thread(target=build, args=(n,)) for n in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for n in (1, 2):
            self.assertEqual(results[n].returncode, 0, results[n].stdout)
            self.assertNotIn("downloading", results[n].stdout)
            for f in ["linux", "rootfs.cpio.gz", "VERSIONS"]:
                with open(os.path.join(self.tmp.name, "conc%d" % n, f), "rb") as a, \
                        open(os.path.join(self.out, f), "rb") as b:
                    self.assertTrue(a.read() == b.read(), "%s of build %d differs" % (f, n))
        self.assertFalse(os.path.exists(os.path.join(cache, "apt")), "apt was run")
        self.assertEqual(sorted(os.listdir(cache)), ["debs", "lock"], "left behind")


if __name__ == "__main__":
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=1, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    skipped = len(result.skipped)
    for test, why in result.skipped:
        print("SKIPPED %s: %s" % (test.id(), why))
    # A class skipped in setUpClass counts once as skipped and none of its tests as run.
    ran_skipped = sum(1 for test, _ in result.skipped if isinstance(test, unittest.TestCase))
    print("guest image tests: %d passed, %d failed%s" % (
        result.testsRun - failed - ran_skipped, failed,
        ", %d skipped" % skipped if skipped else ""))
    sys.exit(1 if failed else 0)
