/* Partition tables: MBR primaries and GPT entries found; every field that could lead the server
 * outside the disk or to a wrong range checked; corrupt tables refused, byte by byte. */
#include <blk_server/partition.h>
#include <string.h>

#include "test.h"

#define DISK_SECTORS 4096
static uint8_t disk[DISK_SECTORS][512];
static unsigned reads, fail_lba = ~0u;

static bool rd(void *ctx, uint64_t lba, uint8_t *buf)
{
    (void)ctx;
    reads++;
    if (lba >= DISK_SECTORS || lba == fail_lba)
        return false;
    memcpy(buf, disk[lba], 512);
    return true;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static void mbr_entry(unsigned n, uint8_t type, uint32_t start, uint32_t sectors)
{
    uint8_t *e = disk[0] + 446 + 16 * (n - 1);
    e[4] = type;
    put32(e + 8, start);
    put32(e + 12, sectors);
}

static void make_mbr(void)
{
    memset(disk, 0, sizeof(disk));
    disk[0][510] = 0x55;
    disk[0][511] = 0xaa;
    mbr_entry(1, 0x83, 2048, 1024);
    mbr_entry(2, 0x83, 3072, 1024);
    fail_lba = ~0u;
}

/* A GPT with `count` entries of 128 bytes at LBA 2; entry 1: 100..199, entry 3: 300..2047. */
static void seal_gpt(uint32_t count)
{
    uint8_t *h = disk[1];
    uint32_t bytes = count * 128;
    put32(h + 88, part_crc32(0, disk[2], bytes));
    put32(h + 16, 0);
    put32(h + 16, part_crc32(0, h, 92));
}

static void make_gpt(void)
{
    memset(disk, 0, sizeof(disk));
    disk[0][510] = 0x55;
    disk[0][511] = 0xaa;
    mbr_entry(1, 0xee, 1, DISK_SECTORS - 1);
    uint8_t *h = disk[1];
    memcpy(h, "EFI PART", 8);
    put32(h + 8, 0x00010000);
    put32(h + 12, 92);
    put64(h + 24, 1);
    put64(h + 32, DISK_SECTORS - 1);
    put64(h + 40, 34);
    put64(h + 48, DISK_SECTORS - 34);
    put64(h + 72, 2);
    put32(h + 80, 128);
    put32(h + 84, 128);
    uint8_t *e1 = disk[2], *e3 = disk[2] + 256;
    e1[0] = 0xaf; /* any non-zero type GUID */
    put64(e1 + 32, 100);
    put64(e1 + 40, 199);
    e3[5] = 0x11;
    put64(e3 + 32, 300);
    put64(e3 + 40, 2047);
    seal_gpt(128);
    fail_lba = ~0u;
}

static const char *find(unsigned n, struct part_found *p)
{
    memset(p, 0, sizeof(*p));
    return part_find(rd, NULL, DISK_SECTORS, n, p);
}

TEST(partition_crc32_matches_the_standard_check_value)
{
    CHECK_EQ(part_crc32(0, (const uint8_t *)"123456789", 9), 0xcbf43926u);
    /* Piecewise is the same as all at once. */
    CHECK_EQ(part_crc32(part_crc32(0, (const uint8_t *)"1234", 4), (const uint8_t *)"56789", 5),
             0xcbf43926u);
}

TEST(partition_mbr_primaries)
{
    struct part_found p;
    make_mbr();
    CHECK(find(1, &p) == NULL);
    CHECK_EQ(p.scheme, PART_MBR);
    CHECK_EQ(p.start, 2048);
    CHECK_EQ(p.sectors, 1024);
    CHECK(find(2, &p) == NULL);
    CHECK_EQ(p.start, 3072);
    CHECK(strstr(find(3, &p), "no such partition"));
    CHECK(strstr(find(5, &p), "partitions 1-4 only"));
    CHECK(strstr(find(0, &p), "start at 1"));
}

TEST(partition_mbr_refusals)
{
    struct part_found p;
    make_mbr();
    disk[0][511] = 0;
    CHECK(strstr(find(1, &p), "no MBR signature"));
    make_mbr();
    mbr_entry(2, 0x05, 3072, 1024);
    CHECK(strstr(find(2, &p), "extended"));
    make_mbr();
    mbr_entry(2, 0x83, 3072, 1025); /* one past the end */
    CHECK(strstr(find(2, &p), "beyond the disk"));
    make_mbr();
    mbr_entry(2, 0x83, 0xffffffffu, 0xffffffffu); /* would wrap in 32 bits */
    CHECK(strstr(find(2, &p), "beyond the disk"));
    make_mbr();
    mbr_entry(2, 0x83, 0, 100);
    CHECK(strstr(find(2, &p), "LBA 0"));
    make_mbr();
    mbr_entry(2, 0x83, 100, 0);
    CHECK(strstr(find(2, &p), "empty"));
    make_mbr();
    fail_lba = 0;
    CHECK(strstr(find(1, &p), "cannot read"));
}

TEST(partition_gpt_entries)
{
    struct part_found p;
    make_gpt();
    reads = 0;
    CHECK(find(1, &p) == NULL);
    CHECK_EQ(p.scheme, PART_GPT);
    CHECK_EQ(p.start, 100);
    CHECK_EQ(p.sectors, 100);
    CHECK_EQ(reads, 2 + 32); /* MBR, header, the whole entry array for its CRC */
    CHECK(find(3, &p) == NULL);
    CHECK_EQ(p.start, 300);
    CHECK_EQ(p.sectors, 1748);
    CHECK(strstr(find(2, &p), "unused"));
    CHECK(strstr(find(129, &p), "fewer entries"));
}

TEST(partition_gpt_refusals)
{
    struct part_found p;
    make_gpt();
    disk[1][0] = 'X';
    CHECK(strstr(find(1, &p), "no GPT header"));
    make_gpt();
    disk[1][100] ^= 1; /* outside the 92 bytes the CRC covers: still fine */
    CHECK(find(1, &p) == NULL);
    make_gpt();
    disk[1][30] ^= 1; /* inside */
    CHECK(strstr(find(1, &p), "header's CRC"));
    make_gpt();
    disk[2][40] ^= 1; /* entry 1's last LBA */
    CHECK(strstr(find(1, &p), "entry array CRC"));
    make_gpt();
    put64(disk[2] + 40, DISK_SECTORS - 1); /* beyond the usable range */
    seal_gpt(128);
    CHECK(strstr(find(1, &p), "outside the usable range"));
    make_gpt();
    put64(disk[2] + 32, 200);
    put64(disk[2] + 40, 199); /* last before first */
    seal_gpt(128);
    CHECK(strstr(find(1, &p), "empty"));
    make_gpt();
    put64(disk[1] + 48, DISK_SECTORS); /* usable range beyond the disk */
    seal_gpt(128);
    CHECK(strstr(find(1, &p), "usable range"));
    make_gpt();
    put64(disk[1] + 24, 2);
    seal_gpt(128);
    CHECK(strstr(find(1, &p), "not at LBA 1"));
    make_gpt();
    put32(disk[1] + 84, 100);
    seal_gpt(128);
    CHECK(strstr(find(1, &p), "entry size"));
    make_gpt();
    put32(disk[1] + 80, 100000);
    seal_gpt(128);
    CHECK(strstr(find(1, &p), "entry count"));
    make_gpt();
    put64(disk[1] + 72, 40); /* the array inside the usable range */
    seal_gpt(128);
    CHECK(strstr(find(1, &p), "entry array is not"));
    make_gpt();
    put64(disk[1] + 72, UINT64_MAX - 3); /* wraps */
    seal_gpt(128);
    CHECK(strstr(find(1, &p), "entry array is not"));
    make_gpt();
    put32(disk[1] + 12, 600);
    CHECK(strstr(find(1, &p), "header's size"));
    make_gpt();
    fail_lba = 20;
    CHECK(strstr(find(1, &p), "cannot read the GPT's entry array"));
}

TEST(partition_tables_corrupted_byte_by_byte)
{
    /* Every single-byte change of the MBR or the GPT header either is refused or still gives a
     * range inside the disk (never one outside it). */
    static const struct {
        void (*make)(void);
        unsigned lba, bytes;
    } tables[] = { { make_mbr, 0, 512 }, { make_gpt, 0, 512 }, { make_gpt, 1, 92 } };
    for (unsigned t = 0; t < 3; t++) {
        for (unsigned b = 0; b < tables[t].bytes; b++) {
            for (unsigned x = 1; x < 256; x <<= 1) {
                tables[t].make();
                disk[tables[t].lba][b] ^= (uint8_t)x;
                for (unsigned n = 1; n <= 4; n++) {
                    struct part_found p;
                    if (find(n, &p) == NULL) {
                        CHECK(p.sectors > 0);
                        CHECK(p.start < DISK_SECTORS);
                        CHECK(p.sectors <= DISK_SECTORS - p.start);
                    }
                }
            }
        }
    }
}
