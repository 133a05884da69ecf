/* The serial multiplexer: lines and prefixes, clients' output interleaved, the rules for
 * unfinished lines, and switching the input with Ctrl-\. */
#include <stdio.h>
#include <string.h>

#include "mux_fixture.h"
#include "sim_pd.h"
#include "test.h"

/* Two clients using the client API, the mux started, its start-up lines read. */
static void two_clients(void)
{
    mfx_setup(2, true);
    mfx_use_api(0);
    mfx_use_api(1);
    mfx_start();
    mfx_wire_since();
}

TEST(mux_says_who_has_the_input_at_start)
{
    mfx_setup(2, true);
    mfx_start();
    CHECK(strcmp(mfx_wire(),
                 "[mux] serial multiplexer on pl011: 2 clients; input -> linux1 (1)\r\n"
                 "[mux] 1 linux1 <- input\r\n"
                 "[mux] 2 linux2\r\n"
                 "[mux] Ctrl-\\ then 1-2 gives that client the input; Ctrl-\\ ? counters; "
                 "Ctrl-\\ Ctrl-\\ sends Ctrl-\\\r\n") == 0);
    CHECK_EQ(mfx.uart.violations, 0);
}

TEST(mux_first_input_comes_from_the_configuration)
{
    mfx_setup(3, true);
    mfx.cfg.first_input = 2;
    mfx_start();
    CHECK(strstr(mfx_wire(), "; input -> linux3 (3)\r\n") != NULL);
    CHECK(strstr(mfx_wire(), "[mux] 3 linux3 <- input\r\n") != NULL);
    CHECK_EQ(mfx.mux.focus, 2);
}

TEST(mux_prefixes_each_line_with_its_clients_name)
{
    two_clients();
    mfx_put(0, "hello\n");
    mfx_put(1, "world\nsecond line\n");
    CHECK(strcmp(mfx_wire_since(),
                 "[linux1] hello\r\n[linux2] world\r\n[linux2] second line\r\n") == 0);
    CHECK_EQ(mfx.mux.client[0].count.out_bytes, 6);
    CHECK_EQ(mfx.mux.client[1].count.out_bytes, 18);
}

TEST(mux_drops_carriage_returns_and_ends_lines_with_crlf)
{
    two_clients();
    mfx_put(1, "a\r\nb\r\r\n\r\n");
    CHECK(strcmp(mfx_wire_since(), "[linux2] a\r\n[linux2] b\r\n[linux2] \r\n") == 0);
}

TEST(mux_keeps_a_line_until_it_ends_when_the_client_has_no_input)
{
    two_clients();
    mfx_put(1, "abc");
    CHECK(strcmp(mfx_wire_since(), "") == 0);
    mfx_put(0, "line1\n");
    CHECK(strcmp(mfx_wire_since(), "[linux1] line1\r\n") == 0);
    mfx_put(1, "def\n");
    CHECK(strcmp(mfx_wire_since(), "[linux2] abcdef\r\n") == 0);
}

TEST(mux_a_line_in_pieces_across_entries_is_one_line)
{
    two_clients();
    mfx_put(1, "one ");
    mfx_put(1, "two ");
    mfx_put(1, "three\nfour");
    CHECK(strcmp(mfx_wire_since(), "[linux2] one two three\r\n") == 0);
    CHECK_EQ(mfx.mux.client[1].line_len, 4);
}

TEST(mux_shows_the_prompt_of_the_client_with_the_input)
{
    two_clients();
    mfx_put(0, "guest# ");
    CHECK(strcmp(mfx_wire_since(), "[linux1] guest# ") == 0);
    /* Its echo continues the line, without a second prefix. */
    mfx_put(0, "l");
    mfx_put(0, "s");
    CHECK(strcmp(mfx_wire_since(), "ls") == 0);
    /* Another client's line starts on a new line; the prompt comes back after it. */
    mfx_put(1, "boot message\n");
    CHECK(strcmp(mfx_wire_since(), "\r\n[linux2] boot message\r\n[linux1] guest# ls") == 0);
    mfx_put(0, "\nfile\n");
    CHECK(strcmp(mfx_wire_since(), "\r\n[linux1] file\r\n") == 0);
}

TEST(mux_prints_an_unfinished_line_when_the_input_moves_to_its_client)
{
    two_clients();
    mfx_put(1, "login: ");
    CHECK(strcmp(mfx_wire_since(), "") == 0);
    mfx_type("\x1c"
             "2");
    CHECK(strcmp(mfx_wire_since(), "[mux] input -> linux2 (2)\r\n[linux2] login: ") == 0);
    /* And back: linux1 has nothing unfinished; linux2's line stays open until it ends. */
    mfx_type("\x1c"
             "1");
    CHECK(strcmp(mfx_wire_since(), "\r\n[mux] input -> linux1 (1)\r\n") == 0);
    mfx_put(1, "root\n");
    CHECK(strcmp(mfx_wire_since(), "[linux2] login: root\r\n") == 0);
}

TEST(mux_the_input_moves_while_the_client_is_still_printing)
{
    /* linux2 has more queued than the UART took: its unfinished line is shown at the switch
     * anyway, not only once it has drained. */
    mfx_setup(2, false);
    mfx_use_api(0);
    mfx_use_api(1);
    mfx_start();
    for (unsigned i = 0; i < 300 && mfx.uart.tx_count; i++) {
        sim_pl011_drain(&mfx.uart, 16);
        mfx_pump();
    }
    mfx_wire_since();
    mfx_put(1, "part");
    mfx_type("\x1c"
             "2");
    for (unsigned i = 0; i < 50; i++) {
        sim_pl011_drain(&mfx.uart, 16);
        mfx_pump();
    }
    CHECK(strcmp(mfx_wire_since(), "[mux] input -> linux2 (2)\r\n[linux2] part") == 0);
}

TEST(mux_a_full_line_buffer_is_printed_and_the_line_continues)
{
    two_clients();
    char longline[MUX_LINE_MAX + 45];
    memset(longline, 'x', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = '\0';
    mfx_put(1, longline);
    const char *w = mfx_wire_since();
    CHECK_EQ(strlen(w), 9 + MUX_LINE_MAX);
    CHECK(strncmp(w, "[linux2] xxx", 12) == 0);
    CHECK_EQ(mfx.mux.client[1].count.long_lines, 1);
    /* Another client's line: the long one is broken off; its rest comes with its prefix. */
    mfx_put(0, "short\n");
    CHECK(strcmp(mfx_wire_since(), "\r\n[linux1] short\r\n") == 0);
    mfx_put(1, "yy\n");
    w = mfx_wire_since();
    CHECK_EQ(strlen(w), 9 + 44 + 2 + 2);
    CHECK(strncmp(w, "[linux2] xxxx", 13) == 0);
    CHECK(strcmp(w + 9 + 44, "yy\r\n") == 0);
}

TEST(mux_a_full_line_buffer_continues_without_a_prefix_when_nothing_came_between)
{
    two_clients();
    char buf[2 * MUX_LINE_MAX + 2];
    memset(buf, 'q', 2 * MUX_LINE_MAX);
    buf[2 * MUX_LINE_MAX] = '\n';
    buf[2 * MUX_LINE_MAX + 1] = '\0';
    mfx_put(1, buf);
    const char *w = mfx_wire_since();
    CHECK_EQ(strlen(w), 9 + 2 * MUX_LINE_MAX + 2);
    CHECK_EQ(mfx_wire_count("[linux2]"), 1);
    CHECK_EQ(mfx.mux.client[1].count.long_lines, 1);
}

TEST(mux_lines_of_three_clients_never_mix)
{
    mfx_setup(3, true);
    for (unsigned i = 0; i < 3; i++)
        mfx_use_api(i);
    mfx_start();
    mfx_wire_since();
    /* Each client queues its lines in two pieces, taking turns. Whatever the order, every line
     * on the UART holds one client's words only, and each client's finished lines come whole
     * and in order. linux1 has the input, so its unfinished line is also shown (then broken off
     * by the others' lines and shown again). */
    for (unsigned round = 0; round < 20; round++) {
        for (unsigned i = 0; i < 3; i++) {
            char piece[32];
            snprintf(piece, sizeof(piece), "c%u-%u%s", i + 1, round, round % 2 ? "\n" : " ");
            serial_client_puts(&mfx.c[i].api, piece);
        }
        mfx_pump();
    }
    const char *w = mfx_wire_since();
    unsigned whole[3] = { 0, 0, 0 };
    for (const char *p = w; *p;) {
        const char *end = strstr(p, "\r\n");
        CHECK(end != NULL);
        unsigned who = 0;
        CHECK(sscanf(p, "[linux%u] ", &who) == 1 && who >= 1 && who <= 3);
        char line[64];
        CHECK(end - p - 9 < (long)sizeof(line));
        memcpy(line, p + 9, (size_t)(end - p - 9));
        line[end - p - 9] = '\0';
        unsigned a, b, x, y;
        char expect[64];
        if (sscanf(line, "c%u-%u c%u-%u", &a, &x, &b, &y) == 4) {
            snprintf(expect, sizeof(expect), "c%u-%u c%u-%u", who, 2 * whole[who - 1], who,
                     2 * whole[who - 1] + 1);
            CHECK(strcmp(line, expect) == 0);
            whole[who - 1]++;
        } else {
            /* The first half of linux1's line, shown while it had the input. */
            CHECK_EQ(who, 1);
            snprintf(expect, sizeof(expect), "c1-%u ", 2 * whole[0]);
            CHECK(strcmp(line, expect) == 0);
        }
        p = end + 2;
    }
    CHECK(whole[0] == 10 && whole[1] == 10 && whole[2] == 10);
}

TEST(mux_switches_the_input_with_ctrl_backslash_and_a_number)
{
    two_clients();
    char got[64];
    mfx_type("ab");
    CHECK_EQ(mfx_get(0, got, sizeof(got)), 2);
    CHECK(strcmp(got, "ab") == 0);
    CHECK_EQ(mfx_get(1, got, sizeof(got)), 0);
    mfx_type("\x1c"
             "2cd");
    CHECK_EQ(mfx_get(1, got, sizeof(got)), 2);
    CHECK(strcmp(got, "cd") == 0);
    CHECK_EQ(mfx_get(0, got, sizeof(got)), 0);
    CHECK(strcmp(mfx_wire_since(), "[mux] input -> linux2 (2)\r\n") == 0);
    /* Switching to the client that has it already says so again. */
    mfx_type("\x1c"
             "2");
    CHECK(strcmp(mfx_wire_since(), "[mux] input -> linux2 (2)\r\n") == 0);
    mfx_type("\x1c"
             "1e");
    CHECK_EQ(mfx_get(0, got, sizeof(got)), 1);
    CHECK(strcmp(got, "e") == 0);
    CHECK_EQ(mfx.mux.client[0].count.in_bytes, 3);
    CHECK_EQ(mfx.mux.client[1].count.in_bytes, 2);
}

TEST(mux_bytes_before_and_after_a_switch_in_one_read_go_to_their_clients)
{
    two_clients();
    char got[64];
    /* All in the FIFO before the mux reads any of it. */
    const char *keys = "12\x1c"
                       "234\x1c"
                       "15";
    for (const char *k = keys; *k; k++)
        sim_pl011_receive(&mfx.uart, (uint8_t)*k, 0);
    sim_pl011_rx_idle(&mfx.uart);
    mfx_pump();
    CHECK_EQ(mfx_get(0, got, sizeof(got)), 3);
    CHECK(strcmp(got, "125") == 0);
    CHECK_EQ(mfx_get(1, got, sizeof(got)), 2);
    CHECK(strcmp(got, "34") == 0);
}

TEST(mux_ctrl_backslash_twice_sends_one)
{
    two_clients();
    char got[64];
    mfx_type("a\x1c\x1c"
             "b");
    CHECK_EQ(mfx_get(0, got, sizeof(got)), 3);
    CHECK(strcmp(got, "a\x1c"
                      "b") == 0);
    CHECK_EQ(mfx.mux.focus, 0);
    CHECK(strcmp(mfx_wire_since(), "") == 0);
}

TEST(mux_an_escape_split_across_reads_still_switches)
{
    two_clients();
    char got[64];
    mfx_type("x\x1c");
    CHECK(mfx.mux.escape);
    CHECK_EQ(mfx_get(0, got, sizeof(got)), 1);
    mfx_type("2y");
    CHECK_EQ(mfx.mux.focus, 1);
    CHECK_EQ(mfx_get(1, got, sizeof(got)), 1);
    CHECK(strcmp(got, "y") == 0);
}

TEST(mux_an_unknown_number_lists_the_clients)
{
    two_clients();
    char got[64];
    mfx_type("\x1c"
             "7");
    CHECK(strcmp(mfx_wire_since(),
                 "[mux] no client 7; the clients are:\r\n"
                 "[mux] 1 linux1 <- input\r\n"
                 "[mux] 2 linux2\r\n"
                 "[mux] Ctrl-\\ then 1-2 gives that client the input; Ctrl-\\ ? counters; "
                 "Ctrl-\\ Ctrl-\\ sends Ctrl-\\\r\n") == 0);
    CHECK_EQ(mfx.mux.focus, 0);
    mfx_type("\x1c"
             "0\x1c"
             "x\x1c\x01");
    const char *w = mfx_wire_since();
    CHECK(strstr(w, "[mux] no client 0; the clients are:\r\n") != NULL);
    CHECK(strstr(w, "[mux] unknown command 'x' (0x78); the clients are:\r\n") != NULL);
    CHECK(strstr(w, "[mux] unknown command (0x1); the clients are:\r\n") != NULL);
    /* None of it reached a client. */
    CHECK_EQ(mfx_get(0, got, sizeof(got)), 0);
    CHECK_EQ(mfx_get(1, got, sizeof(got)), 0);
    CHECK_EQ(mfx.mux.focus, 0);
}

TEST(mux_a_mux_line_breaks_into_an_open_line_and_the_prompt_comes_back)
{
    two_clients();
    mfx_put(0, "$ ");
    mfx_type("\x1c"
             "9");
    const char *w = mfx_wire_since();
    CHECK(strncmp(w, "[linux1] $ \r\n[mux] no client 9;", 31) == 0);
    /* The prompt of the client with the input is shown again at the end. */
    size_t n = strlen(w);
    CHECK(n > 12 && strcmp(w + n - 13, "\r\n[linux1] $ ") == 0);
}

TEST(mux_counters_on_request)
{
    two_clients();
    mfx_put(0, "12345\n");
    CHECK(strcmp(mfx_wire_since(), "[linux1] 12345\r\n") == 0);
    mfx_type("abc\x1c"
             "?");
    CHECK(strcmp(mfx_wire_since(),
                 "[mux] linux1 (1): out 6 bytes (long lines cut 0), in 3 bytes, in dropped 0, "
                 "bad entries 0\r\n"
                 "[mux] linux2 (2): out 0 bytes (long lines cut 0), in 0 bytes, in dropped 0, "
                 "bad entries 0\r\n"
                 "[mux] uart: receive errors: framing 0, parity 0, break 0, overrun 0; mux lines "
                 "dropped 0\r\n") == 0);
}

TEST(mux_uart_receive_errors_are_dropped_and_counted)
{
    two_clients();
    char got[64];
    sim_pl011_receive(&mfx.uart, 'o', 0);
    sim_pl011_receive(&mfx.uart, 'X', PL011_DR_FE);
    sim_pl011_receive(&mfx.uart, 'Y', PL011_DR_PE);
    sim_pl011_receive(&mfx.uart, 'k', 0);
    sim_pl011_rx_idle(&mfx.uart);
    mfx_pump();
    CHECK_EQ(mfx_get(0, got, sizeof(got)), 2);
    CHECK(strcmp(got, "ok") == 0);
    mfx_type("\x1c?");
    CHECK(strstr(mfx_wire_since(), "receive errors: framing 1, parity 1, break 0, overrun 0") !=
          NULL);
}

TEST(mux_acknowledges_every_uart_interrupt)
{
    two_clients();
    unsigned before = sim_pd.irq_acks[MFX_IRQ_CH];
    mfx_type("hello");
    /* mfx_pump traps if an interrupt was not acknowledged; and there was at least one. */
    CHECK(sim_pd.irq_acks[MFX_IRQ_CH] > before);
    CHECK(!sim_pl011_irq(&mfx.uart));
}
