/* Driver for the tool tests: applies the VMM's boot-time seed edit (seed_write_chosen, as vm_boot
 * does in guest RAM) to a DTB file, so that python3-libfdt and dtc can check the result.
 * Usage: fdt_edit IN OUT CAPACITY. Seed bytes are fixed: kaslr-seed 0x11..0x18, rng-seed
 * i * 7 + 1. Exit status 2 and the editor's reason on stderr when it refuses. */
#include <stdio.h>
#include <stdlib.h>
#include <vmm/fdt.h>
#include <vmm/seed.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: fdt_edit IN OUT CAPACITY\n");
        return 1;
    }
    size_t cap = strtoul(argv[3], NULL, 0);
    uint8_t *buf = calloc(1, cap ? cap : 1);
    FILE *in = fopen(argv[1], "rb");
    if (!buf || !in) {
        perror(argv[1]);
        return 1;
    }
    size_t got = fread(buf, 1, cap, in);
    fclose(in);
    (void)got;
    uint8_t kaslr[SEED_KASLR_BYTES], rng[SEED_RNG_BYTES];
    for (unsigned i = 0; i < sizeof(kaslr); i++)
        kaslr[i] = (uint8_t)(0x11 + i);
    for (unsigned i = 0; i < sizeof(rng); i++)
        rng[i] = (uint8_t)(i * 7 + 1);
    enum fdt_status st = seed_write_chosen(buf, cap, kaslr, rng);
    if (st != FDT_OK) {
        fprintf(stderr, "fdt_edit: the device tree %s\n", fdt_strerror(st));
        free(buf);
        return 2;
    }
    struct fdt_info info;
    if (fdt_check(buf, cap, &info) != FDT_OK) {
        free(buf);
        return 3;
    }
    FILE *out = fopen(argv[2], "wb");
    if (!out || fwrite(buf, 1, info.total_size, out) != info.total_size || fclose(out)) {
        perror(argv[2]);
        return 1;
    }
    free(buf);
    return 0;
}
