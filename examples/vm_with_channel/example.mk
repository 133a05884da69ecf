# make EXAMPLE=vm_with_channel: a PD of your own (vmm.c) that owns a VM over the VMM library
# and serves its own channel to a native PD (bell.c). QEMU virt (GICv2).
BOARD := qemu_virt_aarch64
SYSTEM_FILE := examples/vm_with_channel/vm_with_channel.system
VMM_MAIN := examples/vm_with_channel/vmm.c
PD_SRCS_bell := examples/vm_with_channel/bell.c
