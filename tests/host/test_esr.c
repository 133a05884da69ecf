/* ESR decoding and load value extension. */
#include <string.h>
#include <vmm/esr.h>

#include "test.h"

TEST(esr_data_abort_fields)
{
    /* LDRSH w3, [x1] on MMIO: ISV, SAS=1 (halfword), SSE, SRT=3, SF=0, read, translation L3. */
    uint64_t esr =
        (uint64_t)0x24 << 26 | 1u << 25 | 1u << 24 | 1u << 22 | 1u << 21 | 3u << 16 | 0x07;
    struct data_abort da;
    esr_decode_data_abort(esr, &da);
    CHECK_EQ(esr_class_of(esr), ESR_EC_DABT_LOW);
    CHECK(da.valid);
    CHECK_EQ(da.width, 2);
    CHECK(da.sign_extend);
    CHECK_EQ(da.rt, 3);
    CHECK(!da.reg64);
    CHECK(!da.write);
    CHECK_EQ(da.dfsc, 0x07);
    CHECK(strcmp(esr_fsc_name(da.dfsc), "translation fault") == 0);
}

TEST(esr_write_64bit)
{
    uint64_t esr = (uint64_t)0x24 << 26 | 1u << 24 | 3u << 22 | 30u << 16 | 1u << 15 | 1u << 6;
    struct data_abort da;
    esr_decode_data_abort(esr, &da);
    CHECK_EQ(da.width, 8);
    CHECK(da.write);
    CHECK(da.reg64);
    CHECK_EQ(da.rt, 30);
}

TEST(esr_invalid_syndrome)
{
    struct data_abort da;
    esr_decode_data_abort((uint64_t)0x24 << 26 | 1u << 6 | 0x06, &da);
    CHECK(!da.valid);
    CHECK(da.write);
}

TEST(esr_load_value_extension)
{
    struct data_abort da = { .valid = true, .width = 1, .sign_extend = true, .reg64 = true };
    CHECK_EQ(data_abort_load_value(&da, 0x80), 0xffffffffffffff80ull);
    da.reg64 = false;
    CHECK_EQ(data_abort_load_value(&da, 0x80), 0xffffff80ull);
    da.sign_extend = false;
    CHECK_EQ(data_abort_load_value(&da, 0x1ff), 0xff);
    da.width = 8;
    da.reg64 = true;
    CHECK_EQ(data_abort_load_value(&da, 0x8000000000000001ull), 0x8000000000000001ull);
    da.width = 4;
    da.sign_extend = true;
    CHECK_EQ(data_abort_load_value(&da, 0x7fffffff), 0x7fffffff);
}

TEST(esr_class_names)
{
    CHECK(strcmp(esr_class_name(ESR_EC_WFX), "WFI/WFE") == 0);
    CHECK(strcmp(esr_class_name(ESR_EC_SMC64), "SMC") == 0);
    CHECK(strcmp(esr_class_name(ESR_EC_DABT_LOW), "data abort (lower EL)") == 0);
    CHECK(strcmp(esr_class_name(0x3f), "reserved/unhandled class") == 0);
}

TEST(esr_sysreg_decode)
{
    /* MRS x2, CNTPCT_EL0: op0=3 op1=3 CRn=14 CRm=0 op2=1, read. */
    uint32_t iss = 3u << 20 | 1u << 17 | 3u << 14 | 14u << 10 | 2u << 5 | 0u << 1 | 1u;
    struct sysreg_access sr;
    esr_decode_sysreg((uint64_t)0x18 << 26 | iss, &sr);
    CHECK_EQ(sr.op0, 3);
    CHECK_EQ(sr.op1, 3);
    CHECK_EQ(sr.crn, 14);
    CHECK_EQ(sr.crm, 0);
    CHECK_EQ(sr.op2, 1);
    CHECK_EQ(sr.rt, 2);
    CHECK(sr.read);
}
