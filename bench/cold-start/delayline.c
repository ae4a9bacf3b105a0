/* delayline: a userspace "netem delay" for kernels without sch_netem.
 *
 *   delayline HOST_IF PEER_IF DELAY_US
 *
 * Creates two TUN devices (IFF_TUN | IFF_NO_PI, not persistent: they vanish when this process
 * exits) and copies every IP packet read from one into the other DELAY_US microseconds later,
 * in both directions, in order. The caller moves PEER_IF into a network namespace, gives both
 * ends addresses of one /30 and puts a `tbf` on the egress of each end for the bandwidth: the
 * kernels' TCP stacks on both sides then see a real round trip of 2 * DELAY_US. Prints "ready"
 * once both devices exist; SIGTERM ends it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_PKT 65536
#define MAX_QUEUED (256L << 20) /* bytes held per direction; more is dropped, as a full queue */

struct pkt {
    struct pkt *next;
    int64_t due_ns;
    size_t len;
    unsigned char data[];
};

struct dir {
    int in, out;
    struct pkt *head, *tail;
    long queued;
    unsigned long long pkts, bytes, drops;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int tun_open(const char *name)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        perror("delayline: /dev/net/tun");
        exit(1);
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "delayline: TUNSETIFF %s: %m\n", name);
        exit(1);
    }
    return fd;
}

/* reads every packet waiting on d->in, each due at now + delay */
static void take(struct dir *d, int64_t delay_ns)
{
    static unsigned char buf[MAX_PKT];
    for (;;) {
        ssize_t n = read(d->in, buf, sizeof buf);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            perror("delayline: read");
            exit(1);
        }
        if (n == 0)
            return;
        if (d->queued + n > MAX_QUEUED) {
            d->drops++;
            continue;
        }
        struct pkt *p = malloc(sizeof *p + (size_t)n);
        if (!p) {
            d->drops++;
            continue;
        }
        p->next = NULL;
        p->due_ns = now_ns() + delay_ns;
        p->len = (size_t)n;
        memcpy(p->data, buf, (size_t)n);
        if (d->tail)
            d->tail->next = p;
        else
            d->head = p;
        d->tail = p;
        d->queued += n;
    }
}

/* writes out every packet that is due; the time to the next one (ns), or -1 */
static int64_t give(struct dir *d, int64_t now)
{
    while (d->head && d->head->due_ns <= now) {
        struct pkt *p = d->head;
        if (write(d->out, p->data, p->len) < 0 && errno != EINVAL && errno != EIO)
            d->drops++; /* the device is down or gone: as a lost packet */
        d->pkts++;
        d->bytes += p->len;
        d->queued -= (long)p->len;
        d->head = p->next;
        if (!d->head)
            d->tail = NULL;
        free(p);
    }
    return d->head ? d->head->due_ns - now : -1;
}

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: delayline HOST_IF PEER_IF DELAY_US\n");
        return 2;
    }
    int64_t delay_ns = strtoll(argv[3], NULL, 10) * 1000;
    prctl(PR_SET_TIMERSLACK, 1UL); /* wake on time: the default slack is 50 us */
    int a = tun_open(argv[1]), b = tun_open(argv[2]);
    struct dir ab = {.in = a, .out = b}, ba = {.in = b, .out = a};
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("ready\n");
    fflush(stdout);
    while (!stop) {
        int64_t now = now_ns();
        int64_t w1 = give(&ab, now), w2 = give(&ba, now);
        int64_t wait = w1 < 0 ? w2 : (w2 < 0 ? w1 : (w1 < w2 ? w1 : w2));
        struct pollfd fds[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
        struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
        int r = ppoll(fds, 2, wait < 0 ? NULL : &ts, NULL);
        if (r < 0 && errno != EINTR) {
            perror("delayline: ppoll");
            return 1;
        }
        if (r > 0) {
            if (fds[0].revents & POLLIN)
                take(&ab, delay_ns);
            if (fds[1].revents & POLLIN)
                take(&ba, delay_ns);
        }
    }
    fprintf(stderr,
            "delayline: %s->%s %llu packets %llu bytes %llu dropped; %s->%s %llu packets %llu "
            "bytes %llu dropped\n",
            argv[1], argv[2], ab.pkts, ab.bytes, ab.drops, argv[2], argv[1], ba.pkts, ba.bytes,
            ba.drops);
    return 0;
}
