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
    CHECK(sim_console_lacks("hidden"));
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

/* The simulated console keeps the newest output; once some was lost, an absence check cannot
 * pass (it fails loudly), nor can a count come out low. */
TEST(sim_console_keeps_newest_and_absence_fails_after_loss)
{
    char filler[120];
    memset(filler, 'f', sizeof(filler) - 1);
    filler[sizeof(filler) - 1] = '\0';
    log_set_vm_name("t");
    log_msg(LOG_INFO, "x", "oldest line");
    CHECK(sim_console_lacks("never printed"));
    for (unsigned i = 0; i < 2 * SIM_CONSOLE_SIZE / 100; i++)
        log_msg(LOG_INFO, "x", "%s", filler);
    log_msg(LOG_INFO, "x", "newest line");
    CHECK(sim.console_lost > 0);
    CHECK(sim_console_has("newest line"));
    CHECK(!sim_console_has("oldest line"));
    CHECK(strncmp(sim.console, "[vm t] x: ", 10) == 0); /* whole lines were dropped */
    CHECK(!sim_console_lacks("never printed"));
    CHECK_EQ(sim_console_count("newest line"), SIM_LOST);
    /* A single write larger than the whole buffer keeps its end. */
    static char huge[SIM_CONSOLE_SIZE + 100];
    memset(huge, 'h', sizeof(huge) - 2);
    huge[sizeof(huge) - 2] = '!';
    huge[sizeof(huge) - 1] = '\0';
    hyp_puts(huge);
    CHECK_EQ(sim.console_len, SIM_CONSOLE_SIZE - 1);
    CHECK(sim.console[sim.console_len - 1] == '!');
    CHECK(!sim_console_has("newest line"));
}
