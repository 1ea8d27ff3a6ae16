/*
 * Cost of a received control frame in net/fabric.c (issue 17, item 4):
 * chassis c1 hears, on one port, a neighbour c2 that advertises 256
 * blades held by 8 chassis (c2 to c9, a chain of nine Fabrics run in
 * memory), then sends frames with a header only (part 0 of a round of
 * two, no blades: nothing in c1's tables changes).  Time stands still:
 * the frames keep echoing c1's challenge.  Prints the CPU time
 * c1 spends per such frame, and per complete 256-blade round of c2, in
 * nanoseconds: medians of several repetitions, per CPU second of this
 * thread.  No key: the HMAC would only add its own constant cost.  And
 * the cost of a frame whose chassis table is as long as 1500 octets allow
 * (156 chassis with empty names, no blades): every entry must be checked
 * against the others for duplicates.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fabric.h"

#define MS          1000000ULL
#define CHASSIS     9               /* c1, and c2 .. c9 behind it */
#define BLADES      32              /* each of c2 .. c9: 256 in all */
#define REPS        7
#define FRAMES      5000            /* header-only frames per repetition */
#define ROUNDS      200             /* full rounds per repetition */

/* Offsets of docs/fabric-protocol.md, "Header", from the Ethernet header. */
#define ETH         14
#define P_LENGTH    (ETH + 8)
#define P_PART      (ETH + 10)
#define P_PARTS     (ETH + 11)
#define P_SEQ       (ETH + 28)
#define P_NAMELEN   (ETH + 39)
#define P_NCHASSIS  (ETH + 58)
#define P_NBLADES   (ETH + 59)
#define P_NECHO     (ETH + 76)
#define HDR_LEN     77
#define ECHO_LEN    16
#define E_CPU       8               /* in a blade entry */

typedef struct Msg {
    unsigned dst, port;
    size_t len;
    uint8_t f[FAB_MAX_FRAME];
} Msg;

typedef struct Node {
    Fabric *fab;
    unsigned idx;
} Node;

static Node node[CHASSIS];
static GQueue q = G_QUEUE_INIT;
/* c2's latest round to c1, as sent */
static Msg round_to_c1[16];
static unsigned round_len, round_parts;

/*
 * The chain c1 - c2 - ... - c9: port 0 of each goes towards c1, port 1
 * away from it; c1's only port 0 goes to c2.
 */
static void on_send(void *opaque, unsigned port, const uint8_t *frame,
                    size_t len)
{
    Node *nd = opaque;
    Msg *m;

    if (nd->idx == CHASSIS - 1 && port == 1) {
        return;
    }
    m = g_new(Msg, 1);
    if (nd->idx == 0) {
        m->dst = 1;
        m->port = 0;
    } else if (port == 0) {
        m->dst = nd->idx - 1;
        m->port = m->dst == 0 ? 0 : 1;
    } else {
        m->dst = nd->idx + 1;
        m->port = 0;
    }
    m->len = len;
    memcpy(m->f, frame, len);
    if (nd->idx == 1 && port == 0) {
        if (frame[P_PART] == 0) {
            round_len = 0;
        }
        if (round_len < G_N_ELEMENTS(round_to_c1)) {
            round_to_c1[round_len++] = *m;
            round_parts = frame[P_PARTS];
        }
    }
    g_queue_push_tail(&q, m);
}

static void on_state(void *opaque, unsigned port, bool fwd, const char *why)
{
}

static const FabOps ops = { .send = on_send, .port_state = on_state };

static uint64_t cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
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

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) {
        p[i] = v & 0xff;
    }
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* Run the chain in memory until c1 knows 256 remote blades. */
static uint64_t setup(void)
{
    uint64_t now = 0;

    for (unsigned i = 0; i < CHASSIS; i++) {
        FabConfig cfg;
        FabLocalBlade b[BLADES];

        fab_config_init(&cfg);
        cfg.chassis_id = i + 1;
        snprintf(cfg.name, sizeof(cfg.name), "c%u", i + 1);
        cfg.mac[0] = 2;
        cfg.mac[5] = (uint8_t)(i + 1);
        cfg.nonce = 0x1000 + i + 1;
        node[i].idx = i;
        node[i].fab = fab_new(&cfg, &ops, &node[i]);
        fab_add_port(node[i].fab, "towards-c1");
        if (i > 0) {
            fab_add_port(node[i].fab, "away");
        }
        memset(b, 0, sizeof(b));
        for (unsigned s = 0; s < BLADES; s++) {
            b[s].mac[0] = 2;
            b[s].mac[4] = (uint8_t)(i + 1);
            b[s].mac[5] = (uint8_t)s;
            b[s].slot = (uint8_t)s;
            b[s].in_rotation = true;
            b[s].cpu_pct = (uint8_t)(s % 100);
        }
        fab_set_local_at(node[i].fab, b, i ? BLADES : 0, now);
    }
    for (unsigned i = 0; i < CHASSIS; i++) {
        fab_port_link(node[i].fab, 0, true, now);
        if (i > 0 && i < CHASSIS - 1) {
            fab_port_link(node[i].fab, 1, true, now);
        }
    }
    for (;;) {
        RemoteBlade r[FAB_MAX_BLADES];
        uint64_t next = UINT64_MAX;
        Msg *m;

        while ((m = g_queue_pop_head(&q))) {
            fab_input(node[m->dst].fab, m->port, m->f, m->len, now);
            g_free(m);
        }
        if (fab_remote_blades(node[0].fab, now, r, FAB_MAX_BLADES) ==
            FAB_MAX_BLADES && round_parts && round_len == round_parts) {
            return now;
        }
        for (unsigned i = 0; i < CHASSIS; i++) {
            next = MIN(next, fab_deadline(node[i].fab));
        }
        if (next > 60 * 1000 * MS) {
            fprintf(stderr, "bench-fabric-rx: the chain did not settle\n");
            exit(1);
        }
        now = MAX(now, next);
        for (unsigned i = 0; i < CHASSIS; i++) {
            if (fab_deadline(node[i].fab) <= now) {
                fab_tick(node[i].fab, now);
            }
        }
    }
}

int main(int argc, char **argv)
{
    double hdr[REPS], rnd[REPS], tbl[REPS];
    uint64_t now = setup(), seq;
    Fabric *c1 = node[0].fab;
    RemoteBlade r[FAB_MAX_BLADES];
    FabStats st0, st1;
    Msg ho = round_to_c1[0], ct;
    unsigned off, nch;

    /* part 0 of 2, the header and echoes: chassis table and blades cut */
    off = HDR_LEN + ho.f[P_NAMELEN] + ECHO_LEN * ho.f[P_NECHO];
    ho.f[P_PARTS] = 2;
    ho.f[P_NCHASSIS] = 0;
    ho.f[P_NBLADES] = 0;
    ho.f[P_LENGTH] = off >> 8;
    ho.f[P_LENGTH + 1] = off & 0xff;
    ho.len = ETH + off;
    seq = get64(round_to_c1[round_parts - 1].f + P_SEQ) + 1;

    /* the header-only frame with a long chassis table */
    ct = ho;
    nch = (1500 - off) / 9;
    for (unsigned i = 0; i < nch; i++) {
        put64(ct.f + ETH + off + 9 * i, 1000 + i);
        ct.f[ETH + off + 9 * i + 8] = 0;
    }
    off += 9 * nch;
    ct.f[P_NCHASSIS] = nch;
    ct.f[P_LENGTH] = off >> 8;
    ct.f[P_LENGTH + 1] = off & 0xff;
    ct.len = ETH + off;

    fab_stats(c1, &st0);
    for (int rep = 0; rep < REPS; rep++) {
        uint64_t t0 = cpu_ns();

        for (unsigned i = 0; i < FRAMES; i++) {
            put64(ho.f + P_SEQ, seq++);
            fab_input(c1, 0, ho.f, ho.len, now);
        }
        hdr[rep] = (double)(cpu_ns() - t0) / FRAMES;

        /*
         * The round again and again, renumbered, the cpu figure of its
         * last blade changed each time: a table replaced.
         */
        t0 = cpu_ns();
        for (unsigned k = 0; k < ROUNDS; k++) {
            for (unsigned p = 0; p < round_parts; p++) {
                Msg *m = &round_to_c1[p];

                put64(m->f + P_SEQ, seq++);
                if (p == round_parts - 1) {
                    m->f[m->len - 16 + E_CPU] ^= 1;
                }
                fab_input(c1, 0, m->f, m->len, now);
            }
        }
        rnd[rep] = (double)(cpu_ns() - t0) / ROUNDS;

        t0 = cpu_ns();
        for (unsigned i = 0; i < FRAMES; i++) {
            put64(ct.f + P_SEQ, seq++);
            fab_input(c1, 0, ct.f, ct.len, now);
        }
        tbl[rep] = (double)(cpu_ns() - t0) / FRAMES;
    }
    fab_stats(c1, &st1);
    if (st1.rx_adverts - st0.rx_adverts !=
        (uint64_t)REPS * (2 * FRAMES + ROUNDS * round_parts) ||
        fab_remote_blades(c1, now, r, FAB_MAX_BLADES) != FAB_MAX_BLADES) {
        fprintf(stderr, "bench-fabric-rx: frames were refused (%" PRIu64
                " taken)\n", st1.rx_adverts - st0.rx_adverts);
        return 1;
    }
    printf("bench-fabric-rx: c1 hears a neighbour advertising 256 blades of "
           "8 chassis (rounds of %u frames), no key; CPU ns per frame "
           "(medians of %d)\n", round_parts, REPS);
    printf("fabric_rx_header_only_ns: %.0f\n", median(hdr, REPS));
    printf("fabric_rx_round_256_ns: %.0f\n", median(rnd, REPS));
    printf("fabric_rx_chassis_table_%u_ns: %.0f\n", nch, median(tbl, REPS));
    for (unsigned i = 0; i < CHASSIS; i++) {
        fab_free(node[i].fab);
    }
    return 0;
}
