/* Human-readable logging: every line names the VM and the subsystem. */
#ifndef VMM_LOG_H
#define VMM_LOG_H

#include <stdarg.h>
#include <stddef.h>

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

#endif
