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
$(KERNEL_BLOB): $(GUEST_KERNEL) $(GEN)/linux.gz.args
	@mkdir -p $(dir $@)
	gzip -9 -n -c $< > $@
$(GEN)/linux.gz.args: FORCE
	$(call write_if_changed,$(GUEST_KERNEL))
else
KERNEL_BLOB := $(GUEST_KERNEL)
endif

VMM_SRCS := $(wildcard src/core/*.c src/arch/aarch64/*.c src/vgic/*.c) src/seL4/microkit_seam.c \
            vmm/main.c vmm/libc_shim.c
VMM_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(VMM_SRCS)) $(OBJ)/vm_config.o $(OBJ)/guest_images.o

TARGET_CFLAGS := -std=c11 -ffreestanding -nostdlib -fno-stack-protector -fno-pic \
                 -fno-tree-loop-distribute-patterns -march=armv8-a -mstrict-align \
                 -mno-outline-atomics -O2 -g -Wall -Wextra -Werror -Wno-unused-function \
                 -Iinclude -I$(SDK_BOARD)/include

# What the objects, the link and the system image are made with (fixed here: target-specific
# additions below must not change it).
BUILD_ARGS := $(TARGET_CC) $(TARGET_CFLAGS) $(TARGET_LD) $(MICROKIT_SDK) $(MICROKIT_BOARD) $(CONFIG)

# A value as one shell word.
shquote = '$(subst ','\'',$(1))'

# The board's DTB, one per board so that switching BOARD in a build directory switches it too.
BOARD_DTB_FILE := $(BUILD_DIR)/board/$(BOARD).dtb
# The SDK's kernel configuration, for the tool's check of the GIC version (skipped without SDK).
SDK_GEN_CONFIG := $(if $(strip $(MICROKIT_SDK)),$(SDK_BOARD)/include/kernel/gen_config.h)
# UNREACHABLE_DEVICES=omit|disable: board devices the VM cannot reach are deleted from the guest
# DTB or kept with status = "disabled"; the tool's default is omit for raw guests, disable for
# Linux. BOOTARGS unset leaves the guest's default command line (none for a raw guest); set,
# even to nothing, it is the command line.
ifneq ($(origin BOOTARGS),undefined)
BOOTARGS_FLAG = --bootargs $(call shquote,$(BOOTARGS))
endif
VMCONFIG_FLAGS := --gic-lrs $(GIC_LRS) $(if $(SDK_GEN_CONFIG),--sdk-config $(SDK_GEN_CONFIG)) \
                  $(if $(GUEST_DTS),--guest-dts $(GUEST_DTS)) \
                  $(BOOTARGS_FLAG) \
                  $(if $(STRICT_DEVICES),--strict-devices) $(if $(TRACE_MMIO),--trace-mmio) \
                  $(if $(UNREACHABLE_DEVICES),--unreachable-devices $(UNREACHABLE_DEVICES)) \
                  $(if $(filter raw,$(GUEST_PROTOCOL)),--protocol raw --raw-addr $(GUEST_LOAD_ADDR) \
                      --raw-entry $(or $(GUEST_ENTRY),$(GUEST_LOAD_ADDR)))
VMCONFIG_ARGS := --system $(SYSTEM_FILE) --board-dtb $(BOARD_DTB_FILE) --kernel $(KERNEL_BLOB) \
                 $(if $(GUEST_INITRD),--initrd $(GUEST_INITRD)) $(VMCONFIG_FLAGS) \
                 --out-c $(GEN)/vm_config.c --out-dtb $(GEN)/guest.dtb

# Every input of a generated file is a prerequisite of it, make variables included: a command
# line is kept in a file that is rewritten only when the line changes (BOOTARGS=x, CONFIG=...,
# another SDK or image directory), and what the command makes depends on that file.
define write_if_changed
@mkdir -p $(dir $@)
@printf '%s\n' $(call shquote,$(1)) >$@.new
@if cmp -s $@.new $@; then rm -f $@.new; else mv -f $@.new $@; fi
endef

.PHONY: all run test test-host help clean images sdk-check boards qemu-cmd packages FORCE
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
	@echo "  GUEST_KERNEL_COMPRESS=gzip, TRACE_MMIO=1 (log every emulated access),"
	@echo "  UNREACHABLE_DEVICES=omit|disable (board devices the VM lacks: deleted from the guest DTB,"
	@echo "  the default for raw guests, or status = \"disabled\", the default for Linux)"
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
$(BOARD_DTB_FILE): $(BOARD_DIR)/$(BOARD_DTS) | packages
	@mkdir -p $(dir $@)
	dtc -q -I dts -O dtb -o $@ $<
else
# The board's DTB as Debian's arm64 kernel package ships it.
$(BOARD_DTB_FILE): $(BOARD_DIR)/board.mk | packages
	$(PYTHON) tools/fetch-guest-images.py --board-dtb $(BOARD_DTB_DEBIAN) --board-dtb-out $@
endif

# The SDK is needed here only for its GIC check: without one, `make $(GEN)/guest.dtb` works.
$(GEN)/vm_config.c $(GEN)/guest.dtb &: $(GEN)/vmm-config.args $(SYSTEM_FILE) $(BOARD_DTB_FILE) \
        $(KERNEL_BLOB) $(GUEST_INITRD) $(GUEST_DTS) $(SDK_GEN_CONFIG) tools/vmm-config.py \
        $(wildcard tools/vmmtools/*.py) | $(if $(SDK_GEN_CONFIG),sdk-check) packages
	@mkdir -p $(GEN)
	$(PYTHON) tools/vmm-config.py $(VMCONFIG_ARGS)

$(GEN)/vmm-config.args: FORCE
	$(call write_if_changed,$(VMCONFIG_ARGS))

# Compiler, flags and SDK of the VMM's objects, its link and the system image.
$(OBJ)/build.args: FORCE
	$(call write_if_changed,$(BUILD_ARGS))

FORCE:

# libsel4's headers use GNU C (asm); only the seam includes them.
$(OBJ)/src/seL4/microkit_seam.o: TARGET_CFLAGS += -std=gnu11

$(OBJ)/%.o: %.c $(wildcard include/vmm/*.h src/vgic/*.h) $(OBJ)/build.args | sdk-check packages
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(TARGET_CFLAGS) -c $< -o $@

$(OBJ)/vm_config.o: $(GEN)/vm_config.c $(wildcard include/vmm/*.h) $(OBJ)/build.args | sdk-check
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(TARGET_CFLAGS) -c $< -o $@

$(OBJ)/guest_images.o: vmm/guest_images.S $(KERNEL_BLOB) $(GUEST_INITRD) $(GEN)/guest.dtb \
        $(OBJ)/build.args $(GEN)/vmm-config.args | sdk-check
	@mkdir -p $(dir $@)
	$(TARGET_CC) -c $< -o $@ -DGUEST_KERNEL='"$(KERNEL_BLOB)"' -DGUEST_DTB='"$(GEN)/guest.dtb"' \
	    $(if $(GUEST_INITRD),-DGUEST_INITRD='"$(GUEST_INITRD)"')

$(BUILD_DIR)/vmm.elf: $(VMM_OBJS) $(OBJ)/build.args | sdk-check
	$(TARGET_LD) -L$(SDK_BOARD)/lib $(VMM_OBJS) -lmicrokit -Tmicrokit.ld -o $@

$(IMAGE_FILE) $(REPORT_FILE) &: $(BUILD_DIR)/vmm.elf $(SYSTEM_FILE) $(OBJ)/build.args | sdk-check packages
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
HOST_SRCS := $(wildcard src/core/*.c src/arch/aarch64/*.c src/vgic/*.c tests/host/*.c)
HOST_CFLAGS := -std=c11 -g -O1 -Wall -Wextra -Werror -Iinclude -Itests/host
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

$(BUILD_DIR)/host/tests-clang: $(HOST_SRCS) $(wildcard include/vmm/*.h src/vgic/*.h tests/host/*.h) | packages
	@mkdir -p $(dir $@)
	clang $(HOST_CFLAGS) $(SAN_FLAGS) $(HOST_SRCS) -o $@

$(BUILD_DIR)/host/tests-gcc: $(HOST_SRCS) $(wildcard include/vmm/*.h src/vgic/*.h tests/host/*.h) | packages
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
