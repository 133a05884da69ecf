# seL4 Microkit VMM: build a system image with one Linux (or other) guest, run it, test it.
#
#   make run MICROKIT_SDK=/path/to/sdk          build and boot the example system in QEMU
#   make test                                    host unit tests, tool tests, end-to-end boot
#   make help                                    everything else

BUILD_DIR ?= build
CONFIG ?= debug
# An example (examples/<name>/example.mk) brings its board, system file, PD program and PDs.
ifneq ($(EXAMPLE),)
include examples/$(EXAMPLE)/example.mk
endif
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
TARGET_AR := $(CROSS_COMPILE)ar
QEMU ?= qemu-system-aarch64

SYSTEM_FILE ?= $(BOARD_DIR)/systems/$(SYSTEM)
SDK_BOARD := $(MICROKIT_SDK)/board/$(MICROKIT_BOARD)/$(CONFIG)
IMAGE_FILE := $(BUILD_DIR)/loader.img
REPORT_FILE := $(BUILD_DIR)/report.txt
GEN := $(BUILD_DIR)/gen
OBJ := $(BUILD_DIR)/obj

# Guest images, per VM: IMAGE_DIR/<vm>/, else IMAGE_DIR, else the defaults built from Debian
# packages into $(BUILD_DIR)/images. A directory holds `linux`, optionally `rootfs.cpio.gz` and
# `linux.dts`.
DEFAULT_IMAGES := $(BUILD_DIR)/images
vm_image_dir = $(strip $(or $(if $(IMAGE_DIR),$(firstword $(foreach d,$(IMAGE_DIR)/$(1) \
                   $(IMAGE_DIR),$(if $(wildcard $(d)/linux),$(d))))),$(DEFAULT_IMAGES)))
vm_kernel = $(call vm_image_dir,$(1))/linux
vm_initrd = $(strip $(if $(filter $(DEFAULT_IMAGES),$(call vm_image_dir,$(1))),\
                $(DEFAULT_IMAGES)/rootfs.cpio.gz,$(wildcard $(call vm_image_dir,$(1))/rootfs.cpio.gz)))
vm_dts = $(wildcard $(call vm_image_dir,$(1))/linux.dts)
# Any guest, not only Linux: GUEST_PROTOCOL=raw loads `linux` as a raw binary at GUEST_LOAD_ADDR
# and enters it at GUEST_ENTRY (x0 = DTB).
GUEST_PROTOCOL ?= linux
# A board whose loader leaves little room below it (i.MX8MM) builds the kernel in gzip-compressed;
# the VMM inflates it into guest RAM. A gzip `linux` in IMAGE_DIR is taken as it is.
vm_kernel_blob = $(if $(filter gzip,$(GUEST_KERNEL_COMPRESS)),$(GEN)/$(1)/linux.gz,$(call vm_kernel,$(1)))
# Where the VMM finds its guest's kernel and initramfs. embedded: in its own ELF, so the system
# image carries them (Microkit's loader copies them, its monitor maps them in 4 KiB pages).
# preload: the boot loader places each VM's images file in RAM seL4 does not use, where a region
# of 2 MiB pages maps it into the VMM (tools/vmm-preload.py; QEMU's loader device on QEMU, U-Boot's
# load on a board): the guest boots as cheaply as natively, the system image is small.
GUEST_IMAGES ?= embedded
ifeq ($(filter embedded preload,$(GUEST_IMAGES)),)
$(error GUEST_IMAGES=$(GUEST_IMAGES) is neither embedded (the VMM carries the images) nor preload (the boot loader places them))
endif
PRELOAD := $(filter preload,$(GUEST_IMAGES))
vm_preload_file = $(GEN)/$(1)/guest_images.img

# The VMM library (include/vmm/ is its API) and the VMM program over it. VMM_MAIN is the program:
# vmm/main.c, or a PD of your own that owns a VM (README, "The VMM as a library").
LIB_SRCS := $(wildcard src/core/*.c src/arch/aarch64/*.c src/vgic/*.c src/virtio/*.c \
                src/target/*.c) src/seL4/microkit_seam.c
LIB := $(BUILD_DIR)/libvmm.a
VMM_MAIN ?= vmm/main.c
# Native protection domains (components/<kind>/), added by the build or named in the system file
# by their program image <kind>.elf: each component.mk names the sources as <kind>_SRCS;
# src/seL4/pd_seam.c is their seam to Microkit and the build writes their configuration.
include $(wildcard components/*/component.mk)
PD_SEAM := src/seL4/pd_seam.c

TARGET_CFLAGS := -std=c11 -ffreestanding -nostdlib -fno-stack-protector -fno-pic \
                 -fno-tree-loop-distribute-patterns -march=armv8-a -mstrict-align \
                 -mno-outline-atomics -O2 -g -Wall -Wextra -Werror -Wno-unused-function \
                 -Iinclude -Icomponents -Idrivers -I$(SDK_BOARD)/include

# VMM_PROFILE=1: the VMM program counts the counter ticks it spends handling events and says so
# when the guest powers off (bench/blk_ratio.py).
VMM_PROFILE ?=

# What the objects, the link and the system image are made with (fixed here: target-specific
# additions below must not change it).
BUILD_ARGS := $(TARGET_CC) $(TARGET_CFLAGS) $(TARGET_LD) $(MICROKIT_SDK) $(MICROKIT_BOARD) $(CONFIG) \
              $(if $(VMM_PROFILE),VMM_PROFILE)

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
                  $(BOOTARGS_FLAG) \
                  $(if $(STRICT_DEVICES),--strict-devices) $(if $(TRACE_MMIO),--trace-mmio) \
                  $(if $(UNREACHABLE_DEVICES),--unreachable-devices $(UNREACHABLE_DEVICES)) \
                  $(if $(filter raw,$(GUEST_PROTOCOL)),--protocol raw --raw-addr $(GUEST_LOAD_ADDR) \
                      --raw-entry $(or $(GUEST_ENTRY),$(GUEST_LOAD_ADDR)))
vmconfig_args = --system $(SYSTEM_XML) --vm $(1) --plan $(PLAN) --board-dtb $(BOARD_DTB_FILE) \
                --kernel $(call vm_kernel_blob,$(1)) \
                $(if $(call vm_initrd,$(1)),--initrd $(call vm_initrd,$(1))) \
                $(if $(call vm_dts,$(1)),--guest-dts $(call vm_dts,$(1))) $(VMCONFIG_FLAGS) \
                $(if $(PRELOAD),--preload-images $(call vm_preload_file,$(1))) \
                --out-c $(GEN)/$(1)/vm_config.c --out-dtb $(GEN)/$(1)/guest.dtb

# The system as the Microkit tool gets it: the user's file with its device declarations expanded
# (tools/vmm-system.py), the plan of what each VM and added PD gets, and the VMs and PDs to build.
EXPANDED := $(BUILD_DIR)/system.xml
# With preloaded images the expansion is completed by their regions (tools/vmm-preload.py).
SYSTEM_XML := $(if $(PRELOAD),$(GEN)/system-base.xml,$(EXPANDED))
PLAN := $(GEN)/plan.json
SYSTEM_MK := $(GEN)/system.mk
SYSTEM_ARGS := --system $(SYSTEM_FILE) --board-dtb $(BOARD_DTB_FILE) --out-xml $(SYSTEM_XML) \
               --out-plan $(PLAN) --out-mk $(SYSTEM_MK) --out-gen $(GEN)
TOOL_SRCS := $(wildcard tools/vmmtools/*.py)

# Every input of a generated file is a prerequisite of it, make variables included: a command
# line is kept in a file that is rewritten only when the line changes (BOOTARGS=x, CONFIG=...,
# another SDK or image directory), and what the command makes depends on that file.
define write_if_changed
@mkdir -p $(dir $@)
@printf '%s\n' $(call shquote,$(1)) >$@.new
@if cmp -s $@.new $@; then rm -f $@.new; else mv -f $@.new $@; fi
endef

.PHONY: all run test test-host help clean images sdk-check boards qemu-cmd packages lib FORCE \
        guest-images-check disks
.DEFAULT_GOAL := all

# The Debian packages this command needs (tools/ensure-packages.sh has the lists), checked before
# anything is built; as root, missing ones are installed.
PACKAGE_SET := $(if $(filter test test-host %/tests-clang %/tests-gcc,$(MAKECMDGOALS)),test,$(if \
                   $(filter run disks,$(MAKECMDGOALS)),run,build))
packages:
	@tools/ensure-packages.sh $(PACKAGE_SET)

guest-images-check:

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
	@echo "  GUEST_IMAGES=preload (the boot loader places the guest images outside seL4's memory;"
	@echo "  make qemu-cmd gives QEMU them; the default, embedded, builds them into the VMM),"
	@echo "  UNREACHABLE_DEVICES=omit|disable (board devices the VM lacks: deleted from the guest DTB,"
	@echo "  the default for raw guests, or status = \"disabled\", the default for Linux)"
	@echo "make boards  build simple.system for every board whose SDK is here, and report"
	@echo "make disks   make the QEMU disk image of each block server if it does not exist"
	@echo "  (QEMU_DISK_<server>=file: your own); make qemu-cmd prints the QEMU command"
	@echo "  VMM_PROFILE=1: the VMM counts its counter ticks and says so at guest power-off"

sdk-check:
ifeq ($(strip $(MICROKIT_SDK)),)
	@echo "error: no Microkit SDK: pass MICROKIT_SDK=/path/to/microkit-sdk-2.0.1 (a Microkit 2.0.1 SDK release, or one built as README.md says; $(DEFAULT_SDK) is used when present)"; exit 1
endif
	@test -x $(MICROKIT_SDK)/bin/microkit || { echo "error: $(MICROKIT_SDK) is not a Microkit SDK (no bin/microkit)"; exit 1; }
	@test -d $(SDK_BOARD) || { echo "error: the SDK at $(MICROKIT_SDK) has no board $(MICROKIT_BOARD) in config $(CONFIG)"; exit 1; }

images: $(DEFAULT_IMAGES)/linux $(DEFAULT_IMAGES)/rootfs.cpio.gz

# Always asked: the tool rebuilds when the packages or its recipe changed (VERSIONS) and rewrites
# only files whose contents change, so an unchanged image relinks nothing.
$(DEFAULT_IMAGES)/linux $(DEFAULT_IMAGES)/rootfs.cpio.gz &: guest-images-check | packages
	$(PYTHON) tools/fetch-guest-images.py --out $(DEFAULT_IMAGES) >&2

ifneq ($(BOARD_DTS),)
$(BOARD_DTB_FILE): $(BOARD_DIR)/$(BOARD_DTS) | packages
	@mkdir -p $(dir $@)
	dtc -q -I dts -O dtb -o $@ $<
else
# The board's DTB as Debian's arm64 kernel package ships it.
$(BOARD_DTB_FILE): $(BOARD_DIR)/board.mk | packages
	$(PYTHON) tools/fetch-guest-images.py --board-dtb $(BOARD_DTB_DEBIAN) --board-dtb-out $@
endif

# The tool writes its outputs only when they change; the stamp says when it last ran. What it says
# goes to stderr, so that `make -s qemu-cmd` prints the QEMU command alone even when it expands.
$(GEN)/system.stamp: $(GEN)/vmm-system.args $(SYSTEM_FILE) $(BOARD_DTB_FILE) tools/vmm-system.py \
        $(TOOL_SRCS) | packages
	$(PYTHON) tools/vmm-system.py $(SYSTEM_ARGS) >&2
	@touch $@
$(SYSTEM_XML) $(PLAN) $(SYSTEM_MK): $(GEN)/system.stamp ;
$(GEN)/vmm-system.args: FORCE
	$(call write_if_changed,$(SYSTEM_ARGS))

# Which VMs and PDs there are is known once the system is expanded; goals that build nothing do
# not need it.
NO_SYSTEM_GOALS := help clean test test-host boards packages images sdk-check FORCE \
                   guest-images-check \
                   %/tests-clang %/tests-gcc lib $(LIB)
ifneq ($(if $(MAKECMDGOALS),$(filter-out $(NO_SYSTEM_GOALS),$(MAKECMDGOALS)),all),)
include $(SYSTEM_MK)
endif

# One VMM per VM: its generated configuration and guest DTB, its images, its ELF.
# The SDK is needed for the configuration only for its GIC check: without one,
# `make $(GEN)/<vm>/guest.dtb` works.
define VM_RULES
$(GEN)/$(1)/vm_config.c $(GEN)/$(1)/guest.dtb \
        $(if $(PRELOAD),$(call vm_preload_file,$(1)) $(call vm_preload_file,$(1)).json) &: \
        $(GEN)/$(1)/vmm-config.args $(SYSTEM_XML) $(PLAN) \
        $(BOARD_DTB_FILE) $(call vm_kernel_blob,$(1)) $(call vm_initrd,$(1)) $(call vm_dts,$(1)) \
        $(SDK_GEN_CONFIG) tools/vmm-config.py $(TOOL_SRCS) | $(if $(SDK_GEN_CONFIG),sdk-check) packages
	@mkdir -p $(GEN)/$(1)
	@echo "vmm-config: VM '$(1)': images from $(call vm_image_dir,$(1))" >&2
	$(PYTHON) tools/vmm-config.py $(call vmconfig_args,$(1)) >&2
	$(if $(PRELOAD),@touch $(call vm_preload_file,$(1)) $(call vm_preload_file,$(1)).json)
$(GEN)/$(1)/vmm-config.args: FORCE
	$$(call write_if_changed,$(call vmconfig_args,$(1)))
$(GEN)/$(1)/linux.gz: $(call vm_kernel,$(1)) $(GEN)/$(1)/linux.gz.args
	@mkdir -p $$(dir $$@)
	gzip -9 -n -c $$< > $$@
$(GEN)/$(1)/linux.gz.args: FORCE
	$$(call write_if_changed,$(call vm_kernel,$(1)))
$(OBJ)/$(1)/vm_config.o: $(GEN)/$(1)/vm_config.c $(wildcard include/*/*.h) $(OBJ)/build.args | sdk-check
	@mkdir -p $$(dir $$@)
	$(TARGET_CC) $(TARGET_CFLAGS) -c $$< -o $$@
$(OBJ)/$(1)/guest_images.o: vmm/guest_images.S $(call vm_kernel_blob,$(1)) $(call vm_initrd,$(1)) \
        $(GEN)/$(1)/guest.dtb $(OBJ)/build.args $(GEN)/$(1)/vmm-config.args | sdk-check
	@mkdir -p $$(dir $$@)
	$(TARGET_CC) -c $$< -o $$@ -DGUEST_DTB='"$(GEN)/$(1)/guest.dtb"' $(if $(PRELOAD),,\
	    -DGUEST_KERNEL='"$(call vm_kernel_blob,$(1))"' \
	    $(if $(call vm_initrd,$(1)),-DGUEST_INITRD='"$(call vm_initrd,$(1))"'))
$(BUILD_DIR)/vmm_$(1).elf: $(patsubst %.c,$(OBJ)/%.o,$(VMM_MAIN)) $(OBJ)/$(1)/vm_config.o \
        $(OBJ)/$(1)/guest_images.o $(LIB) $(OBJ)/build.args | sdk-check
	$(TARGET_LD) -L$(SDK_BOARD)/lib $(patsubst %.c,$(OBJ)/%.o,$(VMM_MAIN)) \
	    $(OBJ)/$(1)/vm_config.o $(OBJ)/$(1)/guest_images.o $(LIB) -lmicrokit -Tmicrokit.ld -o $$@
endef
$(foreach vm,$(SYSTEM_VMS),$(eval $(call VM_RULES,$(vm))))

# GUEST_IMAGES=preload: each VM's images file gets a place in RAM outside seL4's memory (the SDK's
# platform_gen.json) and a region there in the system; QEMU gets loader arguments for them.
PRELOAD_QEMU := $(GEN)/preload.qemu
PRELOAD_PLACEMENT := $(GEN)/preload.json
PRELOAD_ARGS = --system $(SYSTEM_XML) --board-dtb $(BOARD_DTB_FILE) --board-name $(BOARD) \
    --sdk-platform $(SDK_BOARD)/platform_gen.json \
    --info $(foreach vm,$(SYSTEM_VMS),$(call vm_preload_file,$(vm)).json) --out-xml $(EXPANDED) \
    --out-qemu $(PRELOAD_QEMU) --out-placement $(PRELOAD_PLACEMENT)
ifneq ($(PRELOAD),)
$(GEN)/preload.stamp: $(SYSTEM_XML) $(foreach vm,$(SYSTEM_VMS),$(call vm_preload_file,$(vm)).json) \
        $(BOARD_DTB_FILE) $(GEN)/preload.args tools/vmm-preload.py $(TOOL_SRCS) | sdk-check
	$(PYTHON) tools/vmm-preload.py $(PRELOAD_ARGS)
	@touch $@
$(EXPANDED) $(PRELOAD_QEMU) $(PRELOAD_PLACEMENT): $(GEN)/preload.stamp ;
$(GEN)/preload.args: FORCE
	$(call write_if_changed,$(PRELOAD_ARGS))
endif

# One ELF per PD the build adds: its component's sources, the configuration vmm-system.py
# wrote for it, the seam; the library supplies what the compiler may call (memcpy, ...).
define COMPONENT_RULES
$(GEN)/$(1)/config.c: $(GEN)/system.stamp ;
$(OBJ)/$(1)/config.o: $(GEN)/$(1)/config.c \
        $(wildcard include/*/*.h components/*/*.h drivers/*/*.h) $(COMPONENT_DEPS_$(1)) \
        $(OBJ)/build.args | sdk-check
	@mkdir -p $$(dir $$@)
	$(TARGET_CC) $(TARGET_CFLAGS) -c $$< -o $$@
$(BUILD_DIR)/$(1).elf: $(patsubst %.c,$(OBJ)/%.o,$($(COMPONENT_KIND_$(1))_SRCS) $(PD_SEAM)) \
        $(OBJ)/$(1)/config.o $(LIB) $(OBJ)/build.args | sdk-check
	$(TARGET_LD) -L$(SDK_BOARD)/lib $(patsubst %.c,$(OBJ)/%.o,$($(COMPONENT_KIND_$(1))_SRCS) \
	    $(PD_SEAM)) $(OBJ)/$(1)/config.o $(LIB) -lmicrokit -Tmicrokit.ld -o $$@
endef
$(foreach pd,$(SYSTEM_COMPONENTS),$(eval $(call COMPONENT_RULES,$(pd))))

# A PD of the user's own (not a VMM, not one the build adds) is built from PD_SRCS_<name> when
# the make command (or an example's example.mk) gives them; otherwise its ELF is expected in
# $(BUILD_DIR) under the name its program_image gives.
define USER_PD_RULES
$(patsubst %.c,$(OBJ)/%.o,$(PD_SRCS_$(1))): TARGET_CFLAGS += -std=gnu11
$(BUILD_DIR)/$(USER_PD_ELF_$(1)): $(patsubst %.c,$(OBJ)/%.o,$(PD_SRCS_$(1))) $(LIB) \
        $(OBJ)/build.args | sdk-check
	$(TARGET_LD) -L$(SDK_BOARD)/lib $(patsubst %.c,$(OBJ)/%.o,$(PD_SRCS_$(1))) $(LIB) \
	    -lmicrokit -Tmicrokit.ld -o $$@
endef
BUILT_USER_PDS := $(foreach pd,$(SYSTEM_USER_PDS),$(if $(PD_SRCS_$(pd)),$(pd)))
$(foreach pd,$(BUILT_USER_PDS),$(eval $(call USER_PD_RULES,$(pd))))

SYSTEM_ELFS := $(foreach vm,$(SYSTEM_VMS),$(BUILD_DIR)/vmm_$(vm).elf) \
               $(foreach pd,$(SYSTEM_COMPONENTS),$(BUILD_DIR)/$(pd).elf) \
               $(foreach pd,$(BUILT_USER_PDS),$(BUILD_DIR)/$(USER_PD_ELF_$(pd)))

# Compiler, flags and SDK of the VMM's objects, its link and the system image.
$(OBJ)/build.args: FORCE
	$(call write_if_changed,$(BUILD_ARGS))

FORCE:

# libsel4's headers use GNU C (asm); only the seams and PD programs include them.
$(OBJ)/src/seL4/%.o $(patsubst %.c,$(OBJ)/%.o,$(VMM_MAIN)): TARGET_CFLAGS += -std=gnu11
$(patsubst %.c,$(OBJ)/%.o,$(VMM_MAIN)): TARGET_CFLAGS += $(if $(VMM_PROFILE),-DVMM_PROFILE)

$(OBJ)/%.o: %.c $(wildcard include/*/*.h src/*/*.h components/*/*.h drivers/*/*.h) \
        $(OBJ)/build.args \
        | sdk-check packages
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(TARGET_CFLAGS) -c $< -o $@

$(LIB): $(patsubst %.c,$(OBJ)/%.o,$(LIB_SRCS))
	@rm -f $@
	$(TARGET_AR) rcs $@ $^

lib: $(LIB)

$(IMAGE_FILE) $(REPORT_FILE) &: $(SYSTEM_ELFS) $(EXPANDED) $(OBJ)/build.args | sdk-check packages
	$(MICROKIT_SDK)/bin/microkit $(EXPANDED) --search-path $(BUILD_DIR) --board $(MICROKIT_BOARD) \
	    --config $(CONFIG) -o $(IMAGE_FILE) -r $(REPORT_FILE)
	$(if $(PRELOAD),$(PYTHON) tools/vmm-preload.py --check-loader $(IMAGE_FILE) \
	    --loader-addr $(LOADER_ADDR) --out-placement $(PRELOAD_PLACEMENT) || \
	    { rm -f $(IMAGE_FILE); exit 1; })
	@echo "built $(IMAGE_FILE) ($(MICROKIT_BOARD), $(CONFIG), $(SYSTEM_FILE): $(SYSTEM_VMS)$(if \
	    $(SYSTEM_COMPONENTS), + $(SYSTEM_COMPONENTS)); Microkit system: $(EXPANDED))"

# The QEMU command that runs this board's image (tests and benchmarks use it too), with what the
# system's devices need (SYSTEM_QEMU_ARGS: a block server's disk, ...).
QEMU_CMD = $(QEMU) -machine $(QEMU_MACHINE) -cpu $(QEMU_CPU) -m $(QEMU_MEM) \
    -device loader,file=$(IMAGE_FILE),addr=$(LOADER_ADDR),cpu-num=0 $(SYSTEM_QEMU_ARGS) \
    $(if $(PRELOAD),$$(cat $(PRELOAD_QEMU)))

# The disk image of each block server on QEMU (QEMU_DISK_<server>, by default
# $(BUILD_DIR)/<server>.img): made when it does not exist, never remade (it holds the guests'
# data; delete it for a fresh one).
define DISK_RULES
$(QEMU_DISK_$(1)): | packages
	$(PYTHON) tools/make-disk-image.py --out $$@ $(QEMU_DISK_LAYOUT_$(1))
endef
$(foreach d,$(SYSTEM_QEMU_DISKS),$(eval $(call DISK_RULES,$(d))))
disks: $(foreach d,$(SYSTEM_QEMU_DISKS),$(QEMU_DISK_$(d)))

qemu-cmd: $(if $(PRELOAD),$(PRELOAD_QEMU))
	@echo "$(QEMU_CMD)"

run: $(IMAGE_FILE) disks | packages
ifeq ($(strip $(QEMU_MACHINE)),)
	@echo "error: BOARD=$(BOARD) is real hardware; see $(BOARD_DIR)/README.md to boot $(IMAGE_FILE)"; exit 1
else
	$(QEMU_CMD) -nographic -serial mon:stdio
endif

# ---- tests -------------------------------------------------------------------------------------
# Components and drivers are tested on the host too: all but their PD entry points (main.c).
COMPONENT_HOST_SRCS := $(filter-out %/main.c,$(wildcard components/*/*.c drivers/*/*.c))
HOST_SRCS := $(wildcard src/core/*.c src/arch/aarch64/*.c src/vgic/*.c src/virtio/*.c tests/host/*.c) \
             $(COMPONENT_HOST_SRCS)
HOST_CFLAGS := -std=c11 -g -O1 -Wall -Wextra -Werror -Iinclude -Icomponents -Idrivers -Itests/host
HOST_HDRS := $(wildcard include/*/*.h src/vgic/*.h src/virtio/*.h tests/host/*.h components/*/*.h \
                drivers/*/*.h)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

$(BUILD_DIR)/host/tests-clang: $(HOST_SRCS) $(HOST_HDRS) | packages
	@mkdir -p $(dir $@)
	clang $(HOST_CFLAGS) $(SAN_FLAGS) $(HOST_SRCS) -o $@

$(BUILD_DIR)/host/tests-gcc: $(HOST_SRCS) $(HOST_HDRS) | packages
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
