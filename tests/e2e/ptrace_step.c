/*
 * A Linux user program for the opt-in probe `tests/e2e/singlestep.py --probe ptrace`: what a
 * debugger's `stepi` does, in a loop. It forks a child that spins, and single-steps it with
 * ptrace(PTRACE_SINGLESTEP) N times, printing a line every M steps. Linux sets MDSCR_EL1.SS while
 * the child runs its one instruction; on this SDK an exit to seL4 in that window stops the system
 * (README, "What seL4 lets a guest do"). Built static for the guest's busybox initramfs.
 *
 *   ptrace_step [N [M]]     (defaults 20000 and 1000)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
    long steps = argc > 1 ? atol(argv[1]) : 20000, every = argc > 2 ? atol(argv[2]) : 1000;
    if (steps < 1 || every < 1) {
        fprintf(stderr, "usage: ptrace_step [steps [report-every]]\n");
        return 2;
    }
    pid_t child = fork();
    if (child < 0) {
        perror("ptrace-step: fork");
        return 1;
    }
    if (child == 0) {
        ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        raise(SIGSTOP);
        for (volatile unsigned long spin = 0;; spin++)
            ;
    }
    int status;
    if (waitpid(child, &status, 0) != child || !WIFSTOPPED(status)) {
        fprintf(stderr, "ptrace-step: the child did not stop\n");
        return 1;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 1; i <= steps; i++) {
        if (ptrace(PTRACE_SINGLESTEP, child, NULL, NULL) < 0) {
            perror("ptrace-step: PTRACE_SINGLESTEP");
            kill(child, SIGKILL);
            return 1;
        }
        if (waitpid(child, &status, 0) != child || !WIFSTOPPED(status)) {
            fprintf(stderr, "ptrace-step: the child did not stop after step %ld\n", i);
            return 1;
        }
        if (i % every == 0) {
            printf("ptrace-step: %ld steps in %.2f s\n", i, seconds_since(&t0));
            fflush(stdout);
        }
    }
    printf("ptrace-step: done, %ld steps in %.2f s\n", steps, seconds_since(&t0));
    kill(child, SIGKILL);
    return 0;
}
