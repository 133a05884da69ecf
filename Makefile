# seL4 Microkit VMM: build a system image with one Linux (or other) guest, run it, test it.
#
#   make run MICROKIT_SDK=/path/to/sdk          build and boot the example system in QEMU
#   make test                                    host unit tests, tool tests, end-to-end boot
#   make help                                    everything else

BUILD_DIR ?= build
CONFIG ?= debug
BOARD ?= qemu_virt_aarch64
SYSTEM ?= simple.system
IMAGE_DIR ?=

# Board names of the seed manual and of the old sel4cp VMM are accepted as aliases.
override BOARD := $(patsubst %_hyp,%,$(BOARD))
override BOARD := $(patsubst qemu_arm_virt,qemu_virt_aarch64,$(BOARD))
BOARD_DIR := board/$(BOARD)
ifeq ($(wildcard $(BOARD_DIR)/board.mk),)
$(error BOARD=$(BOARD) is not supported: boards are $(notdir $(wildcard board/*)))
endif
include $(BOARD_DIR)/board.mk

# The SDK comes from the user, as a downloaded Microkit release would. SEL4CP_SDK is the seed
# manual's name for the same thing. Without either, a local SDK in the documented place is used
# (a board may name its own, e.g. one whose seL4 drives a GICv3 on QEMU).
DEFAULT_SDK := $(or $(BOARD_DEFAULT_SDK),/opt/microkit-sdk-2.0.1)
SEL4CP_SDK ?=
MICROKIT_SDK ?= $(SEL4CP_SDK)
ifeq ($(strip $(MICROKIT_SDK)),)
ifneq ($(wildcard $(DEFAULT_SDK)/bin/microkit),)
MICROKIT_SDK := $(DEFAULT_SDK)
endif
endif

PYTHON ?= /usr/bin/python3
CROSS_COMPILE ?= aarch64-linux-gnu-
TARGET_CC := $(CROSS_COMPILE)gcc
TARGET_LD := $(CROSS_COMPILE)ld
QEMU ?= qemu-system-aarch64

SYSTEM_FILE := $(BOARD_DIR)/systems/$(SYSTEM)
SDK_BOARD := $(MICROKIT_SDK)/board/$(MICROKIT_BOARD)/$(CONFIG)
IMAGE_FILE := $(BUILD_DIR)/loader.img
REPORT_FILE := $(BUILD_DIR)/report.txt
GEN := $(BUILD_DIR)/gen
OBJ := $(BUILD_DIR)/obj

# Guest images: the user's directory, or the defaults built from Debian packages.
ifeq ($(strip $(IMAGE_DIR)),)
GUEST_DIR := $(BUILD_DIR)/images
else
GUEST_DIR := $(IMAGE_DIR)
endif
GUEST_KERNEL := $(GUEST_DIR)/linux
ifeq ($(strip $(IMAGE_DIR)),)
GUEST_INITRD := $(GUEST_DIR)/rootfs.cpio.gz
else
GUEST_INITRD := $(wildcard $(GUEST_DIR)/rootfs.cpio.gz)
endif
GUEST_DTS := $(wildcard $(GUEST_DIR)/linux.dts)
# Any guest, not only Linux: GUEST_PROTOCOL=raw loads `linux` as a raw binary at GUEST_LOAD_ADDR
# and enters it at GUEST_ENTRY (x0 = DTB).
GUEST_PROTOCOL ?= linux

# A board whose loader leaves little room below it (i.MX8MM) builds the kernel in gzip-compressed;
# the VMM inflates it into guest RAM. A gzip `linux` in IMAGE_DIR is taken as it is.
ifeq ($(GUEST_KERNEL_COMPRESS),gzip)
KERNEL_BLOB := $(GEN)/linux.gz
$(KERNEL_BLOB): $(GUEST_KERNEL)
	@mkdir -p $(dir $@)
	gzip -9 -n -c $< > $@
else
KERNEL_BLOB := $(GUEST_KERNEL)
endif

VMM_SRCS := $(wildcard src/core/*.c src/arch/aarch64/*.c src/vgic/*.c src/virtio/*.c) src/seL4/microkit_seam.c \
            vmm/main.c vmm/libc_shim.c
VMM_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(VMM_SRCS)) $(OBJ)/vm_config.o $(OBJ)/guest_images.o

TARGET_CFLAGS := -std=c11 -ffreestanding -nostdlib -fno-stack-protector -fno-pic \
                 -fno-tree-loop-distribute-patterns -march=armv8-a -mstrict-align \
                 -mno-outline-atomics -O2 -g -Wall -Wextra -Werror -Wno-unused-function \
                 -Iinclude -I$(SDK_BOARD)/include
VMCONFIG_FLAGS := --gic-lrs $(GIC_LRS) --sdk-config $(SDK_BOARD)/include/kernel/gen_config.h $(if $(GUEST_DTS),--guest-dts $(GUEST_DTS)) \
                  $(if $(BOOTARGS),--bootargs "$(BOOTARGS)") $(if $(STRICT_DEVICES),--strict-devices) \
                  $(if $(TRACE_MMIO),--trace-mmio) \
                  $(if $(filter raw,$(GUEST_PROTOCOL)),--protocol raw --raw-addr $(GUEST_LOAD_ADDR) \
                      --raw-entry $(or $(GUEST_ENTRY),$(GUEST_LOAD_ADDR)))

.PHONY: all run test test-host help clean images sdk-check boards qemu-cmd packages
.DEFAULT_GOAL := all

# The Debian packages this command needs (tools/ensure-packages.sh has the lists), checked before
# anything is built; as root, missing ones are installed.
PACKAGE_SET := $(if $(filter test test-host %/tests-clang %/tests-gcc,$(MAKECMDGOALS)),test,$(if \
                   $(filter run,$(MAKECMDGOALS)),run,build))
packages:
	@tools/ensure-packages.sh $(PACKAGE_SET)

all: $(IMAGE_FILE)

help:
	@echo "make [all]   build $(BUILD_DIR)/loader.img for BOARD=$(BOARD) SYSTEM=$(SYSTEM) CONFIG=$(CONFIG)"
	@echo "make run     build, then boot it in QEMU with the console on this terminal (Ctrl-a x quits)"
	@echo "make test    host unit tests (ASan/UBSan), tool tests, fuzz smoke, end-to-end boot (needs the SDK)"
	@echo "make images  fetch/build the default guest images into $(BUILD_DIR)/images"
	@echo "Variables: MICROKIT_SDK (or SEL4CP_SDK; default $(DEFAULT_SDK) if present), BUILD_DIR,"
	@echo "  CONFIG=debug|release, BOARD=$(notdir $(wildcard board/*)), SYSTEM (in board/BOARD/systems),"
	@echo "  IMAGE_DIR (your linux, rootfs.cpio.gz and optional linux.dts), BOOTARGS, STRICT_DEVICES=1,"
	@echo "  GUEST_PROTOCOL=raw GUEST_LOAD_ADDR=0x... [GUEST_ENTRY=0x...] (any raw binary guest),"
	@echo "  GUEST_KERNEL_COMPRESS=gzip, TRACE_MMIO=1 (log every emulated access)"
	@echo "make boards  build simple.system for every board whose SDK is here, and report"

sdk-check:
ifeq ($(strip $(MICROKIT_SDK)),)
	@echo "error: no Microkit SDK: pass MICROKIT_SDK=/path/to/microkit-sdk-2.0.1 (a Microkit 2.0.1 SDK release, or one built as README.md says; $(DEFAULT_SDK) is used when present)"; exit 1
endif
	@test -x $(MICROKIT_SDK)/bin/microkit || { echo "error: $(MICROKIT_SDK) is not a Microkit SDK (no bin/microkit)"; exit 1; }
	@test -d $(SDK_BOARD) || { echo "error: the SDK at $(MICROKIT_SDK) has no board $(MICROKIT_BOARD) in config $(CONFIG)"; exit 1; }

images: $(GUEST_KERNEL) $(GUEST_INITRD)

ifeq ($(strip $(IMAGE_DIR)),)
$(GUEST_KERNEL) $(GUEST_INITRD) &: | packages
	$(PYTHON) tools/fetch-guest-images.py --out $(BUILD_DIR)/images
else
$(GUEST_KERNEL) $(GUEST_INITRD):
	@echo "error: IMAGE_DIR=$(IMAGE_DIR) has no $(notdir $@) (it needs linux, rootfs.cpio.gz, optionally linux.dts)"; exit 1
endif

ifneq ($(BOARD_DTS),)
$(BUILD_DIR)/board.dtb: $(BOARD_DIR)/$(BOARD_DTS) | packages
	@mkdir -p $(dir $@)
	dtc -q -I dts -O dtb -o $@ $<
else
# The board's DTB as Debian's arm64 kernel package ships it.
$(BUILD_DIR)/board.dtb: $(BOARD_DIR)/board.mk | packages
	$(PYTHON) tools/fetch-guest-images.py --board-dtb $(BOARD_DTB_DEBIAN) --board-dtb-out $@
endif

$(GEN)/vm_config.c $(GEN)/guest.dtb &: $(SYSTEM_FILE) $(BUILD_DIR)/board.dtb $(KERNEL_BLOB) $(GUEST_INITRD) $(GUEST_DTS) tools/vmm-config.py $(wildcard tools/vmmtools/*.py) | sdk-check packages
	@mkdir -p $(GEN)
	$(PYTHON) tools/vmm-config.py --system $(SYSTEM_FILE) --board-dtb $(BUILD_DIR)/board.dtb \
	    --kernel $(KERNEL_BLOB) $(if $(GUEST_INITRD),--initrd $(GUEST_INITRD)) $(VMCONFIG_FLAGS) \
	    --out-c $(GEN)/vm_config.c --out-dtb $(GEN)/guest.dtb

# libsel4's headers use GNU C (asm); only the seam includes them.
$(OBJ)/src/seL4/microkit_seam.o: TARGET_CFLAGS += -std=gnu11

$(OBJ)/%.o: %.c $(wildcard include/vmm/*.h include/proto/*.h src/vgic/*.h src/virtio/*.h) | sdk-check packages
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(TARGET_CFLAGS) -c $< -o $@

$(OBJ)/vm_config.o: $(GEN)/vm_config.c | sdk-check
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(TARGET_CFLAGS) -c $< -o $@

$(OBJ)/guest_images.o: vmm/guest_images.S $(KERNEL_BLOB) $(GUEST_INITRD) $(GEN)/guest.dtb | sdk-check
	@mkdir -p $(dir $@)
	$(TARGET_CC) -c $< -o $@ -DGUEST_KERNEL='"$(KERNEL_BLOB)"' -DGUEST_DTB='"$(GEN)/guest.dtb"' \
	    $(if $(GUEST_INITRD),-DGUEST_INITRD='"$(GUEST_INITRD)"')

$(BUILD_DIR)/vmm.elf: $(VMM_OBJS) | sdk-check
	$(TARGET_LD) -L$(SDK_BOARD)/lib $^ -lmicrokit -Tmicrokit.ld -o $@

$(IMAGE_FILE) $(REPORT_FILE) &: $(BUILD_DIR)/vmm.elf $(SYSTEM_FILE) | sdk-check packages
	$(MICROKIT_SDK)/bin/microkit $(SYSTEM_FILE) --search-path $(BUILD_DIR) --board $(MICROKIT_BOARD) \
	    --config $(CONFIG) -o $(IMAGE_FILE) -r $(REPORT_FILE)
	@echo "built $(IMAGE_FILE) ($(MICROKIT_BOARD), $(CONFIG), $(SYSTEM))"

# The QEMU command that runs this board's image (tests and benchmarks use it too).
QEMU_CMD = $(QEMU) -machine $(QEMU_MACHINE) -cpu $(QEMU_CPU) -m $(QEMU_MEM) \
    -device loader,file=$(IMAGE_FILE),addr=$(LOADER_ADDR),cpu-num=0

qemu-cmd:
	@echo "$(QEMU_CMD)"

run: $(IMAGE_FILE) | packages
ifeq ($(strip $(QEMU_MACHINE)),)
	@echo "error: BOARD=$(BOARD) is real hardware; see $(BOARD_DIR)/README.md to boot $(IMAGE_FILE)"; exit 1
else
	$(QEMU_CMD) -nographic -serial mon:stdio
endif

# ---- tests -------------------------------------------------------------------------------------
HOST_SRCS := $(wildcard src/core/*.c src/arch/aarch64/*.c src/vgic/*.c src/virtio/*.c tests/host/*.c)
HOST_CFLAGS := -std=c11 -g -O1 -Wall -Wextra -Werror -Iinclude -Itests/host
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

$(BUILD_DIR)/host/tests-clang: $(HOST_SRCS) $(wildcard include/vmm/*.h include/proto/*.h src/vgic/*.h src/virtio/*.h tests/host/*.h) | packages
	@mkdir -p $(dir $@)
	clang $(HOST_CFLAGS) $(SAN_FLAGS) $(HOST_SRCS) -o $@

$(BUILD_DIR)/host/tests-gcc: $(HOST_SRCS) $(wildcard include/vmm/*.h include/proto/*.h src/vgic/*.h src/virtio/*.h tests/host/*.h) | packages
	@mkdir -p $(dir $@)
	gcc $(HOST_CFLAGS) $(SAN_FLAGS) $(HOST_SRCS) -o $@

# zlib's answers for the inflate tests (with the real kernel, when its images were fetched).
ZLIB_REFERENCE := $(BUILD_DIR)/host/zlib
test-host: $(BUILD_DIR)/host/tests-clang $(BUILD_DIR)/host/tests-gcc | packages
	$(PYTHON) tests/host/zlib_reference.py --out $(ZLIB_REFERENCE) \
	    $(if $(wildcard $(BUILD_DIR)/images/linux),--kernel $(BUILD_DIR)/images/linux)
	ZLIB_REFERENCE_DIR=$(ZLIB_REFERENCE) GUEST_IMAGE_DIR=$(BUILD_DIR)/images $(BUILD_DIR)/host/tests-clang

test: $(BUILD_DIR)/host/tests-clang $(BUILD_DIR)/host/tests-gcc | packages
	BUILD_DIR=$(BUILD_DIR) MICROKIT_SDK=$(MICROKIT_SDK) tests/run-all.sh

# Build simple.system for every board; report which could not be built and why.
boards:
	@BUILD_DIR=$(BUILD_DIR) MICROKIT_SDK=$(MICROKIT_SDK) CONFIG=$(CONFIG) IMAGE_DIR=$(IMAGE_DIR) \
	    tests/build-boards.sh

clean:
	rm -rf $(BUILD_DIR)
