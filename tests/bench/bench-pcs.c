/*
 * Link-layer benchmark: 8b/10b codec throughput, lane transport frame
 * rates in both pcs modes, and the cost of utilization reporting.
 * Prints "name: value" lines, each the median of several repetitions.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "fcs.h"
#include "lane-transport.h"

#define REPS        5
#define RUN_NS      250000000ULL     /* per lane measurement */
#define RATIO_PAIRS 15               /* on/off pairs, short and alternated */
#define RATIO_RUN_NS 80000000ULL
#define LINE_GBPS   1.0

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * Rates are per CPU second of this thread (user + system), which does the
 * work of both lane ends: on a shared machine, time other processes take
 * does not count against the code measured.
 */
static uint64_t cpu_ns(void)
{
    return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static uint64_t now_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- codec */

typedef struct CodecRates {
    double both;        /* octets per second through encode then decode */
    double enc, dec;    /* the same for each alone */
    double rd;          /* through pcs_data_rd() */
} CodecRates;

/*
 * 64 KiB of random octets encoded, then decoded, 16 times each per
 * round, each half timed on its own; five rounds of 0.2 s of CPU time,
 * the medians.  GB/s are octets of payload (1e9 per second), for both
 * directions together in "both": the rate at which one core could carry
 * a stream through a lane's two ends.
 */
static void bench_codec(CodecRates *rates)
{
    enum { N = 64 * 1024, BATCH = 16 };
    static uint8_t in[N], back[N];
    static uint16_t cgs[N];
    double both[REPS], enc[REPS], dec[REPS], rd[REPS];
    unsigned seed = 12345;

    for (size_t i = 0; i < N; i++) {
        seed = seed * 1103515245 + 12345;
        in[i] = seed >> 16;
    }
    for (int r = 0; r < REPS; r++) {
        uint64_t t0 = cpu_ns(), te = 0, td = 0, tr = 0, bytes = 0;
        unsigned rd_lazy = 0;

        while (cpu_ns() - t0 < 200000000ULL) {
            unsigned rd_tx = PCS_RD_NEG, rd_rx = PCS_RD_NEG;
            uint64_t t1 = cpu_ns(), t2, t3;

            for (int k = 0; k < BATCH; k++) {
                rd_tx = PCS_RD_NEG;
                pcs_encode_data(in, N, cgs, &rd_tx);
            }
            t2 = cpu_ns();
            for (int k = 0; k < BATCH; k++) {
                rd_rx = PCS_RD_NEG;
                /*
                 * Full length decoded: every code group was valid in the
                 * column of the running disparity.
                 */
                if (pcs_decode_data(cgs, N, back, &rd_rx) != N ||
                    rd_rx != rd_tx) {
                    fprintf(stderr, "codec: disparity or decode error\n");
                    exit(1);
                }
            }
            t3 = cpu_ns();
            for (int k = 0; k < BATCH; k++) {
                rd_lazy ^= pcs_data_rd(in, N, PCS_RD_NEG) ^ rd_tx;
            }
            tr += cpu_ns() - t3;
            te += t2 - t1;
            td += t3 - t2;
            bytes += (uint64_t)N * BATCH;
        }
        if (memcmp(in, back, N) != 0 || rd_lazy) {
            fprintf(stderr, "codec: round trip or lazy RD mismatch\n");
            exit(1);
        }
        both[r] = bytes / (double)(te + td);
        enc[r] = bytes / (double)te;
        dec[r] = bytes / (double)td;
        rd[r] = bytes / (double)tr;
    }
    rates->both = median(both, REPS);
    rates->enc = median(enc, REPS);
    rates->dec = median(dec, REPS);
    rates->rd = median(rd, REPS);
}

static void print_codec(const char *level, const CodecRates *r)
{
    printf("pcs_codec%s_GBps: %.3f\n", level, r->both);
    printf("pcs_encode%s_GBps: %.3f\n", level, r->enc);
    printf("pcs_decode%s_GBps: %.3f\n", level, r->dec);
    printf("pcs_data_rd%s_GBps: %.3f\n", level, r->rd);
    fflush(stdout);
}

/* ---- lane */

typedef struct Rx {
    uint64_t frames;
    uint64_t utils;
} Rx;

static void rx_frame(void *opaque, const uint8_t *f, size_t len)
{
    ((Rx *)opaque)->frames++;
}

static void rx_util(void *opaque, const LaneUtil *u)
{
    ((Rx *)opaque)->utils++;
}

static const LaneOps bench_ops = { .rx_frame = rx_frame, .rx_util = rx_util };

static void service(Lane *l, uint64_t now)
{
    LaneFd fds[LANE_MAX_FDS];
    struct pollfd p[LANE_MAX_FDS];
    int n;

    if (lane_deadline(l) <= now) {
        lane_handle_timer(l, now);
    }
    n = lane_get_fds(l, fds);
    for (int i = 0; i < n; i++) {
        p[i].fd = fds[i].fd;
        p[i].events = fds[i].events;
    }
    if (n > 0 && poll(p, n, 0) > 0) {
        for (int i = 0; i < n; i++) {
            if (p[i].revents) {
                lane_handle_io(l, p[i].fd, p[i].revents, now);
            }
        }
    }
}

/*
 * Frames of @len octets (FCS included) from one lane to another over a
 * socketpair, both ends in this thread, unpaced.  Returns frames/s.
 */
/* Off: 8b10b frames go as code groups (as before data runs). */
static bool lane_data_runs = true;
/*
 * On: the two ends move to the shared-memory rings (a offers them, b
 * accepts, as a NIC and the switch do) once the link is up; off: they
 * stay on the socketpair's stream.
 */
static bool lane_rings;

static double lane_rate(LanePcs pcs, size_t len, bool util, uint64_t run_ns,
                        uint64_t *utils)
{
    LaneConfig c;
    Lane *a, *b;
    Rx ra = { 0 }, rb = { 0 };
    uint8_t frame[ETH_MAX_FRAME];
    uint64_t t0, t, c0, sent = 0, base;
    int sv[2];

    memset(frame, 0x5a, sizeof(frame));
    lane_config_init(&c, LANE_ROLE_FD, NULL);
    c.pcs = pcs;
    c.speed_mbps = 0;
    c.util_interval_ns = util ? 1000000 : 0;
    c.tx_queue_bytes = 256 * 1024;
    c.data_runs = lane_data_runs;
    c.shm = lane_rings ? LANE_SHM_OFFER : LANE_SHM_OFF;
    a = lane_new(&c, &bench_ops, &ra, 0, NULL);
    c.shm = lane_rings ? LANE_SHM_ACCEPT : LANE_SHM_OFF;
    b = lane_new(&c, &bench_ops, &rb, 0, NULL);
    if (!a || !b || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        perror("lane setup");
        exit(1);
    }
    t0 = now_ns();
    lane_attach_fd(a, sv[0], t0);
    lane_attach_fd(b, sv[1], t0);
    lane_set_util(a, 37, 4, t0);
    while (!lane_is_link_up(a) || !lane_is_link_up(b) ||
           (lane_rings && (!lane_on_rings(a) || !lane_on_rings(b)))) {
        service(a, now_ns());
        service(b, now_ns());
        if (now_ns() - t0 > 1000000000ULL) {
            fprintf(stderr, "lane: no link%s\n", lane_rings ? " on rings" : "");
            exit(1);
        }
    }
    base = rb.frames;
    c0 = cpu_ns();
    t0 = t = now_ns();
    while (cpu_ns() - c0 < run_ns) {
        for (int k = 0; k < 32; k++) {
            if (lane_send_frame(a, frame, len - ETH_FCS_LEN, t) != 0) {
                break;
            }
            sent++;
        }
        lane_flush(a, t);
        service(b, t);
        service(a, t);
        t = now_ns();
    }
    if (utils) {
        *utils = rb.utils;
    }
    if (rb.frames - base < sent / 2) {
        fprintf(stderr, "lane: frames lost\n");
        exit(1);
    }
    lane_free(a);
    lane_free(b);
    return (rb.frames - base) / ((cpu_ns() - c0) / 1e9);
}

static double lane_median(LanePcs pcs, size_t len)
{
    double v[5];

    for (int r = 0; r < 5; r++) {
        v[r] = lane_rate(pcs, len, false, RUN_NS, NULL);
    }
    return median(v, 5);
}

int main(int argc, char **argv)
{
    double r8_1518, rr_1518, r8_64, rr_64, ratio[RATIO_PAIRS], on, off;
    double cg_1518, cg_64;
    uint64_t utils = 0;
    CodecRates codec;

    printf("bench-pcs: 8b/10b encode+decode per core (%s); lane transport "
           "(socketpair, and raw and 8b10b 64-octet frames on the "
           "shared-memory rings; both ends on one core, unpaced); "
           "utilization reporting cost (medians; per CPU second of the "
           "thread)\n",
           pcs_codec_limit_simd(2) == 2 ? "AVX2, then portable" :
           "portable");
    fflush(stdout);
    /* the host's best level (AVX2 where it has it), then portable */
    bench_codec(&codec);
    print_codec("", &codec);
    printf("pcs_codec_line_rate_x: %.1f\n", codec.both / (LINE_GBPS / 8));
    pcs_codec_limit_simd(0);
    bench_codec(&codec);
    print_codec("_portable", &codec);
    pcs_codec_limit_simd(2);

    r8_1518 = lane_median(LANE_PCS_8B10B, 1518);
    rr_1518 = lane_median(LANE_PCS_RAW, 1518);
    r8_64 = lane_median(LANE_PCS_8B10B, 64);
    rr_64 = lane_median(LANE_PCS_RAW, 64);
    printf("lane_8b10b_1518_Gbps: %.2f\n", r8_1518 * 1518 * 8 / 1e9);
    printf("lane_8b10b_1518_kpps: %.1f\n", r8_1518 / 1e3);
    printf("lane_raw_1518_Gbps: %.2f\n", rr_1518 * 1518 * 8 / 1e9);
    printf("lane_raw_1518_kpps: %.1f\n", rr_1518 / 1e3);
    printf("lane_8b10b_64_Mpps: %.3f\n", r8_64 / 1e6);
    printf("lane_8b10b_64_Gbps: %.2f\n", r8_64 * 64 * 8 / 1e9);
    printf("lane_raw_64_Mpps: %.3f\n", rr_64 / 1e6);
    fflush(stdout);
    /* the same two ends on the shared-memory rings, as blades and switch */
    lane_rings = true;
    printf("lane_raw_64_rings_Mpps: %.3f\n",
           lane_median(LANE_PCS_RAW, 64) / 1e6);
    printf("lane_8b10b_64_rings_Mpps: %.3f\n",
           lane_median(LANE_PCS_8B10B, 64) / 1e6);
    lane_rings = false;
    fflush(stdout);
    /* the same 8b10b lanes with data runs off: code groups both ends */
    lane_data_runs = false;
    cg_1518 = lane_median(LANE_PCS_8B10B, 1518);
    cg_64 = lane_median(LANE_PCS_8B10B, 64);
    lane_data_runs = true;
    printf("lane_8b10b_cg_1518_Gbps: %.2f\n", cg_1518 * 1518 * 8 / 1e9);
    printf("lane_8b10b_cg_64_Mpps: %.3f\n", cg_64 / 1e6);
    printf("lane_8b10b_data_runs_speedup_1518: %.2f\n", r8_1518 / cg_1518);
    printf("lane_8b10b_data_runs_speedup_64: %.2f\n", r8_64 / cg_64);
    fflush(stdout);

    /*
     * Reporting on vs off, interleaved so drift hits both alike; 64-octet
     * frames in 8b10b are where a per-frame cost would show most (a set
     * rides after a frame only when the sample changed or the last set is
     * an interval old).
     */
    for (int r = 0; r < RATIO_PAIRS; r++) {
        /* alternate the order so that neither always runs first */
        if (r & 1) {
            off = lane_rate(LANE_PCS_8B10B, 64, false, RATIO_RUN_NS, NULL);
            on = lane_rate(LANE_PCS_8B10B, 64, true, RATIO_RUN_NS, &utils);
        } else {
            on = lane_rate(LANE_PCS_8B10B, 64, true, RATIO_RUN_NS, &utils);
            off = lane_rate(LANE_PCS_8B10B, 64, false, RATIO_RUN_NS, NULL);
        }
        ratio[r] = on / off;
    }
    printf("util_reporting_throughput_ratio: %.3f\n",
           median(ratio, RATIO_PAIRS));
    for (int r = 0; r < RATIO_PAIRS; r++) {
        if (r & 1) {
            off = lane_rate(LANE_PCS_8B10B, 1518, false, RATIO_RUN_NS, NULL);
            on = lane_rate(LANE_PCS_8B10B, 1518, true, RATIO_RUN_NS, NULL);
        } else {
            on = lane_rate(LANE_PCS_8B10B, 1518, true, RATIO_RUN_NS, NULL);
            off = lane_rate(LANE_PCS_8B10B, 1518, false, RATIO_RUN_NS, NULL);
        }
        ratio[r] = on / off;
    }
    printf("util_reporting_throughput_ratio_1518: %.3f\n",
           median(ratio, RATIO_PAIRS));
    printf("util_sets_received_last_run: %llu\n", (unsigned long long)utils);
    return 0;
}
