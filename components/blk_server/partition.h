/*
 * Finding partition N of a disk: an MBR's primary partitions (1-4), or, behind a protective MBR
 * (type 0xee), a GPT's entries (1..the header's count). Everything read from the disk is
 * checked: the MBR's signature, the GPT header's signature, size, own LBA, usable range and CRC,
 * the entry array's place, size and CRC, the entry's range inside the usable area and the disk.
 * Only the primary GPT is read: a corrupt one is an error, not a reason to trust the backup.
 * Logical partitions inside an extended MBR partition are not supported (said so).
 */
#ifndef BLK_SERVER_PARTITION_H
#define BLK_SERVER_PARTITION_H

#include <stdbool.h>
#include <stdint.h>

/* Reads `lba` (one 512-byte sector) into buf; false on an I/O error. */
typedef bool (*part_read_fn)(void *ctx, uint64_t lba, uint8_t *buf);

enum part_scheme { PART_NONE, PART_MBR, PART_GPT };

struct part_found {
    enum part_scheme scheme;
    uint64_t start, sectors;
};

/* NULL and *out on success; else why not (a constant string). */
const char *part_find(part_read_fn read, void *ctx, uint64_t disk_sectors, unsigned number,
                      struct part_found *out);
/* CRC-32 (IEEE 802.3, as GPT uses it), continuing from `crc` (0 to start). */
uint32_t part_crc32(uint32_t crc, const uint8_t *p, uint64_t n);

#endif
