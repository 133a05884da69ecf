# QEMU virt with a GICv3 (gic-version=3). Needs a Microkit SDK whose seL4 was built with
# QEMU_GIC_VERSION=3 for qemu_virt_aarch64 (upstream seL4 commit d500b9751 adds the option);
# the build checks the SDK's kernel configuration against this board's GIC.
MICROKIT_BOARD := qemu_virt_aarch64
# Dumped from QEMU 7.2 with
#   qemu-system-aarch64 -machine virt,virtualization=on,highmem=off,secure=off,gic-version=3,\
#       dumpdtb=qemu_virt_gicv3.dtb -cpu cortex-a53 -m 2G
# and decompiled with dtc -I dtb -O dts, less the kaslr-seed and rng-seed QEMU puts in /chosen
# (the VMM writes fresh ones at every boot; the build strips any it finds).
BOARD_DTS := qemu_virt_gicv3.dts
BOARD_DEFAULT_SDK := /opt/microkit-sdk-2.0.1-gicv3
GIC_LRS := 4
QEMU_MACHINE := virt,virtualization=on,highmem=off,secure=off,gic-version=3
QEMU_CPU := cortex-a53
QEMU_MEM := 2G
LOADER_ADDR := 0x70000000
