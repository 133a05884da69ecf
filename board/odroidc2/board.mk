# Hardkernel Odroid-C2 (Amlogic S905, GIC-400: GICv2).
MICROKIT_BOARD := odroidc2
# The board's device tree comes from Debian's arm64 kernel package (not committed here).
BOARD_DTB_DEBIAN := amlogic/meson-gxbb-odroidc2.dtb
GIC_LRS := 4
LOADER_ADDR := 0x20000000
