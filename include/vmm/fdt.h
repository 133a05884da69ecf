/*
 * A small editor for flattened device tree blobs (version 17) that the VMM does not trust: a
 * user's DTB may be anything dtc compiles. Every offset and length read from the blob is checked
 * against it before use; edits move the structure and strings blocks in place inside the
 * caller's buffer and never write at or past `capacity`. Each call checks the whole blob first
 * and either makes its edit completely or leaves the blob as it was.
 *
 * Nodes are named by absolute path ("/", "/chosen", "/soc/serial"); a path component without a
 * unit address matches a node with one ("serial" matches "serial@9000000"), as libfdt does.
 * Edits need the blocks in the order dtc and libfdt write them: header, memory reservations,
 * structure, strings.
 */
#ifndef VMM_FDT_H
#define VMM_FDT_H

#include <stddef.h>
#include <stdint.h>

#define FDT_MAGIC 0xd00dfeedu
#define FDT_HEADER_SIZE 40u

enum fdt_status {
    FDT_OK = 0,
    FDT_ERR_TRUNCATED, /* the header, or a block it names, lies outside the blob */
    FDT_ERR_MAGIC,
    FDT_ERR_VERSION,   /* not readable as version 17 */
    FDT_ERR_LAYOUT,    /* blocks misaligned, overlapping or in an order the editor cannot edit */
    FDT_ERR_STRUCTURE, /* a bad token, name, property or nesting in the structure block */
    FDT_ERR_NOT_FOUND,
    FDT_ERR_EXISTS,
    FDT_ERR_NO_SPACE, /* the edit would not fit in the capacity given */
    FDT_ERR_BAD_NAME, /* a path or name from the caller that no node or property can have */
};

/* A short phrase for log lines ("structure block is malformed"). */
const char *fdt_strerror(enum fdt_status status);

struct fdt_info {
    uint32_t total_size; /* the header's totalsize */
    uint32_t used_end;   /* end of the last block (the strings): what an edit moves or grows */
};

/* Check the whole blob (header, reservations, every token of the structure block). `info` may be
 * NULL. */
enum fdt_status fdt_check(const uint8_t *blob, size_t capacity, struct fdt_info *info);

/* FDT_OK if the node exists, FDT_ERR_NOT_FOUND if not. */
enum fdt_status fdt_find_node(const uint8_t *blob, size_t capacity, const char *path);

/* Point *value at a property's bytes inside the blob and set *len. */
enum fdt_status fdt_get_prop(const uint8_t *blob, size_t capacity, const char *path,
                             const char *name, const uint8_t **value, uint32_t *len);

/* Replace a property's value (its size may change) or add the property to the node. `value`
 * must not point into the blob. */
enum fdt_status fdt_set_prop(uint8_t *blob, size_t capacity, const char *path, const char *name,
                             const void *value, uint32_t len);

/* Add an empty node `name` as the last child of `parent`. */
enum fdt_status fdt_add_node(uint8_t *blob, size_t capacity, const char *parent, const char *name);

#endif
