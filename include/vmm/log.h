/* Human-readable logging: every line names the VM and the subsystem. */
#ifndef VMM_LOG_H
#define VMM_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Name printed at the start of every line ("linux" in "[vm linux] psci: ..."). */
void log_set_vm_name(const char *name);
void log_set_level(enum log_level level);

/* printf subset: %s %c %d %i %u %x %X %p %%, with l/ll/z length, '0' flag and width. */
void log_msg(enum log_level level, const char *subsys, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

size_t fmt_vformat(char *buf, size_t size, const char *fmt, va_list ap);
size_t fmt_format(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG_ERR(sub, ...) log_msg(LOG_ERROR, sub, __VA_ARGS__)
#define LOG_WARNING(sub, ...) log_msg(LOG_WARN, sub, __VA_ARGS__)
#define LOG_INFO(sub, ...) log_msg(LOG_INFO, sub, __VA_ARGS__)
#define LOG_DBG(sub, ...) log_msg(LOG_DEBUG, sub, __VA_ARGS__)

/*
 * Every line a guest can cause goes through a rate limit, so a guest cannot flood the console:
 * each kind of line has a struct log_limit that lives in the VM (struct vm, or struct vgic for
 * the vGIC's lines) and is reset with it, at init and at every boot, so a fresh boot reports
 * again. A limit passes LOG_LIMIT_BURST lines per LOG_LIMIT_WINDOW_SECONDS, then suppresses;
 * the next line it passes, or its reset, is preceded by one line saying how many were
 * suppressed. Lines that come once per boot (boot, reset, power-off) need none.
 */
#define LOG_LIMIT_BURST 10u
#define LOG_LIMIT_WINDOW_SECONDS 10u

struct log_limit {
    const char *subsys, *what; /* named in the summary line (set by each line) */
    uint64_t window_start;     /* physical counter at the first line of the window */
    unsigned lines;            /* lines passed in this window */
    unsigned suppressed;       /* lines suppressed since the last one passed */
};

/* True if a line of `level` about `what` (e.g. "unknown SMC/HVC calls") may be printed now;
 * says first how many were suppressed before it, if any. */
bool log_limit_pass(struct log_limit *limit, enum log_level level, const char *subsys,
                    const char *what);
/* Say how many lines were suppressed, if any, and start afresh. */
void log_limit_reset(struct log_limit *limit);

#define LOG_LIMITED(limit, what, level, sub, ...)    \
    do {                                             \
        if (log_limit_pass(limit, level, sub, what)) \
            log_msg(level, sub, __VA_ARGS__);        \
    } while (0)

#endif
