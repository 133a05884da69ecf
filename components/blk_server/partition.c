/* MBR and GPT partition tables (see partition.h). */
#include "partition.h"

#include <stddef.h>

#define SECTOR 512u
#define GPT_MAX_ENTRIES 1024u

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

uint32_t part_crc32(uint32_t crc, const uint8_t *p, uint64_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (unsigned k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
    }
    return ~crc;
}

static bool in_disk(uint64_t start, uint64_t sectors, uint64_t disk)
{
    return sectors && start < disk && sectors <= disk - start;
}

static const char *gpt_find(part_read_fn read, void *ctx, uint64_t disk, unsigned number,
                            struct part_found *out)
{
    uint8_t h[SECTOR], s[SECTOR];
    if (!read(ctx, 1, h))
        return "cannot read the GPT header (LBA 1)";
    static const uint8_t sig[8] = { 'E', 'F', 'I', ' ', 'P', 'A', 'R', 'T' };
    for (unsigned i = 0; i < 8; i++) {
        if (h[i] != sig[i])
            return "the protective MBR has no GPT header behind it (no \"EFI PART\" at LBA 1)";
    }
    uint32_t hsize = le32(h + 12);
    if (hsize < 92 || hsize > SECTOR)
        return "the GPT header's size is not 92..512";
    uint32_t crc = le32(h + 16);
    h[16] = h[17] = h[18] = h[19] = 0;
    if (part_crc32(0, h, hsize) != crc)
        return "the GPT header's CRC does not match";
    uint64_t my_lba = le64(h + 24), first = le64(h + 40), last = le64(h + 48);
    uint64_t entries_lba = le64(h + 72);
    uint32_t count = le32(h + 80), esize = le32(h + 84), ecrc = le32(h + 88);
    if (my_lba != 1)
        return "the GPT header says it is not at LBA 1";
    if (first > last || last >= disk)
        return "the GPT's usable range is empty or beyond the disk";
    if (esize < 128 || esize > SECTOR || (esize & (esize - 1)))
        return "the GPT's entry size is not 128, 256 or 512";
    if (count == 0 || count > GPT_MAX_ENTRIES)
        return "the GPT's entry count is 0 or above 1024";
    uint64_t bytes = (uint64_t)count * esize, array_sectors = (bytes + SECTOR - 1) / SECTOR;
    if (entries_lba < 2 || !in_disk(entries_lba, array_sectors, disk) ||
        (entries_lba <= last && entries_lba + array_sectors > first))
        return "the GPT's entry array is not between the header and the usable range";
    if (number > count)
        return "the GPT has fewer entries than that partition number";
    /* The array's CRC covers every entry: read it all, keep the one asked for. */
    uint64_t want = (uint64_t)(number - 1) * esize;
    uint8_t entry[128];
    uint32_t acc = 0;
    for (uint64_t k = 0; k < array_sectors; k++) {
        if (!read(ctx, entries_lba + k, s))
            return "cannot read the GPT's entry array";
        uint64_t at = k * SECTOR, n = bytes - at < SECTOR ? bytes - at : SECTOR;
        acc = part_crc32(acc, s, n);
        if (want >= at && want < at + n) /* entries never straddle sectors (esize | 512) */
            for (unsigned i = 0; i < 128; i++)
                entry[i] = s[want - at + i];
    }
    if (acc != ecrc)
        return "the GPT's entry array CRC does not match";
    bool used = false;
    for (unsigned i = 0; i < 16; i++)
        used |= entry[i] != 0;
    if (!used)
        return "that GPT entry is unused";
    uint64_t pfirst = le64(entry + 32), plast = le64(entry + 40);
    if (pfirst > plast || pfirst < first || plast > last)
        return "that GPT entry's range is empty or outside the usable range";
    out->scheme = PART_GPT;
    out->start = pfirst;
    out->sectors = plast - pfirst + 1;
    return NULL;
}

const char *part_find(part_read_fn read, void *ctx, uint64_t disk, unsigned number,
                      struct part_found *out)
{
    uint8_t mbr[SECTOR];
    if (number == 0)
        return "partition numbers start at 1";
    if (!read(ctx, 0, mbr))
        return "cannot read the partition table (LBA 0)";
    if (mbr[510] != 0x55 || mbr[511] != 0xaa)
        return "the disk has no partition table (no MBR signature)";
    bool protective = false;
    for (unsigned i = 0; i < 4; i++)
        protective |= mbr[446 + 16 * i + 4] == 0xee;
    if (protective)
        return gpt_find(read, ctx, disk, number, out);
    if (number > 4)
        return "an MBR has partitions 1-4 only (logical partitions are not supported)";
    const uint8_t *e = mbr + 446 + 16 * (number - 1);
    uint8_t type = e[4];
    if (type == 0)
        return "the MBR has no such partition (its entry is empty)";
    if (type == 0x05 || type == 0x0f || type == 0x85)
        return "that MBR partition is an extended one (logical partitions are not supported)";
    uint64_t start = le32(e + 8), sectors = le32(e + 12);
    if (start == 0 || !in_disk(start, sectors, disk))
        return "that MBR partition is empty, starts at LBA 0, or reaches beyond the disk";
    out->scheme = PART_MBR;
    out->start = start;
    out->sectors = sectors;
    return NULL;
}
