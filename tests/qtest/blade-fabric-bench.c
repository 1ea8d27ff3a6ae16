/*
 * blade-fabric-bench: what joining chassis costs.  Prints 'name: value'
 * lines (scripts/bladeplane bench fabric):
 *  - one frame at a time from a blade of chassis 1 to a blade of the same
 *    chassis, of the next and of the one after in a daisy chain, and of
 *    another chassis through a central switch: the latency each chain hop
 *    and the central switch add;
 *  - frames/s and Gb/s from chassis 1 across 1, 2 and 3 chain hops;
 *  - the age of a remote blade's figures as chassis 1 holds them when it
 *    places a flow, with blades reporting every 100 ms and the default
 *    advertisement period of 100 ms.
 * The test process is every blade; the chain links are stream netdevs
 * over UNIX sockets, unpaced.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include <arpa/inet.h>
#include "qemu/bswap.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "libqos/blade-fabric-harness.h"

#define PINGS       1000
#define MEASURE_S   1.5
#define WARMUP_S    0.3
#define REPORT_MS   100
#define AGE_SAMPLES 40

static double now_s(void)
{
    return g_get_monotonic_time() / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return v[n / 2];
}

/* Step every chassis's clock by the real time since the last call. */
static void run_clocks(FabHarness *f, double *last)
{
    double t = now_s();
    int64_t ns = (int64_t)((t - *last) * 1e9);
    unsigned i;

    if (ns < 1000000) {
        return;
    }
    *last = t;
    for (i = 0; i < f->n; i++) {
        if (f->h[i].qts) {
            qtest_clock_step(f->h[i].qts, ns);
        }
    }
}

static void pump_all(FabHarness *f)
{
    fh_pump(f, 1);
}

static unsigned count_remote(FabHarness *f)
{
    return fh_remote_in_rotation(&f->h[0]);
}

static bool cond_remote_n(FabHarness *f, void *arg)
{
    return count_remote(f) == GPOINTER_TO_UINT(arg);
}

/* Chassis 1's second blade, up and known by its MAC. */
static void second_blade(FabHarness *f)
{
    SwHarness *h = &f->h[0];
    uint8_t fr[64] = { 0 };

    sh_blade_up(h, 1, false);
    sh_eth(fr, sh_bcast, h->blades[1].mac, 0x88b6);
    sh_blade_send(h, 1, fr, sizeof(fr));
}

/* A daisy chain of @n chassis, two blades in chassis 1, one elsewhere. */
static void start_chain(FabHarness *f, unsigned n, unsigned interval_ms)
{
    unsigned c;

    fh_init(f, n, interval_ms);
    for (c = 1; c <= n; c++) {
        g_autoptr(GString) args = g_string_new("");
        g_autofree char *chain = NULL;

        if (c > 1) {
            fh_netdev(args, f, "c0", c - 2, false);
        }
        if (c < n) {
            fh_netdev(args, f, c > 1 ? "c1" : "c0", c - 1, true);
        }
        chain = g_strdup(c == 1 || c == n ? "[\"c0\"]" : "[\"c0\", \"c1\"]");
        if (n == 1) {
            g_free(chain);
            chain = g_strdup("[]");
        }
        fh_start_chassis(f, c, args->str, chain, c == 1 ? 2 : 1, NULL);
    }
    for (c = 1; c <= n; c++) {
        fh_blade_ready(f, c, 10);
    }
    second_blade(f);
    fh_wait(f, cond_remote_n, GUINT_TO_POINTER(n - 1), "remote blades");
}

/* c1 and c2, each joined to a central switch. */
static void start_central(FabHarness *f)
{
    g_autoptr(GString) a1 = g_string_new(""), a2 = g_string_new("");
    g_autoptr(GString) hub = g_string_new("");

    fh_init(f, 3, 100);
    fh_netdev(hub, f, "c0", 0, true);
    fh_netdev(hub, f, "c1", 1, true);
    fh_netdev(a1, f, "c0", 0, false);
    fh_netdev(a2, f, "c0", 1, false);
    fh_start_chassis(f, 1, a1->str, "[\"c0\"]", 2, NULL);
    fh_start_chassis(f, 2, a2->str, "[\"c0\"]", 1, NULL);
    fh_start_chassis(f, 3, hub->str, "[\"c0\", \"c1\"]", 0,
                  "\"fabric-priority\": 4096");
    fh_blade_ready(f, 1, 10);
    fh_blade_ready(f, 2, 10);
    second_blade(f);
    fh_wait(f, cond_remote_n, GUINT_TO_POINTER(1), "remote blades");
}

/* Median latency (us) of one frame from c1's slot 0 to @dst's slot @slot. */
static double latency(FabHarness *f, unsigned dst, unsigned slot)
{
    static double us[PINGS];
    SwHarness *h1 = &f->h[0];
    ShBlade *to = &f->h[dst - 1].blades[slot];
    uint8_t fr[64] = { 0 };
    unsigned i;

    sh_eth(fr, to->mac, h1->blades[0].mac, 0x88b6);
    to->count_only = true;
    for (i = 0; i < PINGS; i++) {
        uint64_t before = to->nrx;
        double t = now_s();

        g_assert_cmpint(lane_send_frame(h1->blades[0].lane, fr, sizeof(fr),
                                        sh_now(h1)), ==, 0);
        lane_flush(h1->blades[0].lane, sh_now(h1));
        while (to->nrx == before) {
            pump_all(f);
        }
        us[i] = (now_s() - t) * 1e6;
    }
    to->count_only = false;
    return median(us, PINGS);
}

/* Frames/s from c1's slot 0 to @dst's slot 0, frames of @len octets. */
static double rate(FabHarness *f, unsigned dst, size_t len)
{
    ShBlade *to = &f->h[dst - 1].blades[0];
    Lane *tx = f->h[0].blades[0].lane;
    uint8_t fr[1518] = { 0 };
    double t0 = 0, start = now_s();
    uint64_t n0 = 0;
    bool measuring = false;

    sh_eth(fr, to->mac, f->h[0].blades[0].mac, 0x88b6);
    to->count_only = true;
    for (;;) {
        double t = now_s();

        if (!measuring && t - start >= WARMUP_S) {
            measuring = true;
            t0 = t;
            n0 = to->nrx;
        } else if (measuring && t - t0 >= MEASURE_S) {
            to->count_only = false;
            return (to->nrx - n0) / (t - t0);
        }
        while (lane_send_frame(tx, fr, len, sh_now(&f->h[0])) == 0) {
            /* queue until the lane pushes back */
        }
        pump_all(f);
    }
}

/*
 * Blades report every REPORT_MS of real time while every clock follows
 * real time; at random moments, the age of chassis @c's figures as
 * chassis 1 holds them.  Returns the median, ms.
 */
static double remote_age(FabHarness *f, const char *chassis)
{
    static double ages[AGE_SAMPLES];
    double last_clock = now_s(), next_report = now_s(), next_sample;
    unsigned n = 0, i;

    next_sample = now_s() + 1.0;
    while (n < AGE_SAMPLES) {
        double t = now_s();

        run_clocks(f, &last_clock);
        pump_all(f);
        if (t >= next_report) {
            for (i = 0; i < f->n; i++) {
                if (f->h[i].qts && f->h[i].slots) {
                    lane_set_util(f->h[i].blades[0].lane, 10 + n % 50, 0,
                                  sh_now(&f->h[i]));
                }
            }
            next_report += REPORT_MS / 1000.0;
        }
        if (t >= next_sample) {
            QDict *st = sh_state(&f->h[0]);
            QDict *b = fh_remote_blade(st, chassis);

            g_assert_nonnull(b);
            ages[n++] = sh_u64(b, "report-age-ms");
            qobject_unref(st);
            /* Irregular spacing, so the samples do not lock to a period. */
            next_sample = t + 0.037 + 0.011 * (n % 7);
        }
        g_usleep(500);
    }
    return median(ages, AGE_SAMPLES);
}

int main(int argc, char **argv)
{
    double local, hop1, hop2, central, r64[4], r1518[4], age;
    FabHarness f;
    unsigned hops;

    g_test_init(&argc, &argv, NULL);
    if (!g_getenv("QTEST_QEMU_BINARY")) {
        g_setenv("QTEST_QEMU_BINARY", "./qemu-system-x86_64", true);
    }

    start_chain(&f, 3, 100);
    local = latency(&f, 1, 1);
    hop1 = latency(&f, 2, 0);
    hop2 = latency(&f, 3, 0);
    age = remote_age(&f, "c3");
    fh_stop(&f);

    start_central(&f);
    central = latency(&f, 2, 0);
    fh_stop(&f);

    start_chain(&f, 4, 100);
    for (hops = 1; hops <= 3; hops++) {
        r64[hops] = rate(&f, hops + 1, 64);
        r1518[hops] = rate(&f, hops + 1, 1518);
    }
    fh_stop(&f);

    printf("local_latency_us: %.1f\n", local);
    printf("chain_1hop_latency_us: %.1f\n", hop1);
    printf("chain_2hop_latency_us: %.1f\n", hop2);
    printf("central_latency_us: %.1f\n", central);
    /* What one more chassis on the way adds, median to median. */
    printf("chain_hop_latency_us: %.1f\n", (hop2 - local) / 2);
    printf("central_hop_latency_us: %.1f\n", central - local);
    for (hops = 1; hops <= 3; hops++) {
        printf("chain_%uhop_64_Mpps: %.3f\n", hops, r64[hops] / 1e6);
        printf("chain_%uhop_1518_Gbps: %.3f\n", hops,
               r1518[hops] * 1518 * 8 / 1e9);
    }
    printf("remote_util_age_ms: %.0f\n", age);
    return 0;
}
