/* Rate limits for a native PD's own lines (see limit.h). */
#include <lib/limit.h>
#include <lib/text.h>
#include <pd/pd.h>

bool pd_limit_pass(struct pd_limit *l, const char *prefix, const char *what)
{
    uint64_t now = pd_counter_now();
    uint64_t window = (uint64_t)PD_LIMIT_WINDOW_SECONDS * pd_counter_freq();
    if (l->lines == 0 || now - l->window_start >= window) {
        l->window_start = now;
        l->lines = 0;
    }
    if (l->lines >= PD_LIMIT_BURST) {
        l->suppressed++;
        return false;
    }
    l->lines++;
    if (l->suppressed) {
        struct text t = { .len = 0 };
        text_str(&t, prefix);
        text_u64(&t, l->suppressed);
        text_str(&t, " more reports of ");
        text_str(&t, what);
        text_str(&t, " suppressed (at most ");
        text_u64(&t, PD_LIMIT_BURST);
        text_str(&t, " lines every ");
        text_u64(&t, PD_LIMIT_WINDOW_SECONDS);
        text_str(&t, " s)\n");
        pd_puts(text_cstr(&t));
        l->suppressed = 0;
    }
    return true;
}
