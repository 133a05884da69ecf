/*
 * udp_ping: a UDP echo client for the test guests (Debian's busybox nc has no -u). Sends COUNT
 * datagrams "TEXT-<n>" to IP:PORT, one at a time, waits up to two seconds for each to come back,
 * prints every reply and the round-trip times, and exits 0 only if every datagram came back
 * unchanged from the address it was sent to.
 *
 *     udp_ping 10.0.0.100 7 3 hello
 *     udp_ping: reply from 10.0.0.100:7: "hello-1" in 2310 us
 *     ...
 *     udp_ping: 3 sent, 3 echoed, rtt min/avg/max 1980/2204/2310 us
 *
 * Built statically for the arm64 guest by tests/e2e/two_vms_net.py (aarch64-linux-gnu-gcc
 * -static) and added to its initramfs; not part of the VMM.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: udp_ping IP PORT COUNT TEXT\n");
        return 2;
    }
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
    if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
        fprintf(stderr, "udp_ping: %s is not an IPv4 address\n", argv[1]);
        return 2;
    }
    int count = atoi(argv[3]);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("udp_ping: socket");
        return 1;
    }
    int echoed = 0;
    long long min = -1, max = 0, sum = 0;
    for (int i = 1; i <= count; i++) {
        char msg[256], got[512];
        int len = snprintf(msg, sizeof(msg), "%s-%d", argv[4], i);
        long long t0 = now_us();
        if (sendto(fd, msg, (size_t)len, 0, (struct sockaddr *)&to, sizeof(to)) != len) {
            perror("udp_ping: sendto");
            continue;
        }
        for (;;) {
            long long left = 2000000 - (now_us() - t0);
            struct pollfd p = { .fd = fd, .events = POLLIN };
            if (left <= 0 || poll(&p, 1, (int)(left / 1000) + 1) <= 0) {
                printf("udp_ping: no reply to \"%s\" within 2 s\n", msg);
                break;
            }
            struct sockaddr_in from;
            socklen_t flen = sizeof(from);
            ssize_t n = recvfrom(fd, got, sizeof(got) - 1, 0, (struct sockaddr *)&from, &flen);
            if (n < 0)
                continue;
            got[n] = '\0';
            long long rtt = now_us() - t0;
            int same = n == len && !memcmp(got, msg, (size_t)len) &&
                       from.sin_addr.s_addr == to.sin_addr.s_addr && from.sin_port == to.sin_port;
            printf("udp_ping: reply from %s:%d: \"%s\" in %lld us%s\n", inet_ntoa(from.sin_addr),
                   ntohs(from.sin_port), got, rtt, same ? "" : " (not what was sent)");
            if (!same)
                continue;
            echoed++;
            sum += rtt;
            if (min < 0 || rtt < min)
                min = rtt;
            if (rtt > max)
                max = rtt;
            break;
        }
    }
    printf("udp_ping: %d sent, %d echoed, rtt min/avg/max %lld/%lld/%lld us\n", count, echoed,
           min < 0 ? 0 : min, echoed ? sum / echoed : 0, max);
    return echoed == count ? 0 : 1;
}
