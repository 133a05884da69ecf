/*
 * A rate limit for the lines a native PD prints about what its peers do (a port sending with a
 * forged address, a client handing over bad ring entries): a peer must not be able to flood the
 * console. Each kind of line has its own struct pd_limit; it passes PD_LIMIT_BURST lines every
 * PD_LIMIT_WINDOW_SECONDS of the physical counter, then suppresses, and the next line it passes
 * is preceded by one saying how many were suppressed.
 */
#ifndef LIB_LIMIT_H
#define LIB_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define PD_LIMIT_BURST 10u
#define PD_LIMIT_WINDOW_SECONDS 10u

struct pd_limit {
    uint64_t window_start; /* counter value at the first line of the window */
    unsigned lines;        /* lines passed in the window */
    uint64_t suppressed;   /* lines suppressed since the last one passed */
};

/* True if a line about `what` may be printed now. `prefix` starts the summary line
 * ("vswitch lan: "), which says how many lines about `what` were suppressed before this one. */
bool pd_limit_pass(struct pd_limit *l, const char *prefix, const char *what);

#endif
