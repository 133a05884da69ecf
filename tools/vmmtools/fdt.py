"""Device tree reading on top of Debian's libfdt (python3-libfdt): a read-only model of nodes."""
import subprocess

import libfdt

from . import ToolError


class Node:
    def __init__(self, path, props, parent, tree_path="device tree"):
        self.path = path
        self.tree_path = tree_path
        self.props = props  # name -> bytes
        self.parent = parent
        self.children = []

    @property
    def name(self):
        return self.path.rsplit("/", 1)[-1] or "/"

    def cells(self, name):
        v = self.props.get(name)
        if v is None:
            return None
        return [int.from_bytes(v[i:i + 4], "big") for i in range(0, len(v) - len(v) % 4, 4)]

    def u32(self, name, default=None):
        c = self.cells(name)
        v = c[0] if c else default
        # An address or size wider than 4 cells exists in no real tree (Linux's OF_MAX_ADDR_CELLS);
        # refusing it here keeps every reg/ranges decoder from building absurd integers.
        if name in ("#address-cells", "#size-cells") and v is not None and v > 4:
            raise ToolError("%s: %s has %s = %d (at most 4)" % (self.tree_path, self.path, name, v))
        return v

    def strings(self, name):
        v = self.props.get(name)
        if v is None:
            return []
        return [s.decode("ascii", "replace") for s in v.split(b"\0") if s]

    def enabled(self):
        st = self.strings("status")
        return not st or st[0] in ("okay", "ok")


def join_cells(cells):
    v = 0
    for c in cells:
        v = (v << 32) | c
    return v


def normalise(data, path):
    """The DTB as dtc re-encodes it; a ToolError if dtc cannot read it."""
    try:
        res = subprocess.run(["dtc", "-q", "-I", "dtb", "-O", "dtb", "-"], input=bytes(data),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ToolError("%s: cannot run dtc to check the device tree: %s" % (path, e))
    if res.returncode != 0 or not res.stdout:
        why = (res.stderr.decode("utf-8", "replace").strip().splitlines() or
               ["dtc exited with status %d" % res.returncode])[0]
        raise ToolError("%s: malformed device tree: %s" % (path, why))
    return res.stdout


class DeviceTree:
    """All nodes of a DTB, with their properties, addressed by path."""

    def __init__(self, data, path):
        self.path = path
        self.data = bytes(data)
        if len(data) < 40 or int.from_bytes(data[:4], "big") != 0xd00dfeed:
            raise ToolError("%s: not a device tree blob (bad magic)" % path)
        total = int.from_bytes(data[4:8], "big")
        if total > len(data):
            raise ToolError("%s: truncated device tree (header says %d bytes, file has %d)" %
                            (path, total, len(data)))
        # libfdt's accessors trust the structure they are given (a corrupt property can crash
        # them), so the blob is first re-encoded by dtc, in its own process, which checks it.
        blob = bytearray(normalise(data[:total], path))
        err = libfdt.fdt_check_full(blob, len(blob))
        if err:
            raise ToolError("%s: malformed device tree: %s" % (path, libfdt.fdt_strerror(err)))
        try:
            self.data = bytes(blob)
            self.fdt = libfdt.Fdt(blob)
            self.nodes = {}
            self.by_phandle = {}
            self._read()
        except libfdt.FdtException as e:
            raise ToolError("%s: malformed device tree: %s" % (path, e))
        except (SystemError, UnicodeDecodeError, ValueError) as e:
            # pylibfdt reports some broken trees (a property name that is not text, say) this way.
            raise ToolError("%s: malformed device tree: %s" % (path, str(e).splitlines()[0]))

    def _read(self):
        f = self.fdt
        off, depth = 0, 0
        stack = []
        while off >= 0:
            name = f.get_name(off)
            if not all(32 < ord(c) < 127 for c in name) and off != 0:
                raise ToolError("%s: malformed device tree: node name %r is not text" %
                                (self.path, name))
            del stack[depth:]
            parent = stack[-1] if stack else None
            path = "/" if parent is None else (parent.path.rstrip("/") + "/" + name)
            props = {}
            poff = f.first_property_offset(off, quiet=(libfdt.NOTFOUND,))
            while poff >= 0:
                prop = f.get_property_by_offset(poff)
                props[prop.name] = bytes(prop)
                poff = f.next_property_offset(poff, quiet=(libfdt.NOTFOUND,))
            node = Node(path, props, parent, self.path)
            if parent:
                parent.children.append(node)
            self.nodes[path] = node
            ph = node.u32("phandle")
            if ph is not None:
                self.by_phandle[ph] = node
            stack.append(node)
            res = f.next_node(off, depth, quiet=(libfdt.NOTFOUND,))
            if isinstance(res, int):
                break
            off, depth = res
            if depth < 0:
                break

    @property
    def root(self):
        return self.nodes["/"]

    def raw_reg(self, node):
        """List of (address, size) of a node's reg in its parent's address space."""
        parent = node.parent or node
        ac = parent.u32("#address-cells", 2)
        sc = parent.u32("#size-cells", 1)
        cells = node.cells("reg") or []
        if ac == 0 or len(cells) % (ac + sc):
            raise ToolError("%s: %s has a reg property that does not fit #address-cells=%d, "
                            "#size-cells=%d" % (self.path, node.path, ac, sc))
        out = []
        for i in range(0, len(cells), ac + sc):
            out.append((join_cells(cells[i:i + ac]), join_cells(cells[i + ac:i + ac + sc])))
        return out

    def translate(self, node, addr):
        """A bus address of `node` as a CPU physical address, through every ancestor's `ranges`;
        None when some ancestor has no ranges (an I2C or SPI device, say)."""
        bus = node.parent
        while bus is not None and bus.parent is not None:
            ranges = bus.props.get("ranges")
            if ranges is None:
                return None
            if ranges != b"":
                cac = bus.u32("#address-cells", 2)
                csc = bus.u32("#size-cells", 1)
                pac = bus.parent.u32("#address-cells", 2)
                cells = bus.cells("ranges")
                step = cac + pac + csc
                if not step or len(cells) % step:
                    raise ToolError("%s: %s has a ranges property that does not fit its cell "
                                    "sizes" % (self.path, bus.path))
                for i in range(0, len(cells), step):
                    child = join_cells(cells[i:i + cac])
                    parent = join_cells(cells[i + cac:i + cac + pac])
                    size = join_cells(cells[i + cac + pac:i + step])
                    if child <= addr < child + size:
                        addr = parent + (addr - child)
                        break
                else:
                    return None
            bus = bus.parent
        return addr

    def reg(self, node):
        """List of (CPU physical address, size) of a node's reg."""
        out = []
        for a, s in self.raw_reg(node):
            pa = self.translate(node, a)
            if pa is None:
                raise ToolError("%s: %s is not on a memory-mapped bus (no ranges on the way to "
                                "the root)" % (self.path, node.path))
            out.append((pa, s))
        return out

    def is_mmio_node(self, node):
        """True for a device node whose reg is a CPU physical address: every bus above it
        translates addresses with `ranges`, and it is not a CPU or memory node."""
        if node.parent is None or "reg" not in node.props:
            return False
        if node.props.get("device_type", b"") in (b"memory\0", b"cpu\0"):
            return False
        if node.parent.path == "/" and node.name.split("@")[0] in ("cpus", "memory"):
            return False
        bus = node.parent
        while bus is not None and bus.parent is not None:
            if "ranges" not in bus.props:
                return False
            bus = bus.parent
        return True

    def find_compatible(self, *compats):
        for node in self.nodes.values():
            if any(c in node.strings("compatible") for c in compats):
                return node
        return None

    def interrupt_parent_is(self, node, gic):
        n = node
        while n is not None:
            ip = n.u32("interrupt-parent")
            if ip is not None:
                return self.by_phandle.get(ip) is gic
            n = n.parent
        return False


def load(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ToolError("%s: cannot read: %s" % (path, e.strerror))
    return DeviceTree(data, path)
