# QEMU virt, GICv2 (what seL4's qemu_virt_aarch64 platform expects).
MICROKIT_BOARD := qemu_virt_aarch64
# The board's device tree: dumped from QEMU 7.2 with
#   qemu-system-aarch64 -machine virt,virtualization=on,highmem=off,secure=off,dumpdtb=qemu_virt.dtb \
#       -cpu cortex-a53 -m 2G
# and turned into source with dtc -I dtb -O dts, less the kaslr-seed and rng-seed QEMU puts in /chosen
# (the VMM writes fresh ones at every boot; the build strips any it finds).
BOARD_DTS := qemu_virt.dts
GIC_LRS := 4
QEMU_MACHINE := virt,virtualization=on,highmem=off,secure=off
QEMU_CPU := cortex-a53
QEMU_MEM := 2G
LOADER_ADDR := 0x70000000
DEFAULT_IMAGES := debian
