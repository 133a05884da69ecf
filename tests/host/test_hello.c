/* The example client PD (components/hello) served by the multiplexer: its greeting and prompt,
 * its echo, input switched between two of them, its flood and its deafness. */
#include <hello/hello.h>
#include <stdio.h>
#include <string.h>

#include "mux_fixture.h"
#include "sim_pd.h"
#include "test.h"

static struct hello hellos[2];

static void hello_on_notify(unsigned i)
{
    hello_notified(&hellos[i], MFX_CLIENT_CH(i));
}

static void two_hellos(bool instant)
{
    mfx_setup(2, instant);
    static const char *const names[] = { "hello1", "hello2" };
    for (unsigned i = 0; i < 2; i++) {
        hello_init(&hellos[i], &mfx.c[i].client_view, names[i]);
        mfx.c[i].on_notify = hello_on_notify;
    }
    mfx_start();
}

TEST(hello_greets_and_only_the_client_with_the_input_shows_its_prompt)
{
    two_hellos(true);
    const char *w = mfx_wire_since();
    CHECK(strstr(w, "[linux1] hello1: hello! I echo what you type; 'flood N' prints N lines, "
                    "'deaf' stops my reading\r\n") != NULL);
    CHECK(strstr(w, "[linux2] hello2: hello!") != NULL);
    CHECK(strstr(w, "[linux1] hello1> ") != NULL);
    CHECK(strstr(w, "hello2> ") == NULL);
    mfx_type("\x1c"
             "2");
    CHECK(strcmp(mfx_wire_since(), "\r\n[mux] input -> linux2 (2)\r\n[linux2] hello2> ") == 0);
}

TEST(hello_echoes_what_the_input_switch_sends_it)
{
    two_hellos(true);
    mfx_wire_since();
    mfx_type("abc\r");
    CHECK(strcmp(mfx_wire_since(), "abc\r\n[linux1] hello1 got \"abc\"\r\n[linux1] hello1> ") == 0);
    mfx_type("\x1c"
             "2xyz\r");
    const char *w = mfx_wire_since();
    CHECK(strstr(w, "[linux2] hello2> xyz\r\n[linux2] hello2 got \"xyz\"\r\n") != NULL);
    CHECK(strstr(w, "hello1 got") == NULL);
    CHECK_EQ(hellos[0].line_len, 0);
    CHECK_EQ(hellos[1].line_len, 0);
}

TEST(hello_floods_in_order_while_the_other_answers)
{
    two_hellos(false);
    for (unsigned i = 0; i < 200; i++) {
        sim_pl011_drain(&mfx.uart, 16);
        mfx_pump();
    }
    mfx_wire_since();
    mfx_type("flood 300\r");
    for (unsigned i = 0; i < 600; i++) {
        sim_pl011_drain(&mfx.uart, 16);
        mfx_pump();
        if (i == 50)
            mfx_type("\x1c"
                     "2ping\r");
    }
    for (unsigned i = 0; i < 100000 && (mfx.uart.tx_count || hellos[0].flood_left); i++) {
        sim_pl011_drain(&mfx.uart, 16);
        mfx_pump();
    }
    const char *w = mfx_wire_since(), *p = w;
    for (unsigned i = 1; i <= 300; i++) {
        char l[64];
        snprintf(l, sizeof(l), "[linux1] hello1 flood line %u of 300\r\n", i);
        p = strstr(p, l);
        CHECK(p != NULL);
    }
    CHECK(strstr(p, "[linux1] hello1: flood done\r\n") != NULL);
    /* hello2 answered while the flood went on, not after it. */
    const char *pong = strstr(w, "[linux2] hello2 got \"ping\"");
    CHECK(pong != NULL && pong < p);
    CHECK_EQ(hellos[0].serial.out_dropped, 0);
}

TEST(hello_deaf_stops_reading_and_the_mux_counts_the_input_it_drops)
{
    two_hellos(true);
    mfx_type("deaf\r");
    CHECK(strstr(mfx_wire_since(), "hello1: deaf from now on") != NULL);
    for (unsigned i = 0; i < 10; i++)
        mfx_type("x");
    /* Four receive buffers fill, then input is dropped, and hello2 is not held up. */
    CHECK_EQ(mfx.mux.client[0].count.in_bytes, 5 + 4);
    CHECK_EQ(mfx.mux.client[0].count.in_dropped, 6);
    mfx_type("\x1c"
             "2ok\r");
    CHECK(strstr(mfx_wire_since(), "[linux2] hello2 got \"ok\"") != NULL);
}

TEST(hello_backspace_and_long_lines)
{
    two_hellos(true);
    mfx_wire_since();
    mfx_type("ab\x7f"
             "c\r");
    CHECK(strstr(mfx_wire_since(), "hello1 got \"ac\"") != NULL);
    char line[HELLO_LINE_MAX + 11];
    memset(line, 'k', sizeof(line) - 2);
    line[sizeof(line) - 2] = '\r';
    line[sizeof(line) - 1] = '\0';
    mfx_type(line);
    CHECK_EQ(mfx_wire_count("hello1 got \"kkk"), 1);
    CHECK_EQ(hellos[0].line_len, 0);
}
