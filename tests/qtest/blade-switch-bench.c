/*
 * blade-switch-bench: what the chassis process forwards, beside QEMU's own
 * hub with stream netdevs carrying the same traffic in the same run.
 * Prints 'name: value' lines (scripts/bladeplane bench switch).
 *
 * The test process is both ends of every path (lanes or stream sockets),
 * single-threaded, so both setups pay the same for the far ends; the
 * switch runs unpaced (slot-speed=0, uplink-speed=0) to show its own
 * speed rather than the emulated line rate.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include <sched.h>
#include <arpa/inet.h>
#include "qemu/bswap.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "libqos/blade-switch-harness.h"
#include <sys/un.h>
#include "qemu/cutils.h"

#define MEASURE_S   1.5
#define WARMUP_S    0.3
#define PINGS       2000
#define PROFILE_S   8.0
#define ROUNDS      3       /* switch, raw switch, hub in turn */
#define ROUND_S     0.5

/* In ns, not g_get_monotonic_time()'s us: latencies are a few us. */
static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double percentile(double *v, size_t n, double p)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return v[MIN(n - 1, (size_t)(p * n))];
}

static double median(const double *v)
{
    double s[ROUNDS];

    memcpy(s, v, sizeof(s));
    qsort(s, ROUNDS, sizeof(s[0]), cmp_double);
    return s[ROUNDS / 2];
}

/* ---- where the two ends run -------------------------------------------- */

/*
 * A frame's latency is two wake-ups, and what a wake-up costs depends on
 * where the scheduler put the two processes: on this project's KVM guest a
 * wake-up to another vCPU costs about 30 us, one on the same vCPU a
 * context switch.  Unpinned, each figure was whichever placement the
 * throughput runs left behind (2026-12-05, Intel host: the switch 68 us
 * across vCPUs, the hub 9 us on one).  So each end's process is pinned,
 * the switch's and the hub's alike, and both placements are measured.
 */
typedef enum { SAME_CPU, CROSS_CPU } Placement;

/* The CPUs this process was started on: what unplace() gives back. */
static cpu_set_t start_cpus;

static void pin_set(pid_t pid, const cpu_set_t *set)
{
    g_assert_cmpint(sched_setaffinity(pid, sizeof(*set), set), ==, 0);
}

static void pin(pid_t pid, int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pin_set(pid, &set);
}

/* The first two CPUs this process may use; false if it has only one. */
static bool two_cpus(int *a, int *b)
{
    int i, n = 0;

    g_assert_cmpint(sched_getaffinity(0, sizeof(start_cpus), &start_cpus),
                    ==, 0);
    for (i = 0; i < CPU_SETSIZE && n < 2; i++) {
        if (CPU_ISSET(i, &start_cpus)) {
            *(n++ ? b : a) = i;
        }
    }
    return n == 2;
}

/* Pin this process and QEMU's main thread (@qemu) for @where. */
static void place(pid_t qemu, Placement where, int a, int b)
{
    pin(0, a);
    pin(qemu, where == SAME_CPU ? a : b);
}

static void unplace(pid_t qemu)
{
    pin_set(0, &start_cpus);
    pin_set(qemu, &start_cpus);
}

/* ---- the switch ---------------------------------------------------------- */

typedef enum { TO_LANE, TO_UPLINK } Path;

static void switch_start(SwHarness *h, bool raw)
{
    sh_start(h, 2, true, raw ? "pcs=raw,uplink-speed=0,queue-frames=1024"
                             : "uplink-speed=0,queue-frames=1024");
    sh_blade_up(h, 0, raw);
    sh_blade_up(h, 1, raw);
}

/* Teach the switch where blade 1 and the client are. */
static void switch_learn(SwHarness *h)
{
    uint8_t f[64] = { 0 };

    sh_eth(f, sh_bcast, h->blades[1].mac, 0x88b6);
    sh_blade_send(h, 1, f, sizeof(f));
    sh_eth(f, sh_bcast, sh_client_mac, 0x88b6);
    sh_uplink_send(h, f, sizeof(f));
    sh_settle(h);
    sh_free_frames(&h->blades[0].rx);
    sh_free_frames(&h->blades[1].rx);
    sh_free_frames(&h->up_rx);
}

static uint64_t switch_received(SwHarness *h, Path path)
{
    return path == TO_LANE ? h->blades[1].nrx : h->up_nrx;
}

/*
 * Frames per second from blade 0 to @path, frames of @len octets,
 * measured for @measure_s seconds.
 */
static double switch_rate_for(SwHarness *h, Path path, size_t len,
                              double measure_s)
{
    uint8_t f[1518] = { 0 };
    Lane *tx = h->blades[0].lane;
    double t0 = 0, start = now_s();
    uint64_t n0 = 0;
    bool measuring = false;

    sh_eth(f, path == TO_LANE ? h->blades[1].mac : sh_client_mac,
           h->blades[0].mac, 0x88b6);
    h->blades[1].count_only = true;
    h->up_count_only = true;
    for (;;) {
        double t = now_s();

        if (!measuring && t - start >= WARMUP_S) {
            measuring = true;
            t0 = t;
            n0 = switch_received(h, path);
        } else if (measuring && t - t0 >= measure_s) {
            return (switch_received(h, path) - n0) / (t - t0);
        }
        uint64_t now = sh_now(h);   /* once a batch, as a NIC would */

        while (lane_send_frame(tx, f, len, now) == 0) {
            /* queue until the lane pushes back */
        }
        sh_pump(h, 1);
    }
}

static double switch_rate(SwHarness *h, Path path, size_t len)
{
    return switch_rate_for(h, path, len, MEASURE_S);
}

static bool cond_one_more(SwHarness *h, void *arg)
{
    return h->blades[1].nrx > *(uint64_t *)arg;
}

/* One frame at a time from blade 0 to blade 1: latencies in us. */
static void switch_latency(SwHarness *h, double *us)
{
    uint8_t f[64] = { 0 };
    unsigned i;

    sh_eth(f, h->blades[1].mac, h->blades[0].mac, 0x88b6);
    h->blades[1].count_only = true;
    for (i = 0; i < PINGS; i++) {
        uint64_t before = h->blades[1].nrx;
        double t = now_s();

        g_assert_cmpint(lane_send_frame(h->blades[0].lane, f, sizeof(f),
                                        sh_now(h)), ==, 0);
        lane_flush(h->blades[0].lane, sh_now(h));
        while (!cond_one_more(h, &before)) {
            sh_pump(h, 1);
        }
        us[i] = (now_s() - t) * 1e6;
    }
}

/* ---- four slots at line rate, all at once -------------------------------- */

#define AGG_SLOTS       4
#define AGG_MEASURE_S   2.0
#define AGG_FRAME       1514    /* octets, 1518 with the FCS */
/*
 * 1 Gb/s line rate in 1518-octet frames: preamble and SFD, the frame,
 * the minimum inter-frame gap, 8 ns an octet.
 */
#define AGG_FPS         (1e9 / ((8 + AGG_FRAME + 4 + 12) * 8.0))
/* A blade's transmit ring: it falls behind by at most this many frames */
#define AGG_BACKLOG     256

typedef struct AggFigures {
    double offered_ratio;       /* frames the blades put on their lanes */
    double delivered_ratio;     /* frames the blades and the uplink got */
    uint64_t drops;             /* the switch's counted drops, all ports */
} AggFigures;

static uint64_t agg_received(SwHarness *h)
{
    uint64_t n = h->up_nrx;
    unsigned i;

    for (i = 0; i < AGG_SLOTS; i++) {
        n += h->blades[i].nrx;
    }
    return n;
}

static uint64_t agg_drops(SwHarness *h)
{
    QDict *st = sh_state(h);
    uint64_t n = 0;
    unsigned i;

    for (i = 0; i <= AGG_SLOTS; i++) {
        QDict *port = sh_item(st, "ports", i);

        n += sh_u64(port, "tx-drops") + sh_u64(port, "rx-drops");
    }
    qobject_unref(st);
    return n;
}

/*
 * Four slots, each offered 1 Gb/s of 1518-octet frames at the line rate
 * on its own schedule (frame k due at k / AGG_FPS seconds), in turn to
 * each of the other three blades and to a client on the uplink, all at
 * once.  The blades here (this process, one thread) send what is due;
 * one that falls behind catches up in a burst, as a NIC drains its ring,
 * but holds no more than AGG_BACKLOG frames: beyond that its frames are
 * not offered.  The ratios are of the line rate's frames over the
 * measured time: offered (put on the lanes) and delivered (received at
 * the blades and the uplink).  The chassis runs unpaced: its clock is
 * qtest's, which stands still unless the test steps it.
 */
static AggFigures switch_4x1g(void)
{
    static uint8_t f[AGG_SLOTS][AGG_SLOTS][AGG_FRAME];
    uint64_t sent[AGG_SLOTS] = { 0 }, lost[AGG_SLOTS] = { 0 };
    uint64_t sent0 = 0, rx0 = 0, drops0;
    unsigned next[AGG_SLOTS] = { 0 };
    double start, t0 = 0, t, wait;
    bool measuring = false;
    AggFigures fig;
    SwHarness h;
    unsigned i, j;

    sh_start(&h, AGG_SLOTS, true, "uplink-speed=0,queue-frames=1024");
    for (i = 0; i < AGG_SLOTS; i++) {
        uint8_t hello[64] = { 0 };

        sh_blade_up(&h, i, false);
        sh_eth(hello, sh_bcast, h.blades[i].mac, 0x88b6);
        sh_blade_send(&h, i, hello, sizeof(hello));
        /* destination j: blade j, or the client where j is the sender */
        for (j = 0; j < AGG_SLOTS; j++) {
            sh_eth(f[i][j], j == i ? sh_client_mac : h.blades[j].mac,
                   h.blades[i].mac, 0x88b6);
        }
    }
    {
        uint8_t hello[64] = { 0 };

        sh_eth(hello, sh_bcast, sh_client_mac, 0x88b6);
        sh_uplink_send(&h, hello, sizeof(hello));
    }
    sh_settle(&h);
    for (i = 0; i < AGG_SLOTS; i++) {
        sh_free_frames(&h.blades[i].rx);
        h.blades[i].count_only = true;
    }
    sh_free_frames(&h.up_rx);
    h.up_count_only = true;
    drops0 = agg_drops(&h);

    start = now_s();
    for (;;) {
        t = now_s();
        if (!measuring && t - start >= WARMUP_S) {
            measuring = true;
            t0 = t;
            rx0 = agg_received(&h);
            for (i = 0, sent0 = 0; i < AGG_SLOTS; i++) {
                sent0 += sent[i];
            }
        } else if (measuring && t - t0 >= AGG_MEASURE_S) {
            double due = AGG_FPS * AGG_SLOTS * (t - t0);
            uint64_t n = 0;

            for (i = 0; i < AGG_SLOTS; i++) {
                n += sent[i];
            }
            fig.offered_ratio = (n - sent0) / due;
            fig.delivered_ratio = (agg_received(&h) - rx0) / due;
            break;
        }
        /* what is due now; then sleep until the next frame is */
        wait = 0.001;
        for (i = 0; i < AGG_SLOTS; i++) {
            uint64_t due = (uint64_t)((t - start) * AGG_FPS);

            if (due > sent[i] + lost[i] + AGG_BACKLOG) {
                lost[i] = due - sent[i] - AGG_BACKLOG;
            }
            while (sent[i] + lost[i] < due &&
                   lane_send_frame(h.blades[i].lane, f[i][next[i]],
                                   AGG_FRAME, sh_now(&h)) == 0) {
                sent[i]++;
                next[i] = (next[i] + 1) % AGG_SLOTS;
            }
            if (sent[i] + lost[i] >= due) {
                wait = MIN(wait, (due + 1) / AGG_FPS - (t - start));
            }
            /* else held back: its lane's fd wakes the pump when it has room */
        }
        sh_pump_ns(&h, MAX(0, (int64_t)(wait * 1e9)));
    }
    fig.drops = agg_drops(&h) - drops0;
    sh_stop(&h);
    return fig;
}

/* ---- lane threads -------------------------------------------------------- */

/*
 * The switch with its slots' lanes on 0, 1 and 2 iothreads
 * (docs/switch-blade.md, "Threads"), all up at once and measured in turn
 * as the main figures are: lane to lane frames/s, each a median of
 * ROUNDS, and each one's ratio to the main loop's in the same round; then
 * the aggregate line on two iothreads.
 */
static void iothread_scaling(void)
{
    static const unsigned nio[] = { 0, 1, 2 };
    SwHarness hs[G_N_ELEMENTS(nio)];
    unsigned c, i, k;
    AggFigures agg;

    for (c = 0; c < G_N_ELEMENTS(nio); c++) {
        sh_run_on_iothreads(nio[c]);
        switch_start(&hs[c], false);
        switch_learn(&hs[c]);
    }
    sh_run_on_iothreads(0);
    for (i = 0; i < 2; i++) {
        size_t len = i ? 1518 : 64;
        double rate[G_N_ELEMENTS(nio)][ROUNDS], ratio[ROUNDS];

        for (k = 0; k < ROUNDS; k++) {
            for (c = 0; c < G_N_ELEMENTS(nio); c++) {
                rate[c][k] = switch_rate_for(&hs[c], TO_LANE, len, ROUND_S);
            }
        }
        for (c = 0; c < G_N_ELEMENTS(nio); c++) {
            for (k = 0; k < ROUNDS; k++) {
                ratio[k] = rate[c][k] / rate[0][k];
            }
            if (i) {
                printf("switch_1518_Gbps_iothreads_%u: %.3f\n", nio[c],
                       median(rate[c]) * 1518 * 8 / 1e9);
            } else {
                printf("switch_64_Mpps_iothreads_%u: %.3f\n", nio[c],
                       median(rate[c]) / 1e6);
            }
            if (c) {
                printf("switch_iothreads_%u_over_0_%zu: %.2f\n", nio[c], len,
                       median(ratio));
            }
        }
    }
    for (c = 0; c < G_N_ELEMENTS(nio); c++) {
        sh_stop(&hs[c]);
    }
    sh_run_on_iothreads(2);
    agg = switch_4x1g();
    sh_run_on_iothreads(0);
    printf("switch_4x1G_delivered_ratio_iothreads_2: %.3f\n",
           agg.delivered_ratio);
    printf("switch_4x1G_drops_iothreads_2: %" PRIu64 "\n", agg.drops);
}

/* ---- QEMU's hub with two stream netdevs ---------------------------------- */

typedef struct StreamEnd {
    int fd;
    uint8_t buf[65536];
    size_t have;
    uint64_t nrx;
} StreamEnd;

typedef struct Hub {
    QTestState *qts;
    char *dir;
    StreamEnd a, b;
} Hub;

static int connect_unix(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0), i;

    g_assert_cmpint(fd, >=, 0);
    pstrcpy(sa.sun_path, sizeof(sa.sun_path), path);
    for (i = 0; i < 500; i++) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            g_assert_cmpint(fcntl(fd, F_SETFL, O_NONBLOCK), ==, 0);
            return fd;
        }
        g_usleep(10000);
    }
    g_error("cannot connect to %s", path);
}

static void hub_start(Hub *hub)
{
    g_autofree char *a = NULL, *b = NULL;

    memset(hub, 0, sizeof(*hub));
    hub->dir = g_dir_make_tmp("blade-hub-XXXXXX", NULL);
    a = g_strdup_printf("%s/a.sock", hub->dir);
    b = g_strdup_printf("%s/b.sock", hub->dir);
    hub->qts = qtest_initf("-M none "
        "-netdev stream,id=sa,server=on,addr.type=unix,addr.path=%s "
        "-netdev stream,id=sb,server=on,addr.type=unix,addr.path=%s "
        "-netdev hubport,id=pa,hubid=0,netdev=sa "
        "-netdev hubport,id=pb,hubid=0,netdev=sb", a, b);
    hub->a.fd = connect_unix(a);
    hub->b.fd = connect_unix(b);
}

static void hub_stop(Hub *hub)
{
    g_autofree char *a = g_strdup_printf("%s/a.sock", hub->dir);
    g_autofree char *b = g_strdup_printf("%s/b.sock", hub->dir);

    close(hub->a.fd);
    close(hub->b.fd);
    qtest_quit(hub->qts);
    unlink(a);
    unlink(b);
    rmdir(hub->dir);
    g_free(hub->dir);
}

/* Read what is there, counting the length-prefixed frames. */
static void stream_read(StreamEnd *e)
{
    for (;;) {
        ssize_t n = read(e->fd, e->buf + e->have, sizeof(e->buf) - e->have);
        size_t off = 0;

        if (n <= 0) {
            return;
        }
        e->have += n;
        while (e->have - off >= 4 &&
               e->have - off >= 4 + ldl_be_p(e->buf + off)) {
            off += 4 + ldl_be_p(e->buf + off);
            e->nrx++;
        }
        memmove(e->buf, e->buf + off, e->have - off);
        e->have -= off;
    }
}

/* Write what the socket takes of an endless repetition of @burst. */
static void stream_send(StreamEnd *e, const uint8_t *burst, size_t burst_len,
                        size_t *sent_off)
{
    ssize_t n = write(e->fd, burst + *sent_off, burst_len - *sent_off);

    if (n > 0) {
        *sent_off = (*sent_off + n) % burst_len;
    }
}

static size_t make_burst(uint8_t **burst, size_t len, unsigned frames)
{
    size_t rec = 4 + len, i;

    *burst = g_malloc0(rec * frames);
    for (i = 0; i < frames; i++) {
        uint8_t *r = *burst + i * rec;

        stl_be_p(r, len);
        sh_eth(r + 4, sh_bcast, sh_client_mac, 0x88b6);
    }
    return rec * frames;
}

static double hub_rate_for(Hub *hub, size_t len, double measure_s)
{
    g_autofree uint8_t *burst = NULL;
    size_t blen = make_burst(&burst, len, 512), off = 0;
    double t0 = 0, start = now_s();
    uint64_t n0 = 0;
    bool measuring = false;

    for (;;) {
        struct pollfd pfd[2] = {
            { .fd = hub->a.fd, .events = POLLOUT },
            { .fd = hub->b.fd, .events = POLLIN },
        };
        double t = now_s();

        if (!measuring && t - start >= WARMUP_S) {
            measuring = true;
            t0 = t;
            n0 = hub->b.nrx;
        } else if (measuring && t - t0 >= measure_s) {
            double r = (hub->b.nrx - n0) / (t - t0);

            /* End on a frame boundary: the next frames must parse. */
            while (off % (4 + len)) {
                struct pollfd w = { .fd = hub->a.fd, .events = POLLOUT };
                ssize_t n;

                poll(&w, 1, 10);
                n = write(hub->a.fd, burst + off, (4 + len) - off % (4 + len));
                if (n > 0) {
                    off += n;
                }
                stream_read(&hub->b);
            }
            return r;
        }
        poll(pfd, 2, 1);
        if (pfd[0].revents & POLLOUT) {
            stream_send(&hub->a, burst, blen, &off);
        }
        if (pfd[1].revents & POLLIN) {
            stream_read(&hub->b);
        }
    }
}

static void hub_latency(Hub *hub, double *us)
{
    g_autofree uint8_t *one = NULL;
    size_t len = make_burst(&one, 64, 1);
    unsigned i;

    /*
     * Drain what the throughput run left in flight (the parser keeps any
     * part of a frame, so the count stays right).
     */
    for (i = 0; i < 50; i++) {
        g_usleep(2000);
        stream_read(&hub->b);
    }
    for (i = 0; i < PINGS; i++) {
        uint64_t before = hub->b.nrx;
        double t = now_s();

        g_assert_cmpint(write(hub->a.fd, one, len), ==, (ssize_t)len);
        while (hub->b.nrx == before) {
            if (now_s() - t > 5) {
                g_error("the hub lost a frame");
            }
            struct pollfd pfd = { .fd = hub->b.fd, .events = POLLIN };

            poll(&pfd, 1, 1);
            stream_read(&hub->b);
        }
        us[i] = (now_s() - t) * 1e6;
    }
}

/* ---- latency, pinned -------------------------------------------------- */

typedef struct Latency {
    double p50, p99;
} Latency;

typedef struct LatencyFigures {
    Latency sw[2], hub[2];     /* by Placement */
    bool cross;                /* CROSS_CPU measured: two CPUs to use */
} LatencyFigures;

static Latency summarise(double *us)
{
    return (Latency) { percentile(us, PINGS, 0.50),
                       percentile(us, PINGS, 0.99) };
}

/*
 * Each placement gets a round to settle in (the pinning migrates the
 * processes, caches go cold) before the measured one.
 */
static void latency_figures(SwHarness *h, Hub *hub, LatencyFigures *lf)
{
    static double us[PINGS];
    int a, b, where;

    lf->cross = two_cpus(&a, &b);
    for (where = SAME_CPU; where <= (lf->cross ? CROSS_CPU : SAME_CPU);
         where++) {
        place(qtest_pid(h->qts), where, a, b);
        switch_latency(h, us);
        switch_latency(h, us);
        lf->sw[where] = summarise(us);
        unplace(qtest_pid(h->qts));

        place(qtest_pid(hub->qts), where, a, b);
        hub_latency(hub, us);
        hub_latency(hub, us);
        lf->hub[where] = summarise(us);
        unplace(qtest_pid(hub->qts));
    }
}

static void print_latency(const LatencyFigures *lf)
{
    printf("switch_p50_us: %.1f\n", lf->sw[SAME_CPU].p50);
    printf("switch_p99_us: %.1f\n", lf->sw[SAME_CPU].p99);
    printf("hub_stream_p50_us: %.1f\n", lf->hub[SAME_CPU].p50);
    printf("hub_stream_p99_us: %.1f\n", lf->hub[SAME_CPU].p99);
    if (!lf->cross) {
        fprintf(stderr, "# one CPU to run on: no cross-CPU latency\n");
        return;
    }
    printf("switch_cross_cpu_p50_us: %.1f\n", lf->sw[CROSS_CPU].p50);
    printf("switch_cross_cpu_p99_us: %.1f\n", lf->sw[CROSS_CPU].p99);
    printf("hub_stream_cross_cpu_p50_us: %.1f\n", lf->hub[CROSS_CPU].p50);
    printf("hub_stream_cross_cpu_p99_us: %.1f\n", lf->hub[CROSS_CPU].p99);
}

/* ---- memory -------------------------------------------------------------- */

/*
 * RSS of a chassis whose SH_MAX_SLOTS slots all carry a blade, and of one
 * with no slots: the difference per slot.
 */
#define SMALL_TABLES "flow-table-size=16,mac-table-size=16,mac-limit=16"

static double kib_per_slot(void)
{
    SwHarness h;
    long with, without;
    unsigned i;

    sh_start(&h, 0, false, SMALL_TABLES);
    without = sh_rss_kib(h.qts);
    sh_stop(&h);
    sh_start(&h, SH_MAX_SLOTS, false, SMALL_TABLES);
    for (i = 0; i < SH_MAX_SLOTS; i++) {
        sh_blade_up(&h, i, false);
    }
    with = sh_rss_kib(h.qts);
    sh_stop(&h);
    return (double)(with - without) / SH_MAX_SLOTS;
}

int main(int argc, char **argv)
{
    struct {
        double sw, raw, hub, ratio, raw_ratio;
    } fig[2];
    double up64, up1518;
    LatencyFigures lf;
    SwHarness h, hraw;
    unsigned i, k;
    Hub hub;
    QDict *st, *flows;
    const char *prof;
    AggFigures agg;

    g_test_init(&argc, &argv, NULL);
    if (!g_getenv("QTEST_QEMU_BINARY")) {
        g_setenv("QTEST_QEMU_BINARY", "./qemu-system-x86_64", true);
    }

    prof = g_getenv("BLADEPLANE_SWITCH_BENCH_ONLY");
    if (!g_strcmp0(prof, "4x1G")) {
        agg = switch_4x1g();
        printf("switch_4x1G_offered_ratio: %.3f\n", agg.offered_ratio);
        printf("switch_4x1G_delivered_ratio: %.3f\n", agg.delivered_ratio);
        printf("switch_4x1G_drops: %" PRIu64 "\n", agg.drops);
        return 0;
    }
    if (!g_strcmp0(prof, "latency")) {
        switch_start(&h, false);
        switch_learn(&h);
        hub_start(&hub);
        sh_settle(&h);
        latency_figures(&h, &hub, &lf);
        print_latency(&lf);
        sh_stop(&h);
        hub_stop(&hub);
        return 0;
    }
    if (!g_strcmp0(prof, "iothreads")) {
        iothread_scaling();
        return 0;
    }
    if (prof) {
        /*
         * One figure for a profiler (docs/performance.md, "Where the time
         * goes"): lane to lane, 8b/10b, or raw lanes with a "raw" before
         * the length, frames of this many octets, for PROFILE_S seconds.
         * (4x1G: the aggregate line alone.)
         */
        bool raw = g_str_has_prefix(prof, "raw");
        unsigned long len = 0;

        g_assert_cmpint(qemu_strtoul(prof + (raw ? 3 : 0), NULL, 10, &len),
                        ==, 0);
        g_assert_true(len >= 60 && len <= 1518);
        switch_start(&h, raw);
        switch_learn(&h);
        printf("switch_profile_%s%lu_Gbps: %.3f\n", raw ? "raw" : "", len,
               switch_rate_for(&h, TO_LANE, len, PROFILE_S) * len * 8 / 1e9);
        sh_stop(&h);
        return 0;
    }

    /*
     * The same-run ratios: the switch with 8b/10b lanes, with raw lanes
     * and the hub are all up at once and measured in turn, ROUNDS times
     * for each frame size, so all three see the same load on a shared
     * host; each figure is the median of its rounds, each ratio the
     * median of the rounds' ratios.
     */
    switch_start(&h, false);
    switch_learn(&h);
    switch_start(&hraw, true);
    switch_learn(&hraw);
    hub_start(&hub);
    /* 1: the blades' lanes run on shared-memory rings, 0: the stream */
    printf("switch_lane_rings: %d\n", lane_on_rings(h.blades[0].lane));
    for (i = 0; i < 2; i++) {
        size_t len = i ? 1518 : 64;
        double sw[ROUNDS], raw[ROUNDS], hb[ROUNDS], r[ROUNDS], rr[ROUNDS];

        for (k = 0; k < ROUNDS; k++) {
            sw[k] = switch_rate_for(&h, TO_LANE, len, ROUND_S);
            raw[k] = switch_rate_for(&hraw, TO_LANE, len, ROUND_S);
            hb[k] = hub_rate_for(&hub, len, ROUND_S);
            r[k] = sw[k] / hb[k];
            rr[k] = raw[k] / hb[k];
        }
        fig[i].sw = median(sw);
        fig[i].raw = median(raw);
        fig[i].hub = median(hb);
        fig[i].ratio = median(r);
        fig[i].raw_ratio = median(rr);
    }
    sh_stop(&hraw);
    /*
     * Of the frames slot 0 received, those taken as data runs without
     * code groups; of those slot 1 sent, those sent as data runs (both
     * 0 with BLADEPLANE_LANE_DATA_RUNS=off: the switch then encodes and
     * decodes every frame)
     */
    st = sh_state(&h);
    printf("switch_rx_data_runs_fraction: %.3f\n",
           (double)sh_u64(qdict_get_qdict(sh_item(st, "ports", 0), "pcs"),
                          "data-runs-rx") /
           MAX(1, sh_u64(sh_item(st, "ports", 0), "rx-frames")));
    printf("switch_tx_data_runs_fraction: %.3f\n",
           (double)sh_u64(qdict_get_qdict(sh_item(st, "ports", 1), "pcs"),
                          "data-runs-tx") /
           MAX(1, sh_u64(sh_item(st, "ports", 1), "tx-frames")));
    qobject_unref(st);
    up64 = switch_rate(&h, TO_UPLINK, 64);
    up1518 = switch_rate(&h, TO_UPLINK, 1518);
    sh_settle(&h);
    latency_figures(&h, &hub, &lf);
    st = sh_state(&h);
    flows = qdict_get_qdict(st, "flows");
    printf("mem_per_flow_bytes: %.0f\n",
           (double)sh_u64(flows, "memory") / sh_u64(flows, "capacity"));
    qobject_unref(st);
    sh_stop(&h);
    hub_stop(&hub);

    agg = switch_4x1g();

    printf("switch_64_Mpps: %.3f\n", fig[0].sw / 1e6);
    printf("switch_1518_Gbps: %.3f\n", fig[1].sw * 1518 * 8 / 1e9);
    printf("switch_raw_64_Mpps: %.3f\n", fig[0].raw / 1e6);
    printf("switch_raw_1518_Gbps: %.3f\n", fig[1].raw * 1518 * 8 / 1e9);
    printf("lane_to_uplink_64_Mpps: %.3f\n", up64 / 1e6);
    printf("lane_to_uplink_1518_Gbps: %.3f\n", up1518 * 1518 * 8 / 1e9);
    printf("hub_stream_64_Mpps: %.3f\n", fig[0].hub / 1e6);
    printf("hub_stream_1518_Gbps: %.3f\n", fig[1].hub * 1518 * 8 / 1e9);
    printf("switch_over_hub_64: %.2f\n", fig[0].ratio);
    printf("switch_raw_over_hub_64: %.2f\n", fig[0].raw_ratio);
    printf("switch_over_hub_1518: %.2f\n", fig[1].ratio);
    printf("switch_raw_over_hub_1518: %.2f\n", fig[1].raw_ratio);
    /* 4 slots x 1 Gb/s of 1518-octet frames at once, 8b/10b */
    printf("switch_4x1G_offered_ratio: %.3f\n", agg.offered_ratio);
    printf("switch_4x1G_delivered_ratio: %.3f\n", agg.delivered_ratio);
    printf("switch_4x1G_drops: %" PRIu64 "\n", agg.drops);
    print_latency(&lf);
    printf("mem_per_slot_kib: %.0f\n", kib_per_slot());
    iothread_scaling();
    return 0;
}
