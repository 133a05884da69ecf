#!/usr/bin/env python3
"""Build the default guest images (arm64 Linux Image + busybox initramfs) from Debian packages.

The packages are fetched with `apt-get download` under a private apt configuration kept in the
cache directory: the host's apt lists, dpkg status and dpkg architectures are never touched.
The mirror is whatever the host's own apt sources name, so this works wherever apt works.

Outputs (in --out): linux (raw arm64 Image), rootfs.cpio.gz (initramfs: busybox, the virtio and
ext4 modules of the same kernel package, an /init that loads them and moves to hvc0 when the
command line names it), VERSIONS (the packages and the recipe used). A second run with everything
cached downloads nothing; unchanged outputs are not rewritten.
"""
import argparse
import contextlib
import fcntl
import glob
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmmtools import ToolError, cpio, kmod  # noqa: E402
from vmmtools.output import write_if_changed  # noqa: E402

MARKER = "SEL4VMM-GUEST-READY"

# The kernel modules the default initramfs carries (with what they depend on), from the same
# package as the kernel: the virtio-mmio transport and the console, block and network devices the
# VMM offers, and ext4 (which also mounts ext2 and ext3) for the disks.
GUEST_MODULES = ["virtio_mmio", "virtio_console", "virtio_blk", "virtio_net", "ext4"]

INIT_HEAD = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# Modules from the kernel's own package, each after what it needs (modules.dep). Another kernel
# (your own, with virtio built in) has no /lib/modules/<its version> here and loads nothing; a
# module already present is skipped, one that fails is named once the console is known (with
# console=hvc0 nothing printed before then is seen), and the boot goes on.
not_loaded=""
load() {
    [ -e /sys/module/$1 ] || insmod "/lib/modules/$(uname -r)/$2" ||
        not_loaded="$not_loaded $1"
}
if [ -d "/lib/modules/$(uname -r)" ]; then
"""

INIT_TAIL = """fi

# console=hvc0: the kernel could not open it as the initial console (virtio_console was not loaded
# yet). Wait for the port to appear (it is added after the driver has probed; 20 s only matter
# when it never comes), then move init's own stdin/stdout/stderr to it; the shell below makes it
# its controlling terminal (job control, Ctrl-C).
shell_ctty="cttyhack"
if grep -qE '(^| )console=hvc0( |$)' /proc/cmdline; then
    i=0
    while [ ! -c /dev/hvc0 ] && [ $i -lt 200 ]; do
        usleep 100000
        i=$((i + 1))
    done
    if [ -c /dev/hvc0 ]; then
        exec </dev/hvc0 >/dev/hvc0 2>&1
        shell_ctty="-c"
    else
        # Said to the kernel's log too: init may have no console at all now.
        echo "init: console=hvc0 but no /dev/hvc0 after 20 s; staying on the kernel's console" |
            tee /dev/kmsg
    fi
fi

for m in $not_loaded; do
    echo "init: module $m not loaded; going on"
done
echo "%s: $(uname -sr) $(uname -m), $(grep -c ^processor /proc/cpuinfo) cpu(s)"
exec setsid $shell_ctty /bin/sh -l
""" % MARKER


def init_script(tree, order):
    """/init: mounts, loads `order` (module names, dependencies first), console, marker, shell."""
    loads = "".join("    load %s %s\n" % (n, tree.modules[n].relpath) for n in order)
    return INIT_HEAD + (loads or "    :\n") + INIT_TAIL


PROFILE = 'export PS1="guest# "\n'


def die(msg):
    print("fetch-guest-images: error: " + msg, file=sys.stderr)
    sys.exit(1)


def host_sources():
    """Collect the host's Debian sources (deb822 and one-line), restricted to arm64."""
    stanzas = []
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with open(path) as f:
            for block in f.read().split("\n\n"):
                fields = {}
                for line in block.splitlines():
                    if line.startswith("#") or ":" not in line:
                        continue
                    key, val = line.split(":", 1)
                    fields[key.strip()] = val.strip()
                if fields.get("Types", "").split().count("deb") and "URIs" in fields:
                    stanzas.append(fields)
    lines = []
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                m = re.match(r"^\s*deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$", line)
                if m:
                    lines.append((m.group(2), m.group(3), m.group(4)))
    out = []
    for st in stanzas:
        for uri in st["URIs"].split():
            for suite in st.get("Suites", "").split():
                out.append((uri, suite, st.get("Components", "main"), st.get("Signed-By")))
    for uri, suite, comps in lines:
        out.append((uri, suite, comps, None))
    # Only Debian's own archive: third-party repositories have no arm64 kernels for us.
    out = [s for s in out if "debian" in s[0] and "bookworm" in s[1]]
    if not out:
        die("no Debian bookworm apt source found in /etc/apt; cannot fetch guest packages")
    return out


def apt_env(cache):
    root = os.path.join(cache, "apt")
    for d in ["etc/apt/sources.list.d", "etc/apt/preferences.d", "etc/apt/apt.conf.d",
              "etc/apt/trusted.gpg.d", "state/lists/partial", "cache/archives/partial"]:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    status = os.path.join(root, "state/status")
    if not os.path.exists(status):
        open(status, "w").close()
    with open(os.path.join(root, "etc/apt/sources.list"), "w") as f:
        for uri, suite, comps, signed in host_sources():
            opts = "arch=arm64"
            if signed:
                opts += " signed-by=" + signed
            f.write("deb [%s] %s %s %s\n" % (opts, uri, suite, comps))
    conf = os.path.join(root, "apt.conf")
    with open(conf, "w") as f:
        f.write('Dir::Etc "%s/etc/apt";\n' % root)
        f.write('Dir::Etc::TrustedParts "/etc/apt/trusted.gpg.d";\n')
        f.write('Dir::State "%s/state";\n' % root)
        f.write('Dir::State::status "%s";\n' % status)
        f.write('Dir::Cache "%s/cache";\n' % root)
        f.write('APT::Architecture "arm64";\nAPT::Architectures "arm64";\n')
        f.write('Debug::NoLocking "true";\n')
    env = dict(os.environ, APT_CONFIG=conf, LC_ALL="C")
    return root, env


def run(cmd, env, cwd=None):
    res = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    if res.returncode != 0:
        die("%s failed:\n%s" % (" ".join(cmd), res.stderr.strip()))
    return res.stdout


def initramfs_entries(busybox, tree, order):
    """Every file of the initramfs as {path: (mode, data, rdev_major, rdev_minor)}; the parent
    directories of module files are added by the caller."""
    with open(busybox, "rb") as f:
        bb = f.read()
    files = {
        "bin": (0o040755, None, 0, 0),
        "bin/busybox": (0o100755, bb, 0, 0),
        "bin/sh": (0o120777, b"busybox", 0, 0),
        "dev": (0o040755, None, 0, 0),
        "dev/console": (0o020600, None, 5, 1),
        "etc": (0o040755, None, 0, 0),
        "etc/profile": (0o100644, PROFILE.encode(), 0, 0),
        "init": (0o100755, init_script(tree, order).encode(), 0, 0),
        "proc": (0o040755, None, 0, 0),
        "root": (0o040700, None, 0, 0),
        "sys": (0o040755, None, 0, 0),
        "tmp": (0o041777, None, 0, 0),
    }
    moddir = "lib/modules/" + tree.version
    for name in order:
        files[moddir + "/" + tree.modules[name].relpath] = (
            0o100644, kmod.read_module(tree.files[name]), 0, 0)
    files[moddir + "/modules.dep"] = (0o100644, tree.modules_dep(order).encode(), 0, 0)
    for path in list(files):
        parent = os.path.dirname(path)
        while parent and parent not in files:
            files[parent] = (0o040755, None, 0, 0)
            parent = os.path.dirname(parent)
    return files


def initramfs(files):
    """The gzip-compressed newc cpio of `files`: sorted (a directory before what it holds), all
    owned by root with mtime 0, gzip mtime 0: the same inputs give the same bytes."""
    entries = [(path,) + files[path] for path in sorted(files)]
    return gzip.compress(cpio.write_newc(entries), mtime=0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="directory for linux, rootfs.cpio.gz")
    ap.add_argument("--board-dtb", metavar="PATH",
                    help="instead: extract this DTB from the kernel package (e.g. "
                         "amlogic/meson-gxbb-odroidc2.dtb) to --board-dtb-out")
    ap.add_argument("--board-dtb-out", metavar="FILE")
    ap.add_argument("--cache", default=os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "sel4-vmm"))
    args = ap.parse_args()
    if not args.out and not (args.board_dtb and args.board_dtb_out):
        ap.error("give --out, or --board-dtb with --board-dtb-out")
    kdeb, bdeb = ensure_debs(args.cache)
    if args.board_dtb:
        extract_dtb(kdeb, args.board_dtb, args.board_dtb_out, args.cache)
        if not args.out:
            return
    build_images(args.out, kdeb, bdeb, args.cache)


@contextlib.contextmanager
def private_dir(cache, prefix):
    """A fresh directory of this run's own in the cache (concurrent runs share the cache's .debs
    but never an extraction directory), removed afterwards whatever happens."""
    d = tempfile.mkdtemp(prefix=prefix, dir=cache)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def extract_dtb(kdeb, name, out, cache):
    with private_dir(cache, "extract-dtb-") as ex:
        run(["dpkg-deb", "-x", kdeb, ex], os.environ)
        found = glob.glob(os.path.join(ex, "usr/lib/linux-image-*", name))
        if not found:
            die("%s has no usr/lib/linux-image-*/%s" % (os.path.basename(kdeb), name))
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(found[0], "rb") as f:
            write_if_changed(out, f.read())
    print("fetch-guest-images: %s from %s" % (out, os.path.basename(kdeb)))


def ensure_debs(cache):
    debs = os.path.join(cache, "debs")
    os.makedirs(debs, exist_ok=True)
    # One run at a time updates the private apt lists and downloads; the others wait, then find
    # the packages there.
    with open(os.path.join(cache, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        kernel_debs = sorted(glob.glob(os.path.join(debs, "linux-image-*-arm64_*.deb")))
        busybox_debs = sorted(glob.glob(os.path.join(debs, "busybox-static_*.deb")))
        if not kernel_debs or not busybox_debs:
            _, env = apt_env(cache)
            print("fetch-guest-images: updating private apt lists (arm64) in %s" % cache)
            run(["apt-get", "update", "-q"], env)
            deps = run(["apt-cache", "depends", "linux-image-arm64"], env)
            m = re.search(r"Depends: (linux-image-[0-9][^\s]*-arm64)\b", deps)
            if not m:
                die("cannot resolve linux-image-arm64 to a versioned kernel package:\n" + deps)
            for pkg in [m.group(1), "busybox-static"]:
                print("fetch-guest-images: downloading %s" % pkg)
                run(["apt-get", "download", "-q", pkg], env, cwd=debs)
            kernel_debs = sorted(glob.glob(os.path.join(debs, "linux-image-*-arm64_*.deb")))
            busybox_debs = sorted(glob.glob(os.path.join(debs, "busybox-static_*.deb")))
    return kernel_debs[-1], busybox_debs[-1]


def recipe_digest():
    """What decides the images' contents besides the packages: this tool, the cpio writer and the
    module resolver.
    In VERSIONS, so images built by an older recipe are rebuilt."""
    h = hashlib.sha256()
    here = os.path.dirname(os.path.abspath(__file__))
    for src in [os.path.abspath(__file__)] + [os.path.join(here, "vmmtools", m)
                                              for m in ("cpio.py", "kmod.py")]:
        with open(src, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def kernel_image(ex, kdeb):
    vmlinuz = glob.glob(os.path.join(ex, "boot/vmlinuz-*"))
    if not vmlinuz:
        die("%s holds no boot/vmlinuz-*" % kdeb)
    with open(vmlinuz[0], "rb") as f:
        image = f.read()
    if image[:2] == b"\x1f\x8b":
        image = gzip.decompress(image)
    if image[0x38:0x3c] != b"ARM\x64":
        die("%s is not an arm64 Image (no ARM\\x64 magic at 0x38)" % vmlinuz[0])
    return image


def build_images(out, kdeb, bdeb, cache):
    os.makedirs(out, exist_ok=True)
    linux = os.path.join(out, "linux")
    rootfs = os.path.join(out, "rootfs.cpio.gz")
    stamp = os.path.join(out, "VERSIONS")
    want = "%s\n%s\nrecipe %s\n" % (os.path.basename(kdeb), os.path.basename(bdeb),
                                     recipe_digest())
    if (os.path.exists(linux) and os.path.exists(rootfs) and os.path.exists(stamp)
            and open(stamp).read() == want):
        print("fetch-guest-images: %s is up to date" % out)
        return
    with private_dir(cache, "extract-") as ex:
        run(["dpkg-deb", "-x", kdeb, os.path.join(ex, "k")], os.environ)
        run(["dpkg-deb", "-x", bdeb, os.path.join(ex, "b")], os.environ)
        image = kernel_image(os.path.join(ex, "k"), kdeb)
        try:
            tree = kmod.ModuleTree(os.path.join(ex, "k"))
            order = tree.load_order(GUEST_MODULES)
            files = initramfs_entries(os.path.join(ex, "b/bin/busybox"), tree, order)
        except ToolError as e:
            die("%s: %s" % (os.path.basename(kdeb), e))
        rootfs_data = initramfs(files)
    write_if_changed(linux, image)
    write_if_changed(rootfs, rootfs_data)
    write_if_changed(stamp, want.encode())
    print("fetch-guest-images: wrote %s (%d bytes) and %s (%d bytes; modules for %s: %s)"
          % (linux, len(image), rootfs, len(rootfs_data), tree.version, " ".join(order)))


if __name__ == "__main__":
    main()
