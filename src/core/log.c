/* A small printf for log lines: "[vm <name>] <subsystem>: <message>". */
#include <stdbool.h>
#include <stdint.h>
#include <vmm/hyp.h>
#include <vmm/log.h>

static const char *vm_name = "?";
static enum log_level max_level = LOG_INFO;

void log_set_vm_name(const char *name)
{
    vm_name = name;
}
void log_set_level(enum log_level level)
{
    max_level = level;
}

struct out {
    char *buf;
    size_t size;
    size_t len;
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void put_num(struct out *o, uint64_t v, unsigned base, bool upper, bool neg, unsigned width,
                    char pad)
{
    char tmp[24];
    unsigned n = 0;
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    if (neg)
        tmp[n++] = '-';
    while (width > n) {
        put(o, pad);
        width--;
    }
    while (n)
        put(o, tmp[--n]);
}

size_t fmt_vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { buf, size, 0 };
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        unsigned width = 0, longs = 0;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (unsigned)(*fmt++ - '0');
        while (*fmt == 'l' || *fmt == 'z') {
            longs += *fmt == 'z' ? 2 : 1;
            fmt++;
        }
        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t v = longs ? va_arg(ap, long long) : va_arg(ap, int);
            uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            put_num(&o, mag, 10, false, v < 0, width, pad);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = longs ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
            put_num(&o, v, *fmt == 'u' ? 10 : 16, *fmt == 'X', false, width, pad);
            break;
        }
        case 'p':
            put(&o, '0');
            put(&o, 'x');
            put_num(&o, (uintptr_t)va_arg(ap, void *), 16, false, false, width, pad);
            break;
        case 'c': put(&o, (char)va_arg(ap, int)); break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            while (*s)
                put(&o, *s++);
            break;
        }
        case '%': put(&o, '%'); break;
        case '\0': fmt--; break;
        default:
            put(&o, '%');
            put(&o, *fmt);
            break;
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return o.len;
}

size_t fmt_format(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = fmt_vformat(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

void log_msg(enum log_level level, const char *subsys, const char *fmt, ...)
{
    static const char *const tags[] = { "error: ", "warning: ", "", "" };
    char line[256];
    if (level > max_level)
        return;
    size_t n = fmt_format(line, sizeof(line), "[vm %s] %s: %s", vm_name, subsys, tags[level]);
    if (n < sizeof(line)) {
        va_list ap;
        va_start(ap, fmt);
        n += fmt_vformat(line + n, sizeof(line) - n, fmt, ap);
        va_end(ap);
    }
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n] = '\n';
    line[n + 1] = '\0';
    hyp_puts(line);
}

static void say_suppressed(struct log_limit *l)
{
    if (!l->suppressed)
        return;
    log_msg(LOG_WARN, l->subsys, "%u more %s suppressed (at most %u lines every %u s)",
            l->suppressed, l->what, LOG_LIMIT_BURST, LOG_LIMIT_WINDOW_SECONDS);
    l->suppressed = 0;
}

bool log_limit_pass(struct log_limit *l, enum log_level level, const char *subsys, const char *what)
{
    if (level > max_level)
        return false;
    l->subsys = subsys;
    l->what = what;
    uint64_t now = hyp_counter_now();
    uint64_t window = (uint64_t)LOG_LIMIT_WINDOW_SECONDS * hyp_counter_freq();
    if (l->lines && now - l->window_start >= window)
        l->lines = 0; /* the window is over */
    if (l->lines >= LOG_LIMIT_BURST) {
        l->suppressed++;
        return false;
    }
    if (!l->lines)
        l->window_start = now;
    l->lines++;
    say_suppressed(l);
    return true;
}

void log_limit_reset(struct log_limit *l)
{
    say_suppressed(l);
    l->lines = 0;
    l->window_start = 0;
}
