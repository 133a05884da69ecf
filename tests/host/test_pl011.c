/* The PL011 driver against the model of the UART (sim_pl011): set-up that keeps the firmware's
 * line settings, output that continues on the TX interrupt when the FIFO fills, input with
 * receive errors, and the interrupts. */
#include <pl011/pl011.h>
#include <string.h>

#include "sim_pd.h"
#include "sim_pl011.h"
#include "test.h"

static struct sim_pl011 uart;
static struct pl011 drv;

static void start(unsigned depth, bool instant)
{
    sim_pd_reset();
    sim_pl011_init(&uart, depth, instant);
    pl011_init(&drv, sim_pl011_base(&uart));
}

TEST(pl011_init_keeps_line_settings_and_turns_fifos_on)
{
    start(16, false);
    CHECK_EQ(uart.violations, 0);
    CHECK_EQ(uart.disables, 1); /* to turn the FIFOs on */
    CHECK_EQ(uart.ibrd, 13);
    CHECK_EQ(uart.fbrd, 1);
    CHECK_EQ(uart.lcr_h, (3u << 5) | PL011_LCR_H_FEN);
    CHECK_EQ(uart.cr & (PL011_CR_UARTEN | PL011_CR_TXE | PL011_CR_RXE),
             PL011_CR_UARTEN | PL011_CR_TXE | PL011_CR_RXE);
    CHECK_EQ(uart.imsc, PL011_INT_RX | PL011_INT_RT);
    CHECK_EQ(uart.ifls, PL011_IFLS_TX_1_8 | PL011_IFLS_RX_1_2);
    CHECK(!sim_pl011_irq(&uart));
}

TEST(pl011_init_leaves_a_uart_with_fifos_on_enabled)
{
    sim_pd_reset();
    sim_pl011_init(&uart, 32, false);
    uart.lcr_h = (3u << 5) | PL011_LCR_H_FEN | (1u << 1); /* parity on: kept */
    uart.cr = PL011_CR_UARTEN | PL011_CR_TXE;             /* receiver off: turned on */
    pl011_init(&drv, sim_pl011_base(&uart));
    CHECK_EQ(uart.violations, 0);
    CHECK_EQ(uart.lcr_h, (3u << 5) | PL011_LCR_H_FEN | (1u << 1));
    CHECK(uart.cr & PL011_CR_RXE);
    CHECK_EQ(uart.disables, 0); /* nothing to change in LCR_H: never turned off */
    sim_pl011_receive(&uart, 'k', 0);
    uint8_t b[4];
    CHECK_EQ(pl011_rx(&drv, b, sizeof(b)), 1);
    CHECK_EQ(b[0], 'k');
}

TEST(pl011_init_from_a_disabled_uart)
{
    sim_pd_reset();
    sim_pl011_init(&uart, 16, true);
    uart.cr = 0;
    pl011_init(&drv, sim_pl011_base(&uart));
    CHECK_EQ(uart.violations, 0);
    CHECK_EQ(pl011_tx(&drv, (const uint8_t *)"ok", 2), 2);
    CHECK(strcmp(sim_pl011_wire(&uart), "ok") == 0);
}

TEST(pl011_tx_continues_on_the_interrupt_when_the_fifo_fills)
{
    start(16, false);
    uint8_t msg[40];
    for (unsigned i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)('A' + i % 26);
    size_t sent = pl011_tx(&drv, msg, sizeof(msg));
    CHECK_EQ(sent, 16);
    CHECK(drv.tx_irq);
    CHECK(uart.imsc & PL011_INT_TX);
    CHECK(!sim_pl011_irq(&uart)); /* full: nothing to say yet */
    /* The FIFO drains; the interrupt rises when it passes its trigger level (2 of 16). */
    sim_pl011_drain(&uart, 13);
    CHECK(!sim_pl011_irq(&uart));
    sim_pl011_drain(&uart, 1);
    CHECK(sim_pl011_irq(&uart));
    unsigned rounds = 0;
    while (sent < sizeof(msg) && rounds++ < 10) {
        CHECK(sim_pl011_irq(&uart));
        pl011_irq_clear(&drv);
        CHECK(!sim_pl011_irq(&uart));
        sent += pl011_tx(&drv, msg + sent, sizeof(msg) - sent);
        sim_pl011_drain(&uart, 16);
    }
    CHECK_EQ(sent, sizeof(msg));
    /* The last write fitted: the TX interrupt is off again. */
    CHECK(!drv.tx_irq);
    CHECK(!(uart.imsc & PL011_INT_TX));
    CHECK_EQ(uart.wire_len, sizeof(msg));
    CHECK(memcmp(uart.wire, msg, sizeof(msg)) == 0);
    CHECK_EQ(uart.violations, 0); /* never wrote a full FIFO */
}

TEST(pl011_tx_on_an_instant_line_never_waits)
{
    start(16, true);
    uint8_t msg[100];
    memset(msg, 'z', sizeof(msg));
    CHECK_EQ(pl011_tx(&drv, msg, sizeof(msg)), sizeof(msg));
    CHECK(!drv.tx_irq);
    CHECK_EQ(uart.wire_len, sizeof(msg));
}

TEST(pl011_rx_drops_characters_with_errors_and_counts_them)
{
    start(16, false);
    sim_pl011_receive(&uart, 'a', 0);
    sim_pl011_receive(&uart, 'x', PL011_DR_FE);
    sim_pl011_receive(&uart, 'y', PL011_DR_PE);
    sim_pl011_receive(&uart, 0, PL011_DR_BE | PL011_DR_FE);
    sim_pl011_receive(&uart, 'b', 0);
    uint8_t buf[16];
    size_t n = pl011_rx(&drv, buf, sizeof(buf));
    CHECK_EQ(n, 2);
    CHECK(buf[0] == 'a' && buf[1] == 'b');
    CHECK_EQ(drv.errors.framing, 1);
    CHECK_EQ(drv.errors.parity, 1);
    CHECK_EQ(drv.errors.brk, 1);
    CHECK_EQ(drv.errors.overrun, 0);
    CHECK_EQ(uart.rsr, 0); /* cleared after the errors */
    CHECK_EQ(uart.violations, 0);
}

TEST(pl011_rx_overrun_is_counted_and_the_character_kept)
{
    start(16, false);
    for (unsigned i = 0; i < 18; i++) /* two more than the FIFO holds */
        sim_pl011_receive(&uart, (uint8_t)('a' + i), 0);
    CHECK_EQ(uart.rx_lost, 2);
    uint8_t buf[32];
    CHECK_EQ(pl011_rx(&drv, buf, sizeof(buf)), 16);
    CHECK_EQ(buf[15], 'p');
    sim_pl011_receive(&uart, 'z', 0);
    CHECK_EQ(pl011_rx(&drv, buf, sizeof(buf)), 1);
    CHECK_EQ(buf[0], 'z');
    CHECK_EQ(drv.errors.overrun, 1);
}

TEST(pl011_rx_reads_at_most_what_it_is_asked)
{
    start(16, false);
    sim_pl011_receive_str(&uart, "0123456789");
    uint8_t buf[4];
    CHECK_EQ(pl011_rx(&drv, buf, 4), 4);
    CHECK(memcmp(buf, "0123", 4) == 0);
    CHECK_EQ(uart.rx_count, 6);
    /* Dropped characters count as reads too: ten framing errors and max 4 leave six. */
    start(16, false);
    for (unsigned i = 0; i < 10; i++)
        sim_pl011_receive(&uart, 'e', PL011_DR_FE);
    CHECK_EQ(pl011_rx(&drv, buf, 4), 0);
    CHECK_EQ(uart.rx_count, 6);
}

TEST(pl011_rx_interrupts_at_the_level_and_on_timeout)
{
    start(16, false);
    for (unsigned i = 0; i < 7; i++)
        sim_pl011_receive(&uart, 'r', 0);
    CHECK(!sim_pl011_irq(&uart));
    sim_pl011_receive(&uart, 'r', 0); /* 8 of 16: half full */
    CHECK(sim_pl011_irq(&uart));
    pl011_irq_clear(&drv);
    uint8_t buf[16];
    CHECK_EQ(pl011_rx(&drv, buf, sizeof(buf)), 8);
    CHECK(!sim_pl011_irq(&uart));
    /* A few characters and then quiet: the timeout interrupt. */
    sim_pl011_receive_str(&uart, "hi");
    CHECK(!sim_pl011_irq(&uart));
    sim_pl011_rx_idle(&uart);
    CHECK(sim_pl011_irq(&uart));
    pl011_irq_clear(&drv);
    CHECK(!sim_pl011_irq(&uart));
    CHECK_EQ(pl011_rx(&drv, buf, sizeof(buf)), 2);
    CHECK_EQ(uart.violations, 0);
}
