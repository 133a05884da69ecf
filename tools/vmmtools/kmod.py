"""Linux kernel modules of an unpacked kernel package: what each needs, and an order to load them.

Debian's kernel packages ship lib/modules/<version>/ without modules.dep (depmod writes it when
the package is installed), so the dependencies are read from each module's own .modinfo section:
`depends=` (modules whose symbols it uses, as modpost recorded them) and `softdep=pre:` (modules,
or aliases of modules, it wants loaded first, e.g. ext4's crypto-crc32c). modules.builtin says
what the kernel has built in and so needs no loading.
"""
import gzip
import lzma
import os
import struct

from . import ToolError

MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.gz", ".ko.zst")


def module_name(filename):
    """virtio-rng.ko.xz -> virtio_rng: the kernel's name for it (as /sys/module shows)."""
    base = os.path.basename(filename)
    for suffix in MODULE_SUFFIXES:
        if base.endswith(suffix):
            base = base[:-len(suffix)]
            break
    return base.replace("-", "_")


def read_module(path):
    """The module's ELF bytes, decompressed if the package ships it compressed."""
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".ko.xz"):
        data = lzma.decompress(data)
    elif path.endswith(".ko.gz"):
        data = gzip.decompress(data)
    elif path.endswith(".ko.zst"):
        raise ToolError("%s: zstd-compressed modules are not supported (Python has no zstd)"
                        % path)
    return data


def elf_sections(data, what):
    """{name: (offset, size, type, link, entsize)} of a little-endian ELF64 file."""
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ToolError("%s: not a little-endian ELF64 file" % what)
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    if shentsize < 64 or shstrndx >= shnum or shoff + shnum * shentsize > len(data):
        raise ToolError("%s: section headers lie outside the file" % what)
    raw = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names_off, names_size = raw[shstrndx][4], raw[shstrndx][5]
    if names_off + names_size > len(data):
        raise ToolError("%s: section name table lies outside the file" % what)
    out = {}
    for sh_name, sh_type, _, _, off, size, link, _, _, entsize in raw:
        if sh_name >= names_size:
            raise ToolError("%s: a section name lies outside the name table" % what)
        end = data.find(b"\0", names_off + sh_name, names_off + names_size)
        name = data[names_off + sh_name:end].decode("ascii", "replace")
        if sh_type != 8 and off + size > len(data):  # 8 = SHT_NOBITS: no file contents
            raise ToolError("%s: section %s lies outside the file" % (what, name))
        out[name] = (off, size, sh_type, link, entsize)
    return out


def modinfo(data, what):
    """The module's .modinfo strings as {key: [values]}."""
    sec = elf_sections(data, what).get(".modinfo")
    if sec is None:
        raise ToolError("%s: no .modinfo section (not a kernel module)" % what)
    info = {}
    for item in data[sec[0]:sec[0] + sec[1]].split(b"\0"):
        if b"=" in item:
            key, val = item.decode("utf-8", "replace").split("=", 1)
            info.setdefault(key, []).append(val)
    return info


def softdeps_pre(info):
    """Names and aliases a module wants loaded before it ("softdep=pre: a b post: c")."""
    out = []
    for spec in info.get("softdep", []):
        words, pre = spec.split(), False
        for w in words:
            if w.endswith(":"):
                pre = w == "pre:"
            elif pre:
                out.append(w)
    return out


class Module:
    def __init__(self, relpath, info):
        self.relpath = relpath  # kernel/..., as modules.dep names it (without a .xz/.gz suffix)
        self.name = module_name(relpath)
        self.depends = [module_name(d) for d in ",".join(info.get("depends", [])).split(",") if d]
        self.softdeps = softdeps_pre(info)
        self.aliases = info.get("alias", [])
        self.vermagic = (info.get("vermagic") or [""])[0]


class ModuleTree:
    """The modules of one kernel version in an unpacked package (root/lib/modules/<version>)."""

    def __init__(self, root):
        versions = sorted(os.listdir(os.path.join(root, "lib/modules"))) \
            if os.path.isdir(os.path.join(root, "lib/modules")) else []
        if len(versions) != 1:
            raise ToolError("%s: expected one kernel version in lib/modules, found %s"
                            % (root, versions or "none"))
        self.version = versions[0]
        self.dir = os.path.join(root, "lib/modules", self.version)
        self.files = {}  # name -> path on disk
        self.modules = {}  # name -> Module
        self.alias = {}  # exact alias -> [names]
        for top, dirs, files in os.walk(os.path.join(self.dir, "kernel")):
            dirs.sort()
            for f in sorted(files):
                if not f.endswith(MODULE_SUFFIXES):
                    continue
                path = os.path.join(top, f)
                rel = os.path.relpath(path, self.dir)
                for suffix in (".xz", ".gz", ".zst"):
                    if rel.endswith(".ko" + suffix):
                        rel = rel[:-len(suffix)]
                mod = Module(rel, modinfo(read_module(path), path))
                self.files[mod.name] = path
                self.modules[mod.name] = mod
                for a in mod.aliases:
                    self.alias.setdefault(a, []).append(mod.name)
        self.builtin = set()
        builtin = os.path.join(self.dir, "modules.builtin")
        if os.path.exists(builtin):
            with open(builtin) as f:
                self.builtin = {module_name(line.strip()) for line in f if line.strip()}
        for name, mod in self.modules.items():
            if self.version not in mod.vermagic.split()[:1]:
                raise ToolError("%s: vermagic %r does not match the kernel version %s"
                                % (self.files[name], mod.vermagic, self.version))

    def resolve_softdep(self, word):
        """A softdep names a module or an alias; [] when the kernel has it built in or lacks it
        (modprobe ignores a softdep it cannot find, and so do we)."""
        name = module_name(word)
        if name in self.modules:
            return [name]
        return sorted(self.alias.get(word, []))

    def load_order(self, wanted):
        """Modules to load for `wanted` (names), each after everything it depends on.
        Built-in names are skipped; a name that is neither a module nor built in is an error."""
        order, state = [], {}

        def visit(name, chain):
            if name in self.builtin and name not in self.modules:
                return
            if name not in self.modules:
                raise ToolError("%s: no module %s (wanted by %s)"
                                % (self.dir, name, " <- ".join(reversed(chain)) or "the image"))
            if state.get(name) == "done":
                return
            if state.get(name) == "visiting":
                raise ToolError("%s: modules depend on each other in a cycle: %s"
                                % (self.dir, " -> ".join(chain + [name])))
            state[name] = "visiting"
            mod = self.modules[name]
            for soft in mod.softdeps:
                for dep in self.resolve_softdep(soft):
                    visit(dep, chain + [name])
            for dep in mod.depends:
                visit(dep, chain + [name])
            state[name] = "done"
            order.append(name)

        for name in wanted:
            visit(module_name(name), [])
        return order

    def dependencies(self, name):
        """Every module `name` needs before it, transitively (hard and soft), load order."""
        return [n for n in self.load_order([name]) if n != name]

    def modules_dep(self, names):
        """modules.dep text (depmod's format) for `names`: a module's line lists what it needs,
        the last to be loaded first, so modprobe can load them from the end backwards."""
        lines = []
        for name in sorted(names, key=lambda n: self.modules[n].relpath):
            deps = [self.modules[d].relpath for d in reversed(self.dependencies(name))]
            lines.append("%s:%s\n" % (self.modules[name].relpath,
                                      "".join(" " + d for d in deps)))
        return "".join(lines)
