#!/usr/bin/env python3
"""Build the default guest images (arm64 Linux Image + busybox initramfs) from Debian packages.

The packages are fetched with `apt-get download` under a private apt configuration kept in the
cache directory: the host's apt lists, dpkg status and dpkg architectures are never touched.
The mirror is whatever the host's own apt sources name, so this works wherever apt works.

Outputs (in --out): linux (raw arm64 Image), rootfs.cpio.gz (initramfs), VERSIONS (what was used).
A second run with everything cached downloads nothing.
"""
import argparse
import glob
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile

MARKER = "SEL4VMM-GUEST-READY"

INIT_SCRIPT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "%s: $(uname -sr) $(uname -m), $(grep -c ^processor /proc/cpuinfo) cpu(s)"
exec setsid cttyhack /bin/sh -l
""" % MARKER

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


def cpio_newc(entries):
    """Write a newc cpio archive. entries: (name, mode, data_or_None, rdev_major, rdev_minor)."""
    out = bytearray()
    ino = 1
    for name, mode, data, major, minor in entries + [("TRAILER!!!", 0, b"", 0, 0)]:
        data = data or b""
        nameb = name.encode() + b"\0"
        hdr = "070701" + "".join("%08X" % v for v in [
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, major, minor, len(nameb), 0])
        out += hdr.encode() + nameb
        out += b"\0" * ((4 - len(out) % 4) % 4)
        out += data
        out += b"\0" * ((4 - len(out) % 4) % 4)
        ino += 1
    return bytes(out)


def build_initramfs(busybox, path):
    with open(busybox, "rb") as f:
        bb = f.read()
    entries = [
        ("bin", 0o040755, None, 0, 0),
        ("bin/busybox", 0o100755, bb, 0, 0),
        ("bin/sh", 0o120777, b"busybox", 0, 0),
        ("dev", 0o040755, None, 0, 0),
        ("dev/console", 0o020600, None, 5, 1),
        ("etc", 0o040755, None, 0, 0),
        ("etc/profile", 0o100644, PROFILE.encode(), 0, 0),
        ("init", 0o100755, INIT_SCRIPT.encode(), 0, 0),
        ("proc", 0o040755, None, 0, 0),
        ("root", 0o040700, None, 0, 0),
        ("sys", 0o040755, None, 0, 0),
        ("tmp", 0o041777, None, 0, 0),
    ]
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        # mtime=0 keeps the output byte-identical across runs.
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
            gz.write(cpio_newc(entries))
    os.replace(tmp, path)


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


def extract_dtb(kdeb, name, out, cache):
    # A directory of its own: builds and tests running at once share the cache.
    ex = tempfile.mkdtemp(prefix="extract-dtb-", dir=cache)
    try:
        run(["dpkg-deb", "-x", kdeb, ex], os.environ)
        found = glob.glob(os.path.join(ex, "usr/lib/linux-image-*", name))
        if not found:
            die("%s has no usr/lib/linux-image-*/%s" % (os.path.basename(kdeb), name))
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        shutil.copyfile(found[0], out)
    finally:
        shutil.rmtree(ex, ignore_errors=True)
    print("fetch-guest-images: %s from %s" % (out, os.path.basename(kdeb)))


def ensure_debs(cache):
    debs = os.path.join(cache, "debs")
    os.makedirs(debs, exist_ok=True)

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


def build_images(out, kdeb, bdeb, cache):
    os.makedirs(out, exist_ok=True)
    linux = os.path.join(out, "linux")
    rootfs = os.path.join(out, "rootfs.cpio.gz")
    stamp = os.path.join(out, "VERSIONS")
    want = "%s\n%s\n" % (os.path.basename(kdeb), os.path.basename(bdeb))
    if (os.path.exists(linux) and os.path.exists(rootfs) and os.path.exists(stamp)
            and open(stamp).read() == want):
        print("fetch-guest-images: %s is up to date" % out)
        return
    ex = tempfile.mkdtemp(prefix="extract-", dir=cache)  # builds running at once share the cache
    try:
        _build_images(out, kdeb, bdeb, ex, linux, rootfs, stamp, want)
    finally:
        shutil.rmtree(ex, ignore_errors=True)


def _build_images(out, kdeb, bdeb, ex, linux, rootfs, stamp, want):
    run(["dpkg-deb", "-x", kdeb, os.path.join(ex, "k")], os.environ)
    run(["dpkg-deb", "-x", bdeb, os.path.join(ex, "b")], os.environ)
    vmlinuz = glob.glob(os.path.join(ex, "k/boot/vmlinuz-*"))
    if not vmlinuz:
        die("%s holds no boot/vmlinuz-*" % kdeb)
    with open(vmlinuz[0], "rb") as f:
        image = f.read()
    if image[:2] == b"\x1f\x8b":
        image = gzip.decompress(image)
    if image[0x38:0x3c] != b"ARM\x64":
        die("%s is not an arm64 Image (no ARM\\x64 magic at 0x38)" % vmlinuz[0])
    with open(linux + ".tmp", "wb") as f:
        f.write(image)
    os.replace(linux + ".tmp", linux)
    build_initramfs(os.path.join(ex, "b/bin/busybox"), rootfs)
    with open(stamp, "w") as f:
        f.write(want)
    print("fetch-guest-images: wrote %s (%d bytes) and %s" % (linux, len(image), rootfs))


if __name__ == "__main__":
    main()
