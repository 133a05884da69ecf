"""Where the guest's images go in guest RAM (the VMM checks the same rules again at init)."""
from . import ToolError

MIB = 1024 * 1024
DTB_SLOT = 2 * MIB


class Layout:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def linux_image_info(data, path):
    if len(data) < 64:
        raise ToolError("%s: %d bytes is too small for an arm64 Image header" % (path, len(data)))
    if data[0x38:0x3c] != b"ARM\x64":
        hint = ""
        raise ToolError("%s: not an arm64 Linux Image: no \"ARM\\x64\" magic at offset 0x38%s" %
                        (path, hint))
    text_offset = int.from_bytes(data[8:16], "little")
    image_size = int.from_bytes(data[16:24], "little")
    if image_size == 0:
        text_offset, image_size = 0x80000, len(data)
    return text_offset, image_size


def plan(ram_base, ram_size, kernel, kernel_path, initrd_size, protocol="linux",
         raw_addr=None, raw_entry=None):
    """Kernel at RAM base + text_offset, DTB in the top 2 MiB, initrd just below it."""
    if protocol == "linux":
        if ram_base % (2 * MIB):
            raise ToolError("guest RAM base 0x%x is not 2 MiB aligned as arm64 Linux needs" %
                            ram_base)
        text_offset, image_size = linux_image_info(kernel, kernel_path)
        kernel_addr, kernel_mem, entry = ram_base + text_offset, image_size, ram_base + text_offset
    else:
        kernel_addr, kernel_mem, entry = raw_addr, len(kernel), raw_entry
    if ram_size < DTB_SLOT * 2:
        raise ToolError("guest RAM of %d bytes is too small" % ram_size)
    dtb_addr = ram_base + ram_size - DTB_SLOT
    initrd_addr = (dtb_addr - initrd_size) & ~0xfff
    kernel_end = kernel_addr + kernel_mem
    if initrd_size and initrd_addr < kernel_end:
        need = (kernel_end - ram_base + initrd_size + DTB_SLOT + MIB - 1) // MIB
        raise ToolError("guest RAM is %d MiB but kernel (%d MiB with BSS), initrd (%d MiB) and "
                        "DTB slot (2 MiB) need %d MiB" % (ram_size // MIB, kernel_mem // MIB,
                                                           initrd_size // MIB, need))
    if kernel_end > dtb_addr:
        raise ToolError("kernel (%d MiB) does not fit below the DTB in %d MiB of guest RAM" %
                        (kernel_mem // MIB, ram_size // MIB))
    return Layout(kernel_addr=kernel_addr, kernel_mem=kernel_mem, entry=entry, dtb_addr=dtb_addr,
                  initrd_addr=initrd_addr if initrd_size else 0, initrd_size=initrd_size)
