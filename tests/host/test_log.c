/* The freestanding formatter and log line shape. */
#include <string.h>
#include <vmm/log.h>

#include "sim_hyp.h"
#include "test.h"

TEST(log_format_numbers)
{
    char b[64];
    fmt_format(b, sizeof(b), "%d %u %x %08x %llx %s %c %%", -42, 7u, 0xbeefu, 0x12u,
               0x123456789abcull, "str", 'z');
    CHECK(strcmp(b, "-42 7 beef 00000012 123456789abc str z %") == 0);
}

TEST(log_format_truncates_safely)
{
    char b[8];
    size_t n = fmt_format(b, sizeof(b), "%s", "0123456789");
    CHECK_EQ(n, 10);
    CHECK(strcmp(b, "0123456") == 0);
}

TEST(log_line_names_vm_and_subsystem)
{
    log_set_vm_name("linux");
    log_msg(LOG_INFO, "psci", "value %d", 5);
    CHECK(sim_console_has("[vm linux] psci: value 5\n"));
    log_msg(LOG_ERROR, "fault", "bad");
    CHECK(sim_console_has("[vm linux] fault: error: bad\n"));
    log_msg(LOG_DEBUG, "x", "hidden");
    CHECK(!sim_console_has("hidden"));
}

TEST(log_long_line_is_cut_with_newline)
{
    char big[600];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_msg(LOG_INFO, "t", "%s", big);
    CHECK(sim.console_len < 300);
    CHECK(sim.console[sim.console_len - 1] == '\n');
}
