# Hardkernel Odroid-C4 (Amlogic S905X3, GIC-400: GICv2).
MICROKIT_BOARD := odroidc4
# The board's device tree comes from Debian's arm64 kernel package (not committed here).
BOARD_DTB_DEBIAN := amlogic/meson-sm1-odroid-c4.dtb
GIC_LRS := 4
LOADER_ADDR := 0x20000000
