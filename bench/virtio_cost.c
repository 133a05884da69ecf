/*
 * Instructions the VMM spends per virtio console notification on the host build, for
 * callgrind: `virtio_cost OP N` runs N operations of one kind after a fixed setup; only the
 * functions named measured_* are counted (bench/virtio_cost.sh passes --toggle-collect), so
 * the fake backend and the guest's own work between them are not. The script runs two N and
 * divides the difference.
 *
 * Operations go through the same path as on the target (exit decode, dispatch, emulation,
 * register write-back, vgic delivery), with the simulated hypervisor standing in for seL4.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "sim_hyp.h"
#include "virtio_fx.h"

/* The guest writes QueueNotify for transmitq0 (one exit). */
__attribute__((noinline)) void measured_tx_notify(void)
{
    vdrv_notify(VIO_TXQ);
}

/* The backend's notification: buffers returned, or input arrived. */
__attribute__((noinline)) void measured_backend_notification(void)
{
    vm_notified(&fx.vm, FX_VIRTIO_CH);
}

/* The guest's interrupt handler: InterruptStatus read, InterruptACK write (two exits). */
__attribute__((noinline)) void measured_interrupt(void)
{
    uint32_t isr = vio_read(VIO_INTERRUPT_STATUS);
    vio_write(VIO_INTERRUPT_ACK, isr);
}

/* The guest takes its interrupt and EOIs it (not measured unless the operation is the
 * interrupt itself). */
static void guest_interrupt(int measure)
{
    if (measure)
        measured_interrupt();
    else
        vio_write(VIO_INTERRUPT_ACK, vio_read(VIO_INTERRUPT_STATUS));
    fx_guest_handles(0, FX_VIRTIO_IRQ);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s tx1|tx64|tx_return|rx16|interrupt N\n", argv[0]);
        return 2;
    }
    const char *op = argv[1];
    unsigned long n = strtoul(argv[2], NULL, 0);
    if (!fx_boot_virtio(1, 0))
        return 1;
    fb_attach();
    fb.auto_notify = false; /* the backend's notifications are sent (and measured) here */
    if (!vdrv_setup(VIO_QMAX))
        return 1;
    fx_gicd_write(0, 0x000, 1);                                   /* distributor on */
    fx_gicd_write(0, 0x100 + 4 * (FX_VIRTIO_IRQ / 32), 1u << 16); /* the device's SPI */
    uint64_t data = VIO_DATA, rxbuf = VIO_DATA + 0x10000;
    memset(vio_ram(data), 'x', 64);
    uint32_t tx_len = strcmp(op, "tx64") == 0 ? 64 : 1, rx_len = 64;
    static const uint8_t input[16] = "0123456789abcdef";
    for (unsigned long i = 0; i < n; i++) {
        if (!strcmp(op, "tx1") || !strcmp(op, "tx64") || !strcmp(op, "tx_return") ||
            !strcmp(op, "interrupt")) {
            vdrv_chain(VIO_TXQ, &data, &tx_len, 1, false);
            if (!strcmp(op, "tx_return")) {
                vdrv_notify(VIO_TXQ);
                fb_take_output(1, true);
                measured_backend_notification();
            } else {
                if (strcmp(op, "interrupt"))
                    measured_tx_notify();
                else
                    vdrv_notify(VIO_TXQ);
                fb_take_output(1, true);
                vm_notified(&fx.vm, FX_VIRTIO_CH);
            }
            guest_interrupt(!strcmp(op, "interrupt"));
        } else if (!strcmp(op, "rx16")) {
            vdrv_chain(VIO_RXQ, &rxbuf, &rx_len, 1, true);
            if (!fb_send_input(input, sizeof(input)))
                return 1;
            measured_backend_notification();
            guest_interrupt(0);
        } else {
            fprintf(stderr, "unknown operation %s\n", op);
            return 2;
        }
        sim.num_inj = 0;
        fb.out_len = 0;
    }
    /* Everything went where it should: the work measured is the work meant. */
    const struct virtio_dev *d = &fx.vm.virtio[0];
    bool tx = strcmp(op, "rx16") != 0;
    if (d->needs_reset || d->vq[tx ? VIO_TXQ : VIO_RXQ].used_idx != (uint16_t)n ||
        d->u.console.bc.tx_lent || fx.vm.state != VM_RUNNING) {
        fprintf(stderr, "virtio_cost: %s did not do what it should\n", op);
        return 1;
    }
    return 0;
}
