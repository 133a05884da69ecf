/*
 * Data aborts without an instruction syndrome (ISV=0) on an emulated device: the VMM fetches the
 * instruction, decodes it and performs its accesses itself, write-back included.
 *
 * A load/store pair is two accesses ("elements") of `size` bytes at VA and VA + size. The
 * architecture makes each element single-copy atomic when aligned, gives the two no order, and
 * lets an aborted pair leave its loaded registers UNKNOWN and one element of a store done. seL4
 * reports one IPA: that of the element the hardware faulted on, which need not be the first and
 * says nothing about the other (it may be guest RAM, another device, or nothing). So every
 * element's address comes from the base register and the instruction, is translated on its own
 * through the guest's stage-1 tables (the elements may sit on different pages), and goes to RAM or
 * to its device's handler. Every element is checked before any is performed: one that nothing
 * answers, that the guest's tables do not let this access reach, or that straddles two regions,
 * refuses the whole instruction with no side effect. Only a device refusing its element can leave
 * an element already done (devices go first, so it is never the RAM one); registers, the base
 * write-back and the PC are written once, when every element succeeded.
 */
#include <vmm/esr.h>
#include <vmm/insn.h>
#include <vmm/log.h>
#include <vmm/util.h>
#include <vmm/vm.h>

#define AARCH64_INSN_SIZE 4u
#define SPSR_PAN (UINT64_C(1) << 22)
#define ISS_S1PTW (1u << 7)
#define SMALLEST_GRANULE UINT64_C(0x1000)
#define MAX_ELEMENTS 2

struct element {
    uint64_t va, ipa;
    const struct mmio_region *r; /* NULL: guest RAM */
    uint64_t value;              /* what is stored, or what was loaded */
};

static uint64_t width_mask(unsigned width)
{
    return width >= 8 ? ~UINT64_C(0) : (UINT64_C(1) << (width * 8)) - 1;
}

static bool read_guest_u64(void *ctx, uint64_t ipa, uint64_t *value)
{
    const struct vm *vm = ctx;
    if (ipa & 7 || !range_inside(ipa, 8, vm->cfg->ram_base, vm->cfg->ram_size))
        return false;
    vmm_memcpy(value, (const uint8_t *)vm->ram + (ipa - vm->cfg->ram_base), 8);
    return true;
}

/* The vCPU's stage-1 translation regime at the fault, and the kind of access (S1_*). */
struct regime {
    uint64_t sctlr, tcr, ttbr0, ttbr1;
    unsigned access;
};

/* The instruction at the guest's PC, through its stage-1 tables when its MMU is on. */
static bool fetch_insn(struct vm *vm, const struct regime *s1, uint64_t pc, uint32_t *insn)
{
    uint64_t ipa;
    if (!s1_translate(pc, s1->sctlr, s1->tcr, s1->ttbr0, s1->ttbr1, read_guest_u64, vm, &ipa))
        return false;
    if (ipa & 3 || !range_inside(ipa, 4, vm->cfg->ram_base, vm->cfg->ram_size))
        return false;
    *insn = read_le32((const uint8_t *)vm->ram + (ipa - vm->cfg->ram_base));
    return true;
}

/* The IPA of `size` bytes at `va` as this access sees them, if they are contiguous: an element
 * crossing a page boundary is translated at both ends. */
static bool translate(struct vm *vm, const struct regime *s1, uint64_t va, unsigned size,
                      uint64_t *ipa)
{
    uint64_t last;
    if (!s1_translate_data(va, s1->sctlr, s1->tcr, s1->ttbr0, s1->ttbr1, s1->access, read_guest_u64,
                           vm, ipa))
        return false;
    if ((va & (SMALLEST_GRANULE - 1)) + size <= SMALLEST_GRANULE)
        return true;
    return s1_translate_data(va + size - 1, s1->sctlr, s1->tcr, s1->ttbr0, s1->ttbr1, s1->access,
                             read_guest_u64, vm, &last) &&
           last == *ipa + size - 1;
}

/* Guest RAM or the one emulated device that holds all `size` bytes at `ipa`. */
static bool classify(const struct vm *vm, struct element *e, unsigned size)
{
    e->r = NULL;
    if (range_inside(e->ipa, size, vm->cfg->ram_base, vm->cfg->ram_size))
        return true;
    for (unsigned i = 0; i < vm->num_mmio; i++) {
        if (range_inside(e->ipa, size, vm->mmio[i].base, vm->mmio[i].size)) {
            e->r = &vm->mmio[i];
            return true;
        }
    }
    return false;
}

/* An element in guest RAM: one access, single-copy atomic, when aligned as on hardware. */
static void ram_access(struct vm *vm, struct element *e, unsigned size, bool load)
{
    uint8_t *p = (uint8_t *)vm->ram + (e->ipa - vm->cfg->ram_base);
    bool aligned = ((uintptr_t)p & (size - 1)) == 0;
    if (aligned && size == 4 && load) {
        e->value = __atomic_load_n((uint32_t *)p, __ATOMIC_RELAXED);
    } else if (aligned && size == 4) {
        __atomic_store_n((uint32_t *)p, (uint32_t)e->value, __ATOMIC_RELAXED);
    } else if (aligned && size == 8 && load) {
        e->value = __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED);
    } else if (aligned && size == 8) {
        __atomic_store_n((uint64_t *)p, e->value, __ATOMIC_RELAXED);
    } else if (load) {
        e->value = 0;
        for (unsigned i = 0; i < size; i++)
            e->value |= (uint64_t)p[i] << (8 * i);
    } else {
        for (unsigned i = 0; i < size; i++)
            p[i] = (uint8_t)(e->value >> (8 * i));
    }
}

/* Find and check every element; false with the reason in `why` if the instruction is refused.
 * (The reasons are short: they end a log line that also names the address, PC and ESR.) */
static bool plan(struct vm *vm, const struct vm_exit *exit, const struct regime *s1,
                 const struct ldst *d, uint64_t va, struct element *el, unsigned count,
                 uint32_t insn, char *why, size_t why_len)
{
    bool faulting_seen = false;
    for (unsigned i = 0; i < count; i++) {
        struct element *e = &el[i];
        e->va = va + (uint64_t)i * d->size;
        if (!translate(vm, s1, e->va, d->size, &e->ipa)) {
            fmt_format(why, why_len, "element %u of 0x%08x (va 0x%llx): not mapped for this access",
                       i, insn, (unsigned long long)e->va);
            return false;
        }
        if (!classify(vm, e, d->size)) {
            fmt_format(why, why_len,
                       "element %u of 0x%08x at 0x%llx (va 0x%llx): not RAM nor one device", i,
                       insn, (unsigned long long)e->ipa, (unsigned long long)e->va);
            return false;
        }
        faulting_seen = faulting_seen || exit->addr - e->ipa < d->size;
    }
    if (!faulting_seen) {
        /* The guest's tables no longer say what the hardware saw: emulating would touch
         * something the instruction did not. */
        fmt_format(why, why_len, "0x%08x (va 0x%llx) does not access this address now", insn,
                   (unsigned long long)va);
        return false;
    }
    return true;
}

/* Devices first, in element order, then RAM (which cannot fail). */
static bool perform(struct vm *vm, unsigned vcpu, const struct ldst *d, struct element *el,
                    unsigned count, char *why, size_t why_len)
{
    for (unsigned i = 0; i < count; i++) {
        const struct mmio_region *r = el[i].r;
        enum mmio_result res =
            r ? r->handler(vm, r->ctx, vcpu, el[i].ipa - r->base, d->size, !d->load, &el[i].value)
              : MMIO_OK;
        /* A device that cannot take the access yet is not asked again here: the elements
         * before it have been made, and making them twice may not be harmless. */
        if (res != MMIO_OK) {
            fmt_format(why, why_len,
                       res == MMIO_RETRY ? "%s cannot take element %u yet (only an access with "
                                           "a syndrome is made again)"
                                         : "%s refused element %u",
                       r->name, i);
            return false;
        }
    }
    for (unsigned i = 0; i < count; i++) {
        if (!el[i].r)
            ram_access(vm, &el[i], d->size, d->load);
    }
    return true;
}

static uint64_t load_value(const struct ldst *d, uint64_t raw)
{
    struct data_abort da = {
        .valid = true, .width = d->size, .sign_extend = d->sign_extend, .reg64 = d->dest64
    };
    return data_abort_load_value(&da, raw);
}

bool vm_emulate_no_syndrome(struct vm *vm, const struct vm_exit *exit, char *why, size_t why_len)
{
    struct ldst d;
    struct vcpu_regs regs;
    uint32_t insn = 0;
    if (esr_iss(exit->esr) & ISS_S1PTW) {
        fmt_format(why, why_len, "a stage-1 table walk read an emulated device");
        return false;
    }
    if (!hyp_vcpu_read_regs(exit->vcpu, &regs, VCPU_REGS_ALL)) {
        fmt_format(why, why_len, "cannot read the vCPU registers");
        return false;
    }
    struct regime s1 = {
        .sctlr = hyp_vcpu_read_sysreg(exit->vcpu, VCPU_SCTLR_EL1),
        .tcr = hyp_vcpu_read_sysreg(exit->vcpu, VCPU_TCR_EL1),
        .ttbr0 = hyp_vcpu_read_sysreg(exit->vcpu, VCPU_TTBR0_EL1),
        .ttbr1 = hyp_vcpu_read_sysreg(exit->vcpu, VCPU_TTBR1_EL1),
    };
    if (!fetch_insn(vm, &s1, regs.pc, &insn)) {
        fmt_format(why, why_len, "the instruction is not in RAM: it cannot be emulated");
        return false;
    }
    if (!insn_decode_ldst(insn, &d)) {
        fmt_format(why, why_len, "instruction 0x%08x cannot be emulated", insn);
        return false;
    }
    bool el1h = ((regs.spsr >> 2) & 3) == 1 && (regs.spsr & 1);
    uint64_t sp = el1h ? hyp_vcpu_read_sysreg(exit->vcpu, VCPU_SP_EL1) : regs.sp;
    uint64_t base = d.rn == 31 ? sp : regs.x[d.rn];
    uint64_t va = base;
    if (d.reg_offset)
        va += insn_extend_offset(&d, d.rm == 31 ? 0 : regs.x[d.rm]);
    else if (!d.post_index)
        va += (uint64_t)d.offset;
    s1.access = (d.load ? 0 : S1_WRITE) | (((regs.spsr >> 2) & 3) == 0 ? S1_EL0 : 0) |
                ((regs.spsr & SPSR_PAN) ? S1_PAN : 0);
    struct element el[MAX_ELEMENTS];
    unsigned count = d.pair ? 2 : 1;
    const unsigned rts[MAX_ELEMENTS] = { d.rt, d.pair ? d.rt2 : 31 };
    if (!plan(vm, exit, &s1, &d, va, el, count, insn, why, why_len))
        return false;
    for (unsigned i = 0; i < count; i++)
        el[i].value = d.load || rts[i] == 31 ? 0 : regs.x[rts[i]] & width_mask(d.size);
    if (!perform(vm, exit->vcpu, &d, el, count, why, why_len))
        return false;
    for (unsigned i = 0; d.load && i < count; i++) {
        if (rts[i] != 31)
            regs.x[rts[i]] = load_value(&d, el[i].value & width_mask(d.size));
    }
    if (d.writeback) {
        base += (uint64_t)d.offset;
        if (d.rn != 31)
            regs.x[d.rn] = base;
        else if (el1h)
            hyp_vcpu_write_sysreg(exit->vcpu, VCPU_SP_EL1, base);
        else
            regs.sp = base;
    }
    regs.pc += AARCH64_INSN_SIZE;
    if (!hyp_vcpu_write_regs(exit->vcpu, &regs, VCPU_REGS_ALL)) {
        fmt_format(why, why_len, "cannot write the vCPU registers");
        return false;
    }
    return true;
}
