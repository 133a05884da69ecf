/* Writing small device tree blobs token by token for tests, independently of src/core/fdt.c:
 * header, an empty reservation map, the structure block, the strings block (dtc's layout). */
#ifndef DTB_BUILD_H
#define DTB_BUILD_H

#include <stddef.h>
#include <stdint.h>

struct dtbb {
    uint8_t *st; /* structure block */
    size_t st_len, st_cap;
    char strings[1024];
    size_t str_len;
};

void dtbb_init(struct dtbb *b);
void dtbb_node(struct dtbb *b, const char *name);
void dtbb_end(struct dtbb *b); /* END_NODE */
void dtbb_prop(struct dtbb *b, const char *name, const void *value, uint32_t len);
void dtbb_prop_str(struct dtbb *b, const char *name, const char *value);
/* Add the END token, write the blob into out (zero-filled up to cap) and free the builder;
 * returns its total size, 0 if it does not fit. */
size_t dtbb_finish(struct dtbb *b, uint8_t *out, size_t cap);

/* The fixture's DTB: / { compatible = "vmm,test"; chosen { bootargs = "test"; }; }. */
size_t dtbb_fixture(uint8_t *out, size_t cap);

/* An independent reader for checking edits: every node and property of the blob as text, one
 * line each ("/chosen bootargs=7465737400"); NULL if the blob does not parse. free() it. */
char *dtb_dump(const uint8_t *blob, size_t cap);

#endif
