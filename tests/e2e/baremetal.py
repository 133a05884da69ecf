#!/usr/bin/env python3
"""End-to-end: the bare-metal test guest (tests/guest) under the VMM, 3 vCPUs, raw-binary boot.
It resets itself 20 times through PSCI, then checks HVC/SMC with unknown IDs, aborts on unmapped
addresses, LDP on an emulated register (no syndrome), load/store pairs across guest RAM, the
distributor and unmapped space with the guest's MMU off and on (its own stage-1 tables), WFI with
and without a timer, the EL1 physical timer (INTID 30, shared with the VMM's wake-ups), level-true
timer interrupts, list registers that take only what a vCPU can be signalled, the CPU interface
reset by SYSTEM_RESET, PSCI CPU_ON (including two callers racing), an SGI ping-pong, function calls
through an SGI whose caller waits with WFE, a spinlock handed between two vCPUs (one holds it
across a WFI, the other spins with WFE), runs the interrupt-latency benchmark (every sample must
take its interrupt) and powers off. With --bench it also prints exit costs, those three SMP
figures and the latencies (bench/irq_latency.py sets them beside seL4's floor and a native run).

Every check the guest must print is listed in GUEST_CHECKS: one it never prints fails, as does
one it prints that is not listed. Checks that need the VMM's log lines, which a release VMM does
not print, count as skipped in release builds."""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
from qemu_console import Console, Timeout  # noqa: E402

RESETS = 20

# What tests/guest/main.c prints as "check NAME: ok", in order. (It also has checks that print
# only when they fail: system_reset, system_off, exceptions.)
GUEST_CHECKS = [
    "cpu_interface_reset_on_system_reset",
    "smc_unknown_not_supported",
    "hvc_unknown_not_supported",
    "hvc_psci_version",
    "unmapped_read_aborts",
    "unmapped_write_aborts",
    "ldp_emulated_register",
    "ldp_post_index_writeback",
    "pair_mmu_off_ldp_distributor_then_unmapped_aborts",
    "pair_mmu_off_ldp64_distributor_then_unmapped_aborts",
    "pair_mmu_off_ldpsw_distributor_then_unmapped_aborts",
    "pair_mmu_off_pre_index_refused_without_writeback",
    "pair_mmu_off_stp_unmapped_then_distributor_aborts",
    "pair_mmu_off_ldpsw_distributor_sign_extends",
    "pair_mmu_on_ldp_ram_then_distributor",
    "pair_mmu_on_stp_ram_then_distributor",
    "pair_mmu_on_ldp64_ram_then_distributor",
    "pair_mmu_on_ldpsw_ram_then_distributor",
    "pair_mmu_on_ldp_distributor_then_ram",
    "pair_mmu_on_stp_distributor_then_ram",
    "pair_mmu_on_post_index_writeback",
    "pair_mmu_on_sp_base_pre_index",
    "pair_mmu_on_distributor_then_nothing_aborts",
    "pair_mmu_on_distributor_then_unmapped_page_aborts",
    "pair_mmu_off_again",
    "wfi_sleeps_until_timer",
    "timer_interrupt_delivered",
    "wfi_expired_timer_returns",
    "ptimer_wfi_sleeps_until_timer",
    "ptimer_interrupt_delivered",
    "ptimer_values_kept_across_wfi",
    "ptimer_no_spurious_interrupt",
    "vtimer_level_drops_when_disabled",
    "vtimer_level_drops_when_masked",
    "ptimer_level_drops_when_disabled",
    "ptimer_level_drops_when_masked",
    "lowest_priority_vtimer_recovers",
    "lowest_priority_ptimer_recovers",
    "masked_sgis_leave_room_for_timer",
    "masked_spis_leave_room_for_timer",
    "lowest_priority_spis_leave_room_for_timer",
    "cpu_on_success",
    "cpu_on_already_on",
    "cpu_on_unknown_mpidr",
    "cpu_on_mpidr_reserved_bits",
    "cpu_on_race_one_winner",
    "wfi_on_timer_while_ptimer_owner_runs",
    "secondary_cpus_ran",
    "sgi_ping_pong_completed",
    "sgi_call_completed",
    "spinlock_handoff_completed",
    "irq_latency_every_sample_delivered",
]


# Checks read from the VMM's own log lines, which only a debug VMM prints.
VMM_CHECKS = [
    "every boot loads the same images",
    "every reset boot takes the same exits (nothing grows)",
    "the VMM reports the guest's power-off",
]


def build(bdir, sdk, config, probe=""):
    """Build the guest (PROBE=`probe` builds an opt-in probe instead of the checks) and the
    system image around it; (ok, build log)."""
    images = os.path.join(bdir, "guest")
    subprocess.run(["make", "-s", "-B", "-C", os.path.join(ROOT, "tests/guest"), "OUT=" + images,
                    "PROBE=" + probe], check=True, stdout=subprocess.DEVNULL)
    os.replace(os.path.join(images, "guest.bin"), os.path.join(images, "linux"))
    log = os.path.join(bdir, "build.log")
    with open(log, "w") as f:
        r = subprocess.run(["make", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + sdk,
                            "CONFIG=" + config, "SYSTEM=baremetal.system", "GUEST_PROTOCOL=raw",
                            "GUEST_LOAD_ADDR=0x40080000", "IMAGE_DIR=" + images, "all"],
                           stdout=f, stderr=subprocess.STDOUT)
    return r.returncode == 0, log


def qemu_cmd(bdir, sdk):
    """The QEMU command of the system build() made. qemu-cmd expands the system file (its disks
    are part of the command), so it gets the same one: another would be expanded over this one."""
    return subprocess.run(["make", "-s", "-C", ROOT, "BUILD_DIR=" + bdir, "MICROKIT_SDK=" + sdk,
                           "SYSTEM=baremetal.system", "qemu-cmd"], stdout=subprocess.PIPE,
                          text=True, check=True).stdout.split()


def run(bdir, sdk, config):
    """Boot the guest until it says it is done (and, with a debug VMM, until the VMM reports the
    power-off). Returns what QEMU printed and why the run stopped early ("" if it did not)."""
    qemu = qemu_cmd(bdir, sdk)
    # -icount shift=0: one instruction per nanosecond, so counter ticks count instructions;
    # sleep=off: while every CPU waits, virtual time jumps to the next deadline (no real-time
    # sleep, whose overshoot would land in the interrupt latencies measured after a WFI).
    log = os.path.join(bdir, "qemu.log")
    con = Console(qemu + ["-icount", "shift=0,sleep=off", "-display", "none", "-monitor", "none",
                          "-serial", "stdio"], log)
    stopped = ""
    try:
        con.expect("baremetal: done", 240)
        if config == "debug":  # a release VMM prints nothing
            con.expect("guest powered off", 20)
    except Timeout as e:
        stopped = str(e)
    finally:
        con.close()
    return con.output(), stopped, log


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--sdk", required=True)
    ap.add_argument("--config", default="debug")
    ap.add_argument("--bench", action="store_true", help="print the exit-cost figures")
    args = ap.parse_args()
    bdir = os.path.abspath(args.build_dir)
    os.makedirs(bdir, exist_ok=True)
    results = []  # True, False, or None (skipped)

    def result(ok, name, detail=""):
        results.append(ok)
        tag = "SKIPPED" if ok is None else "ok  " if ok else "FAIL"
        print("%s baremetal %s %s" % (tag, name, detail), flush=True)

    ok, blog = build(bdir, args.sdk, args.config)
    result(ok, "build (raw binary, 3 vCPUs)", "" if ok else "log kept: " + blog)
    if not ok:
        for name in ["guest finished its checks", "%d resets in a row" % RESETS] + VMM_CHECKS + \
                GUEST_CHECKS:
            result(None, name, "not run: the build failed")
    else:
        out, stopped, log = run(bdir, args.sdk, args.config)
        vmm_logs = args.config == "debug"
        result("baremetal: done" in out, "guest finished its checks",
               "run stopped early: %s" % stopped if "baremetal: done" not in out else "")
        boots = [int(n) for n in re.findall(r"baremetal: boot (\d+)", out)]
        result(boots == list(range(1, RESETS + 2)), "%d resets in a row" % RESETS,
               "boots seen: %s" % boots[-3:])
        lines = [re.sub(r"#\d+", "#N", l) for l in re.findall(r"boot: boot #\d+:[^\r\n]*", out)]
        stats = [re.sub(r"#\d+", "#N", l) for l in re.findall(r"vm: boot #\d+ took[^\r\n]*", out)]
        why_skipped = "(a %s VMM prints no log lines)" % args.config
        if vmm_logs:
            result(len(set(lines)) == 1 and len(lines) == RESETS + 1, VMM_CHECKS[0],
                   lines[0] if len(set(lines)) == 1 else "%d boot lines: %s" % (len(lines),
                                                                                sorted(set(lines))))
            result(len(set(stats[:RESETS])) == 1 and len(stats) == RESETS + 1, VMM_CHECKS[1],
                   stats[0] if stats else "no exit statistics")
            result("guest powered off" in out, VMM_CHECKS[2])
        else:
            for name in VMM_CHECKS:
                result(None, name, why_skipped)
        printed = re.findall(r"check (\w+): (ok|FAIL[^\r\n]*)", out)
        seen = {}
        for name, verdict in printed:
            seen.setdefault(name, []).append(verdict)
        for name in GUEST_CHECKS:
            verdicts = seen.pop(name, [])
            if not verdicts:
                result(False, name, "never printed")
            elif len(verdicts) > 1:
                result(False, name, "printed %d times: %s" % (len(verdicts), verdicts))
            else:
                result(verdicts[0] == "ok", name, "" if verdicts[0] == "ok" else verdicts[0])
        for name, verdicts in sorted(seen.items()):
            result(False, name, "printed but not expected (add it to GUEST_CHECKS): %s" % verdicts)
        if args.bench:
            for name, mt, freq in re.findall(r"bench (\w+): (\d+) millitick/op, counter (\d+)",
                                             out):
                insns = int(mt) / 1000 * 1e9 / int(freq)
                print("bench %-16s %8.0f instructions per operation (%s)" %
                      (name, insns, args.config))
        if False in results:
            print("     QEMU log kept: %s" % log)
    p = results.count(True)
    f = results.count(False)
    s = results.count(None)
    print("e2e baremetal (%s): %d passed, %d failed, %d skipped" % (args.config, p, f, s))
    return 1 if f else 0


if __name__ == "__main__":
    sys.exit(main())
