# NXP i.MX8M Mini EVK (Cortex-A53, GICv3).
MICROKIT_BOARD := imx8mm_evk
# The board's device tree comes from Debian's arm64 kernel package (not committed here).
BOARD_DTB_DEBIAN := freescale/imx8mm-evk.dtb
GIC_LRS := 4
LOADER_ADDR := 0x41000000
GUEST_KERNEL_COMPRESS := gzip
