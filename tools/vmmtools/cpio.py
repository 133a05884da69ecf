"""The newc ("070701") cpio format the kernel unpacks as an initramfs: written without root (device
nodes included), and read back by the tests."""
from . import ToolError

MAGIC = b"070701"
TRAILER = "TRAILER!!!"
HEADER_LEN = 110  # the magic and 13 eight-digit hex fields


def _pad4(n):
    return (4 - n % 4) % 4


def write_newc(entries):
    """entries: (name, mode, data or None, rdev_major, rdev_minor), in archive order. Every entry
    is owned by root with mtime 0 and its own inode number, so equal inputs give equal bytes."""
    out = bytearray()
    for ino, (name, mode, data, major, minor) in enumerate(
            list(entries) + [(TRAILER, 0, b"", 0, 0)], start=1):
        data = data or b""
        nameb = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, major, minor, len(nameb), 0]
        out += MAGIC + "".join("%08X" % v for v in fields).encode() + nameb
        out += b"\0" * _pad4(len(out))
        out += data
        out += b"\0" * _pad4(len(out))
    return bytes(out)


def read_newc(blob):
    """[(name, mode, data, rdev_major, rdev_minor, mtime)] of an archive, up to its trailer;
    a malformed archive raises ToolError naming the offset."""
    out, pos = [], 0
    while True:
        if pos + HEADER_LEN > len(blob):
            raise ToolError("cpio: truncated header at offset %d" % pos)
        if blob[pos:pos + 6] != MAGIC:
            raise ToolError("cpio: bad magic %r at offset %d" % (blob[pos:pos + 6], pos))
        try:
            f = [int(blob[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        except ValueError:
            raise ToolError("cpio: a header field is not hex at offset %d" % pos) from None
        mode, mtime, size, major, minor, namesize = f[1], f[5], f[6], f[9], f[10], f[11]
        name_end = pos + HEADER_LEN + namesize
        if namesize == 0 or name_end > len(blob) or blob[name_end - 1] != 0:
            raise ToolError("cpio: bad name at offset %d" % pos)
        name = blob[pos + HEADER_LEN:name_end - 1].decode("utf-8", "replace")
        pos = name_end + _pad4(name_end)
        if pos + size > len(blob):
            raise ToolError("cpio: %s: data runs past the end of the archive" % name)
        data = blob[pos:pos + size]
        pos += size + _pad4(size)
        if name == TRAILER:
            return out
        out.append((name, mode, data, major, minor, mtime))
