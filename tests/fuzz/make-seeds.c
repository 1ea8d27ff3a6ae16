/*
 * Writes the seed corpora of the fuzz targets (committed; rerun only when
 * the formats change), from tests/fuzz:
 *   cc -DBLADE_NET_STANDALONE -I../../net make-seeds.c \
 *      ../../net/pcs-*.c ../../net/fcs.c \
 *      ../../net/fabric.c ../../net/tso.c \
 *      $(pkg-config --cflags --libs glib-2.0) -lz
 *   ./a.out corpus
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <string.h>

#include "fabric.h"
#include "fcs.h"
#include "lane-transport.h"

static uint16_t cg[20000];
static uint8_t buf[100000];

static void put(const char *dir, const char *name, const void *p, size_t n)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
        perror(path);
    }
}

static size_t rec(uint8_t *p, uint8_t tag, const void *payload, size_t len)
{
    p[0] = tag;
    p[1] = 0;
    p[2] = len & 0xff;
    p[3] = len >> 8;
    memcpy(p + 4, payload, len);
    return 4 + len;
}

/* fabric: the frames a lone chassis sends */
static uint8_t fab_frame[FAB_MAX_FRAME];
static size_t fab_frame_len;

static void fab_send(void *opaque, unsigned port, const uint8_t *frame,
                     size_t len)
{
    memcpy(fab_frame, frame, len);
    fab_frame_len = len;
}

static void fab_state(void *opaque, unsigned port, bool fwd, const char *why)
{
}

/* A raw record of the fabric target: port, ms, length, frame. */
static size_t fab_raw(uint8_t *p, uint8_t port, uint8_t ms,
                      const uint8_t *f, size_t len)
{
    p[0] = port;
    p[1] = ms;
    p[2] = len >> 8;
    p[3] = len & 0xff;
    memcpy(p + 4, f, len);
    return 4 + len;
}

/* An edit record: port, ms, frame, edits (offset, xor), length (0: all). */
static size_t fab_edit(uint8_t *p, uint8_t port, uint8_t ms, uint8_t frame,
                       unsigned n, const uint16_t *off, const uint8_t *x,
                       uint16_t len)
{
    size_t k = 0;

    p[k++] = port;
    p[k++] = ms;
    p[k++] = frame;
    p[k++] = n;
    for (unsigned i = 0; i < n; i++) {
        p[k++] = off[i] >> 8;
        p[k++] = off[i] & 0xff;
        p[k++] = x[i];
    }
    p[k++] = len >> 8;
    p[k++] = len & 0xff;
    return k;
}

static void fabric_seeds(const char *top)
{
    static const FabOps ops = { .send = fab_send, .port_state = fab_state };
    /* version, blade count, echo count */
    static const uint16_t off[] = { 14 + 4, 14 + 59, 14 + 76 };
    static const uint8_t x[] = { 1, 0x80, 0x40 };
    FabLocalBlade b = { .mac = { 2, 0, 0, 0, 7, 1 }, .slot = 1,
                        .in_rotation = true, .cpu_pct = 30,
                        .irq_pct = 4, .age_ms = 2 };
    FabConfig cfg;
    Fabric *fab;
    char dir[256];
    size_t len;

    snprintf(dir, sizeof(dir), "%s/fabric", top);

    /* raw: a lone chassis's first advertisement, whole and cut short */
    fab_config_init(&cfg);
    cfg.chassis_id = 7;
    strcpy(cfg.name, "seed");
    cfg.mac[0] = 2;
    cfg.nonce = 77;
    fab = fab_new(&cfg, &ops, NULL);
    fab_add_port(fab, "p");
    fab_set_local_at(fab, &b, 1, 0);
    fab_port_link(fab, 0, true, 0);
    fab_tick(fab, 0);
    fab_free(fab);
    len = 0;
    buf[len++] = 0;
    len += fab_raw(buf + len, 0, 10, fab_frame, fab_frame_len);
    len += fab_raw(buf + len, 1, 10, fab_frame, fab_frame_len - 20);
    put(dir, "raw", buf, len);

    /* edits: the chain's frames in order, the receiver's links untouched */
    len = 0;
    buf[len++] = 0x02;
    for (unsigned i = 0; i < 40; i++) {
        len += fab_edit(buf + len, 0, 12, i, 0, NULL, NULL, 0);
    }
    len += fab_edit(buf + len, 0, 0, 5, 3, off, x, 0);
    len += fab_edit(buf + len, 0, 0, 6, 0, NULL, NULL, 40);
    put(dir, "edits", buf, len);

    /* keyed: the same with the key, some edits signed again */
    buf[0] = 0x0f;
    put(dir, "edits-keyed", buf, len);
    buf[0] = 0x0b;
    put(dir, "edits-unsigned", buf, len);

    /* the receiver in chassis 3's place: the frames that echo it */
    buf[0] = 0x42;
    put(dir, "edits-c3", buf, len);
    buf[0] = 0x4f;
    put(dir, "edits-c3-keyed", buf, len);

    /* the receiver is the chain's chassis 2: its own frames, an impostor */
    buf[0] = 0x12;
    put(dir, "edits-own", buf, len);
    buf[0] = 0x22;
    put(dir, "edits-impostor", buf, len);
}

static size_t cg_rec(uint8_t *p, size_t n)
{
    uint8_t le[40000];

    for (size_t i = 0; i < n; i++) {
        le[2 * i] = cg[i] & 0xff;
        le[2 * i + 1] = cg[i] >> 8;
    }
    return rec(p, LANE_TAG_CG, le, 2 * n);
}

/* ---- lane-records in virtual time ---------------------------------------- */

/* A record with an 8-octet stamp in front of its payload. */
static size_t srec(uint8_t *p, uint8_t tag, uint64_t stamp,
                   const void *payload, size_t len)
{
    static uint8_t v[LANE_VTIME_LEN + 40000];

    for (int i = 0; i < LANE_VTIME_LEN; i++) {
        v[i] = stamp >> (8 * i);
    }
    memcpy(v + LANE_VTIME_LEN, payload, len);
    len = rec(p, tag, v, LANE_VTIME_LEN + len);
    p[1] = LANE_REC_F_VTIME;
    return len;
}

/* cg[0..n) as a stamped CG record. */
static size_t scg_rec(uint8_t *p, uint64_t stamp, size_t n)
{
    static uint8_t le[40000];

    for (size_t i = 0; i < n; i++) {
        le[2 * i] = cg[i] & 0xff;
        le[2 * i + 1] = cg[i] >> 8;
    }
    return srec(p, LANE_TAG_CG, stamp, le, 2 * n);
}

static size_t promise_rec(uint8_t *p, uint64_t t)
{
    uint8_t v[LANE_VTIME_LEN];

    for (int i = 0; i < LANE_VTIME_LEN; i++) {
        v[i] = t >> (8 * i);
    }
    return rec(p, LANE_TAG_PROMISE, v, sizeof(v));
}

/* A quiet promise: nothing before T, none before W unless written to. */
static size_t quiet_rec(uint8_t *p, uint64_t t, uint64_t w, uint64_t read)
{
    uint8_t v[LANE_PROMISE_QUIET_LEN];

    for (int i = 0; i < LANE_VTIME_LEN; i++) {
        v[i] = t >> (8 * i);
        v[LANE_VTIME_LEN + i] = w >> (8 * i);
        v[2 * LANE_VTIME_LEN + i] = read >> (8 * i);
    }
    return rec(p, LANE_TAG_PROMISE, v, sizeof(v));
}

/*
 * Chunk octet: bit 0 raw, bit 1 virtual time, bit 2 a latency at the end
 * of the range, bit 4 a late start, bit 5 a second connection half-way
 * (fuzz-lane-records.c).
 */
static void vtime_seeds(const char *top, const uint8_t *frame,
                        const PcsUtil *u)
{
    static const uint8_t vhello[2][12] = {
        { 'B', 'P', 'L', 'N', LANE_VERSION, 0, LANE_HELLO_CAP_VTIME, 0,
          0xe8, 3, 0, 0 },
        { 'B', 'P', 'L', 'N', LANE_VERSION, 1, LANE_HELLO_CAP_VTIME, 0,
          0xe8, 3, 0, 0 },
    };
    uint8_t f[200];
    char dir[256];
    unsigned rd;
    size_t len, n;

    snprintf(dir, sizeof(dir), "%s/lane-records", top);

    /* raw: negotiation, a frame and a sample, stamped, with promises */
    len = 0;
    buf[len++] = 0x43;
    len += rec(buf + len, LANE_TAG_HELLO, vhello[1], 12);
    len += srec(buf + len, LANE_TAG_CONFIG, 1000, "\xa0\x41", 2);
    len += srec(buf + len, LANE_TAG_CONFIG, 2000, "\xa0\x01", 2);
    len += promise_rec(buf + len, 5000);
    memcpy(f, frame, 100);
    eth_fcs_append(f, 100);
    len += srec(buf + len, LANE_TAG_FRAME, 6000, f, 104);
    len += srec(buf + len, LANE_TAG_UTIL, 6000, "\x2a\x07\x03\x00", 4);
    len += promise_rec(buf + len, 10000);
    len += srec(buf + len, LANE_TAG_SIGNAL, 11000, "\1", 1);
    put(dir, "vtime-raw", buf, len);

    /* 8b10b: the same in code groups */
    len = 0;
    buf[len++] = 0x42;
    len += rec(buf + len, LANE_TAG_HELLO, vhello[0], 12);
    rd = PCS_RD_NEG;
    n = 0;
    for (unsigned i = 0; i < 4; i++) {
        n += pcs_tx_config(0x41a0, i & 1, cg + n, &rd);
    }
    len += scg_rec(buf + len, 1000, n);
    len += promise_rec(buf + len, 3000);
    rd = PCS_RD_NEG;
    n = pcs_tx_frame(frame, 100, cg, &rd);
    n += pcs_tx_util(u, PCS_UTIL_FORM_IDLE, cg + n, &rd);
    len += scg_rec(buf + len, 3000, n);
    len += promise_rec(buf + len, 9000);
    put(dir, "vtime-8b10b", buf, len);

    /*
     * violations, each cutting the connection (the next octets connect
     * again): a promise that goes back, a stamp below the last one, a
     * record without its stamp, a stamp below a promise
     */
    len = 0;
    buf[len++] = 0x43;
    len += rec(buf + len, LANE_TAG_HELLO, vhello[1], 12);
    len += srec(buf + len, LANE_TAG_CONFIG, 5000, "\xa0\x41", 2);
    len += promise_rec(buf + len, 4000);
    len += rec(buf + len, LANE_TAG_HELLO, vhello[1], 12);
    len += srec(buf + len, LANE_TAG_CONFIG, 10, "\xa0\x41", 2);
    len += rec(buf + len, LANE_TAG_HELLO, vhello[1], 12);
    len += rec(buf + len, LANE_TAG_CONFIG, "\xa0\x41", 2);
    len += rec(buf + len, LANE_TAG_HELLO, vhello[1], 12);
    len += promise_rec(buf + len, 20000);
    len += srec(buf + len, LANE_TAG_SIGNAL, 19999, "\1", 1);
    put(dir, "vtime-violations", buf, len);

    /*
     * One violation a seed: the rest of a connection after a cut is
     * dropped (the octets already fed with it too), so in the seed above
     * only the first one counts.  Each of these counts its own, on the
     * path it names (fuzz-lane-records feeds a chunk, then moves the
     * clock 1 ms).
     */
    /* a stamp below the last one, taken when the held CONFIG is due */
    len = 0;
    buf[len++] = 0x43;
    len += rec(buf + len, LANE_TAG_HELLO, vhello[1], 12);
    len += srec(buf + len, LANE_TAG_CONFIG, 5000, "\xa0\x41", 2);
    len += srec(buf + len, LANE_TAG_CONFIG, 10, "\xa0\x41", 2);
    put(dir, "vtime-stamp-back", buf, len);

    /* a stamp below the promise, still in the future: the hold checks it */
    len = 0;
    buf[len++] = 0x43;
    len += rec(buf + len, LANE_TAG_HELLO, vhello[1], 12);
    len += promise_rec(buf + len, 20000000);
    len += srec(buf + len, LANE_TAG_SIGNAL, 19999999, "\1", 1);
    put(dir, "vtime-stamp-broke-promise", buf, len);

    /* a promise below the promise before it */
    len = 0;
    buf[len++] = 0x43;
    len += rec(buf + len, LANE_TAG_HELLO, vhello[1], 12);
    len += promise_rec(buf + len, 5000);
    len += promise_rec(buf + len, 4999);
    put(dir, "vtime-promise-back", buf, len);

    /* a CONFIG without its stamp */
    len = 0;
    buf[len++] = 0x43;
    len += rec(buf + len, LANE_TAG_HELLO, vhello[1], 12);
    len += rec(buf + len, LANE_TAG_CONFIG, "\xa0\x41", 2);
    put(dir, "vtime-unstamped", buf, len);

    /* the end of the range, with the largest latency */
    len = 0;
    buf[len++] = 0x47;
    len += rec(buf + len, LANE_TAG_HELLO, vhello[1], 12);
    len += promise_rec(buf + len, UINT64_MAX - 1);
    len += srec(buf + len, LANE_TAG_CONFIG, UINT64_MAX, "\xa0\x41", 2);
    len += promise_rec(buf + len, UINT64_MAX);
    len += srec(buf + len, LANE_TAG_FRAME, UINT64_MAX, f, 104);
    put(dir, "vtime-end", buf, len);

    /*
     * A peer that leaves after a quiet promise, and a new one on the same
     * link (its hello says so) that goes on from where the first left,
     * to a lane that started late.  The second connection comes half-way
     * (at a chunk's start): each half is padded to 2 chunks of 0x33
     * octets with a record of an unknown tag, skipped.
     */
    len = 0;
    buf[len++] = 0x33;
    len += rec(buf + len, LANE_TAG_HELLO, vhello[1], 12);
    len += srec(buf + len, LANE_TAG_CONFIG, 1000, "\xa0\x41", 2);
    len += promise_rec(buf + len, 5000);
    len += quiet_rec(buf + len, 6000, 900000, 0);
    memset(f, 0, sizeof(f));
    len += rec(buf + len, 0x7e, f, 1 + 2 * 0x33 - len - LANE_REC_HDR);
    memcpy(f, vhello[1], 12);
    f[6] |= LANE_HELLO_CAP_VTIME_NEW;
    n = len;
    len += rec(buf + len, LANE_TAG_HELLO, f, 12);
    len += srec(buf + len, LANE_TAG_CONFIG, 900000, "\xa0\x41", 2);
    len += promise_rec(buf + len, 950000);
    memset(f, 0, sizeof(f));
    len += rec(buf + len, 0x7e, f, n + 2 * 0x33 - len - LANE_REC_HDR);
    put(dir, "vtime-new-peer", buf, len);
}

/* ---- switch-frames: records for fuzz-switch-frames.c --------------------- */

/* Port of slot @s in the target: the slots are ports 4..1. */
#define SW_SLOT_PORT(s) (4 - (s))

/* A frame record: broadcast from the blade of @port's slot (a hello). */
static size_t sw_hello(uint8_t *p, unsigned port)
{
    size_t len = 60;

    /* op 0, destination palette 2 (broadcast), source palette 2 (blade) */
    p[0] = 0x00 | 2 << 3 | 2 << 6;
    p[1] = port;
    p[2] = 0;
    p[3] = len & 0xff;
    p[4] = len >> 8;
    memset(p + 5, 0, len);
    p[5 + 12] = 0x88;
    p[5 + 13] = 0xb6;
    return 5 + len;
}

static size_t sw_report(uint8_t *p, unsigned slot, uint8_t dt, uint8_t cpu)
{
    p[0] = 6;
    p[1] = slot;
    p[2] = dt;
    p[3] = cpu;
    p[4] = cpu / 4;
    return 5;
}

/*
 * A packet to the switch's MAC built by the target: client, VIP (palette
 * index), protocol (0 TCP, 1 UDP, 2 ICMP), source port, destination port
 * (palette index: 0 is 80, 1 is 22, 2 is 53), TCP flags, payload.
 */
static size_t sw_packet(uint8_t *p, unsigned port, uint8_t dt,
                        uint8_t client, uint8_t vip, uint8_t proto,
                        uint8_t sport, uint8_t dport, uint8_t flags,
                        uint8_t payload)
{
    p[0] = 4;
    p[1] = port;
    p[2] = dt;
    p[3] = client;
    p[4] = vip;
    p[5] = proto;
    p[6] = sport;
    p[7] = dport;
    p[8] = flags;
    p[9] = payload;
    p[10] = 0;
    return 11;
}

static size_t sw_manage(uint8_t *p, uint8_t sub, uint8_t dt,
                        const uint8_t *args, size_t n)
{
    p[0] = 7;
    p[1] = sub;
    p[2] = dt;
    memcpy(p + 3, args, n);
    return 3 + n;
}

static void switch_seeds(const char *corpus)
{
    static const uint8_t arp_vip[3] = { 0, 0, 0 };
    static const uint8_t echo[9] = { 0, 0, 0, 2, 0x11, 0x22, 0, 16, 0 };
    /* a steering rule "web", any VIP, TCP 443-8080, slots 1 and 2, rr */
    static const uint8_t add[12] = { 1, 0, 3, 0, 0x43, 2, 2, 1, 2 };
    static const uint8_t del[1] = { 0 };
    static const uint8_t policy[1] = { 1 << 2 };   /* web: random */
    char dir[256];
    size_t len;
    unsigned s;

    snprintf(dir, sizeof(dir), "%s/switch-frames", corpus);

    /* blades up, flows to each service, close, age, ARP and ping */
    len = 0;
    buf[len++] = 0x07;      /* 8 flows, 2 MACs: evictions */
    for (s = 0; s < 4; s++) {
        len += sw_hello(buf + len, SW_SLOT_PORT(s));
        len += sw_report(buf + len, s, 0, 10 + 20 * s);
    }
    len += sw_manage(buf + len, 5, 1, arp_vip, sizeof(arp_vip));
    for (s = 0; s < 3; s++) {
        len += sw_packet(buf + len, 0, 1, s, 0, 0, s, 0, 0x02, 0);
        len += sw_packet(buf + len, 0, 1, s, 0, 0, s, 0, 0x18, 40);
    }
    len += sw_packet(buf + len, 0, 1, 0, 0, 1, 3, 2, 0, 20);
    len += sw_packet(buf + len, 0, 1, 1, 1, 0, 4, 1, 0x02, 0);
    len += sw_packet(buf + len, 0, 1, 2, 1, 0, 5, 3, 0x02, 0);
    len += sw_packet(buf + len, 0, 1, 0, 0, 0, 0, 0, 0x11, 0);
    len += sw_packet(buf + len, 0, 1, 1, 0, 0, 1, 0, 0x04, 0);
    len += sw_manage(buf + len, 6, 1, echo, sizeof(echo));
    len += sw_manage(buf + len, 4, 0, NULL, 0);
    len += sw_manage(buf + len, 4, 0, NULL, 0);
    len += sw_report(buf + len, 1, 40, 50);
    len += sw_manage(buf + len, 3, 40, NULL, 0);
    len += sw_packet(buf + len, 0, 1, 2, 0, 0, 2, 0, 0x10, 10);
    put(dir, "session", buf, len);

    /* a blade's link goes down and comes back; rules change */
    len = 0;
    buf[len++] = 0x8f;      /* 16 flows, fabric frames to the callback */
    for (s = 0; s < 4; s++) {
        len += sw_hello(buf + len, SW_SLOT_PORT(s));
        len += sw_report(buf + len, s, 0, 30);
    }
    for (s = 0; s < 6; s++) {
        len += sw_packet(buf + len, 0, 0, s & 3, 0, 0, s, 0, 0x02, 0);
    }
    buf[len++] = 5;         /* slot 0 down */
    buf[len++] = SW_SLOT_PORT(0);
    buf[len++] = 1;
    for (s = 0; s < 6; s++) {
        len += sw_packet(buf + len, 0, 0, s & 3, 0, 0, s, 0, 0x10, 5);
    }
    buf[len++] = 5 | 8;     /* and up */
    buf[len++] = SW_SLOT_PORT(0);
    buf[len++] = 1;
    len += sw_hello(buf + len, SW_SLOT_PORT(0));
    len += sw_report(buf + len, 0, 0, 5);
    len += sw_manage(buf + len, 1, 0, del, sizeof(del));
    len += sw_packet(buf + len, 0, 0, 3, 0, 0, 7, 0, 0x10, 0);
    len += sw_manage(buf + len, 0, 0, add, sizeof(add));
    len += sw_packet(buf + len, 0, 0, 3, 0, 0, 7, 3, 0x02, 0);
    len += sw_manage(buf + len, 2, 0, policy, sizeof(policy));
    /* a fabric frame from the chain port */
    buf[len++] = 0x00 | 2 << 3 | 1 << 6;
    buf[len++] = 5;
    buf[len++] = 0;
    buf[len++] = 64;
    buf[len++] = 0;
    memset(buf + len, 0, 64);
    buf[len + 12] = 0x88;
    buf[len + 13] = 0xb5;
    len += 64;
    put(dir, "link-rules", buf, len);
}

/*
 * fuzz-lane-ring: operation lists (the opcodes are in fuzz-lane-ring.c).
 * Offsets: ring 0's size at 48 (header), its consumer line at 384, ring
 * 1's producer line at 512.
 */
static void ring_seeds(const char *corpus)
{
    /* both directions, lengths that wrap the 4 KiB rings */
    static const uint8_t stream[] = {
        0, 100, 1, 50, 1, 50, 0, 127, 0, 127, 1, 255, 1, 255, 0, 128,
        2, 30, 2, 200, 7, 90, 8, 40, 7, 128, 8, 255, 8, 255, 0, 1, 2, 1,
    };
    /* sleeping on data and on space */
    static const uint8_t sleep[] = {
        5, 3, 5, 0, 1, 10, 0, 128, 6, 20, 0, 128, 6, 128, 5, 64, 6, 1,
    };
    /* a consumer index past the producer's, then a read */
    static const uint8_t index[] = {
        0, 10, 1, 4, 3, 96, 0xff, 0x0f, 0, 0, 1, 10, 0, 1,
    };
    /* the header's ring size doubled */
    static const uint8_t header[] = {
        0, 10, 3, 12, 0, 0x20, 0, 0, 1, 10, 0, 10,
    };
    /* data scribbled between reads, and ring 1's producer index */
    static const uint8_t scribble[] = {
        0, 50, 4, 0x10, 0x10, 0x55, 1, 50, 7, 20, 4, 0x00, 0x02, 0x7f, 8, 20,
    };
    /* a third end attached to copies of the region, good then bad */
    static const uint8_t attach[] = {
        0, 20, 9, 10, 7, 5, 9, 200, 3, 2, 0, 1, 0, 0, 9, 10, 3, 2, 88, 0,
        0, 0, 3, 12, 0, 0x20, 0, 0, 9, 10,
    };
    char dir[256];

    snprintf(dir, sizeof(dir), "%s/lane-ring", corpus);
    put(dir, "stream", stream, sizeof(stream));
    put(dir, "sleep", sleep, sizeof(sleep));
    put(dir, "index", index, sizeof(index));
    put(dir, "header", header, sizeof(header));
    put(dir, "scribble", scribble, sizeof(scribble));
    put(dir, "attach", attach, sizeof(attach));
}

/*
 * fuzz-lane-shm: a mode octet, then operations (the opcodes are in
 * fuzz-lane-shm.c).  1 op v len is a RING record (v 255: the version).
 */
static void shm_seeds(const char *corpus)
{
    /* switch slot: a clean offer of a valid region, then both rings */
    static const uint8_t accept[] = {
        0, 0, 3, 0, 1, 1, 255, 0, 7, 1, 0, 1, 4, 0, 0,
        4, 5, LANE_TAG_SIGNAL, 0, 1, 0, 1, 7, 1, 0, 5, 10, 7, 150, 20,
        5, 100, 4, 5, LANE_TAG_SIGNAL, 0, 1, 0, 0, 5, 100,
    };
    /* fds of the wrong kinds, then a crafted region, offered each time */
    static const uint8_t bad_fds[] = {
        0, 0, 3, 2, 3, 0, 1, 3, 1, 1, 255, 0, 7, 1, 0,
        3, 2, 4, 0, 0, 0, 0, 1, 1, 255, 0, 7, 1, 0,
        3, 1, 0, 7, 12, 0, 0x20, 0, 0, 1, 1, 255, 0, 7, 1, 0,
        3, 1, 0, 3, 0, 0, 0, 0, 0, 1, 1, 255, 0, 7, 1, 0,
        3, 2, 3, 5, 0, 0, 1, 1, 255, 0, 7, 1, 0,
        3, 1, 0, 7, 255, 0, 0, 0, 0, 1, 1, 255, 0, 7, 1, 0,
    };
    /*
     * an offer without fds, an accept without an offer, a reconnect and
     * a new offer; one after the accept; a bad version
     */
    static const uint8_t unasked[] = {
        0, 0, 1, 1, 255, 0, 7, 1, 0, 1, 2, 0, 0, 8,
        0, 3, 0, 1, 1, 7, 0, 3, 0, 1, 1, 255, 0, 7, 1, 0,
        3, 0, 1, 1, 255, 0, 1, 9, 0, 5, 7, 1, 0, 8, 0, 3, 0, 1, 4, 0, 0,
    };
    /* the rings up, then the consumer index of ring 1 scribbled */
    static const uint8_t scribble[] = {
        0, 0, 3, 0, 1, 1, 255, 0, 7, 1, 0, 1, 4, 0, 0,
        4, 5, LANE_TAG_SIGNAL, 0, 1, 0, 1, 7, 1, 0,
        6, 0x83, 2, 0x40, 7, 20, 0, 7, 20, 0,
        8, 0, 3, 0, 1, 1, 255, 0, 7, 1, 0, 5, 10,
    };
    /* records in one piece: a SWITCH with stream octets after it */
    static const uint8_t interleaved[] = {
        0, 0, 3, 0, 1, 1, 255, 0, 7, 1, 0,
        2, 22, LANE_TAG_SIGNAL, 0, 1, 0, 1,
        LANE_TAG_RING, 0, 8, 0, LANE_RING_OP_SWITCH, 0, 0, 0, 0, 0, 0, 0,
        LANE_TAG_SIGNAL, 0, 1, 0, 1, 7, 1, 0, 8, 0, 5, 1,
    };
    /* NIC: the peer attaches, accepts, then both rings carry records */
    static const uint8_t offer[] = {
        1, 0, 11, 1, 2, 0, 0, 7, 1, 0, 4, 5, LANE_TAG_SIGNAL, 0, 1, 0, 1,
        7, 1, 0, 5, 10, 7, 150, 20, 5, 100, 6, 128, 1, 0x40, 7, 20, 0,
        8, 0, 11, 1, 2, 0, 0, 7, 1, 0, 5, 10,
    };
    /* NIC: refused, then an accept it did not wait for; junk after one */
    static const uint8_t offer_refused[] = {
        1, 0, 1, 3, 22, 0, 7, 1, 0, 1, 2, 0, 0, 8,
        0, 11, 1, 2, 0, 0, 2, 5, LANE_TAG_SIGNAL, 0, 1, 0, 1, 7, 1, 0,
        8, 0, 1, 1, 255, 0, 3, 0, 7, 1, 0,
    };
    /* NIC over a channel without fds: it offers nothing */
    static const uint8_t offer_tcp[] = {
        5, 0, 1, 2, 0, 0, 7, 1, 0, 8, 0, 11, 1, 4, 0, 0, 7, 1, 0,
    };
    /*
     * Found by this target when the wake-ups were eventfds: the peer sets
     * the sleep flag the lane reads (ring 1's cons_sleeping; the NIC:
     * ring 0's), fills the eventfd the lane kicks and makes it blocking:
     * the kick blocked for good.  Now the same fills a wake-up socket's
     * queue (the slot's kick target; the NIC's own wait end).
     */
    static const uint8_t block[] = {
        0, 0, 3, 0, 1, 1, 255, 0, 7, 1, 0, 1, 4, 0, 0,
        6, 0x84, 2, 1, 12, 1, 7, 20, 0, 7, 20, 0,
    };
    static const uint8_t offer_block[] = {
        1, 0, 11, 1, 2, 0, 0, 7, 1, 0, 6, 0x84, 1, 1, 12, 1, 7, 20, 0,
        7, 20, 0, 12, 0, 4, 5, LANE_TAG_SIGNAL, 0, 1, 0, 1, 7, 1, 0,
    };
    char dir[256];

    snprintf(dir, sizeof(dir), "%s/lane-shm", corpus);
    put(dir, "accept", accept, sizeof(accept));
    put(dir, "bad-fds", bad_fds, sizeof(bad_fds));
    put(dir, "unasked", unasked, sizeof(unasked));
    put(dir, "scribble", scribble, sizeof(scribble));
    put(dir, "interleaved", interleaved, sizeof(interleaved));
    put(dir, "offer", offer, sizeof(offer));
    put(dir, "offer-refused", offer_refused, sizeof(offer_refused));
    put(dir, "offer-tcp", offer_tcp, sizeof(offer_tcp));
    put(dir, "block", block, sizeof(block));
    put(dir, "offer-block", offer_block, sizeof(offer_block));
}

/*
 * TSO (fuzz-tso): HDR_LEN and MSS, then a TCP segment of 3000 octets over
 * IPv4 (with 12 octets of TCP options) or IPv6.
 */
static void tso_seeds(const char *corpus)
{
    static const uint16_t mss[2] = { 1448, 64 };
    char dir[256];

    snprintf(dir, sizeof(dir), "%s/tso", corpus);
    for (unsigned v6 = 0; v6 < 2; v6++) {
        size_t l4 = v6 ? 54 : 34, hdr_len = l4 + 32, len = hdr_len + 3000;
        uint8_t *f = buf + 4, *ip = f + 14;

        memset(buf, 0, 4 + len);
        buf[0] = hdr_len;
        buf[1] = hdr_len >> 8;
        buf[2] = mss[v6] & 0xff;
        buf[3] = mss[v6] >> 8;
        f[12] = v6 ? 0x86 : 0x08;
        f[13] = v6 ? 0xdd : 0x00;
        if (v6) {
            ip[0] = 0x60;
            ip[6] = 6;
            ip[7] = 64;
        } else {
            ip[0] = 0x45;
            ip[8] = 64;
            ip[9] = 6;
        }
        f[l4 + 12] = 8 << 4;
        f[l4 + 13] = 0x19;          /* ACK PSH FIN */
        for (size_t i = hdr_len; i < len; i++) {
            f[i] = (uint8_t)(i * 13);
        }
        put(dir, v6 ? "ipv6" : "ipv4", buf, 4 + len);
    }
}

/*
 * The TDM bus's controller (fuzz-tdm-bus): a configuration (transceivers,
 * schedule, speed / 7, slot octets, frame slots, weights), then ops of 4
 * octets (op, transceiver, argument): each schedule with frames queued,
 * sets, the clock moving, runs to the next event, a purge, a new
 * schedule.
 */
static void tdm_seeds(const char *corpus)
{
    static const uint8_t cfg[3][17] = {
        { 5, 0, 0x5a, 0x05, 0x00, 0x02, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1 },
        { 4, 1, 0x5a, 0x05, 0xfa, 0x00, 12, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0 },
        { 3, 2, 0x5a, 0x05, 0x40, 0x00, 0, 0, 1, 3, 5, 1, 1, 1, 1, 1, 1 },
    };
    static const uint8_t ops[] = {
        0, 0, 0xee, 0x05,   0, 1, 0x3c, 0x00,   0, 2, 0xe8, 0x03,
        1, 2, 0, 0,         5, 0, 0, 0,         2, 0, 0x10, 0x00,
        0, 0, 0x28, 0x23,   5, 0, 0, 0,         5, 0, 0, 0,
        3, 1, 0, 0,         2, 0, 0x00, 0x01,   1, 0, 0, 0,
        5, 0, 0, 0,
    };
    static const char *const name[3] = { "equal", "weighted", "on-demand" };
    char dir[256];

    snprintf(dir, sizeof(dir), "%s/tdm-bus", corpus);
    for (unsigned i = 0; i < 3; i++) {
        memcpy(buf, cfg[i], sizeof(cfg[i]));
        memcpy(buf + sizeof(cfg[i]), ops, sizeof(ops));
        put(dir, name[i], buf, sizeof(cfg[i]) + sizeof(ops));
    }
    /* equal, then weighted from the next slot on */
    memcpy(buf, cfg[0], sizeof(cfg[0]));
    memcpy(buf + 17, ops, 12);
    buf[29] = 4;
    memcpy(buf + 33, cfg[0], 17);
    buf[34] = 1;
    memcpy(buf + 50, ops, sizeof(ops));
    put(dir, "reschedule", buf, 50 + sizeof(ops));
}

int main(int argc, char **argv)
{
    static const uint8_t hello[12] = { 'B', 'P', 'L', 'N', LANE_VERSION, 0,
                                       0, 0, 0xe8, 3, 0, 0 };
    char dir[256];
    uint8_t frame[200];
    PcsUtil u = { .cpu_pct = 42, .irq_pct = 7, .seq = 3 };
    PcsUtil uc = {
        .cpu_pct = 42, .irq_pct = 7, .seq = 4,
        .has_contention = true, .psi_permille = 250, .runnable = 3,
    };
    unsigned rd;
    size_t n, len;

    for (size_t i = 0; i < sizeof(frame); i++) {
        frame[i] = (uint8_t)(i * 29);
    }

    /* decoder: frame + utilization + idle, and a configuration burst */
    rd = PCS_RD_NEG;
    n = pcs_tx_frame(frame, 100, cg, &rd);
    n += pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cg + n, &rd);
    n += pcs_tx_util(&u, PCS_UTIL_FORM_EXPANDED, cg + n, &rd);
    n += pcs_tx_idle(cg + n, &rd);
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = cg[i] & 0xff;
        buf[2 * i + 1] = cg[i] >> 8;
    }
    snprintf(dir, sizeof(dir), "%s/pcs-decoder", argv[1]);
    put(dir, "frame-util", buf, 2 * n);
    rd = PCS_RD_NEG;
    n = 0;
    for (unsigned i = 0; i < 4; i++) {
        n += pcs_tx_config(0x41a0, i & 1, cg + n, &rd);
    }
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = cg[i] & 0xff;
        buf[2 * i + 1] = cg[i] >> 8;
    }
    put(dir, "config", buf, 2 * n);
    /* the contention form in both forms, after a frame and on its own */
    rd = PCS_RD_NEG;
    n = pcs_tx_frame(frame, 61, cg, &rd);
    n += pcs_tx_util(&uc, PCS_UTIL_FORM_IDLE, cg + n, &rd);
    n += pcs_tx_util(&uc, PCS_UTIL_FORM_EXPANDED, cg + n, &rd);
    n += pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cg + n, &rd);
    n += pcs_tx_idle(cg + n, &rd);
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = cg[i] & 0xff;
        buf[2 * i + 1] = cg[i] >> 8;
    }
    put(dir, "frame-util-contention", buf, 2 * n);
    /*
     * split across two gaps (bit 15 marks a gap): the extension after a
     * frame, the set after the next; then an extension whose set is lost
     */
    {
        PcsUtil set = uc;

        set.has_contention = false;
        rd = PCS_RD_NEG;
        n = pcs_tx_frame(frame, 61, cg, &rd);
        n += pcs_tx_util_ext(&uc, cg + n, &rd);
        cg[n++] = 0x8000;
        rd = PCS_RD_NEG;
        n += pcs_tx_frame(frame, 100, cg + n, &rd);
        n += pcs_tx_util(&set, PCS_UTIL_FORM_IDLE, cg + n, &rd);
        cg[n++] = 0x8000;
        rd = PCS_RD_NEG;
        n += pcs_tx_frame(frame, 62, cg + n, &rd);
        n += pcs_tx_util_ext(&uc, cg + n, &rd);
        cg[n++] = 0x8000;
        rd = PCS_RD_NEG;
        n += pcs_tx_frame(frame, 63, cg + n, &rd);
        n += pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cg + n, &rd);
        for (size_t i = 0; i < n; i++) {
            buf[2 * i] = cg[i] & 0xff;
            buf[2 * i + 1] = cg[i] >> 8;
        }
        put(dir, "frame-util-split", buf, 2 * n);
    }

    /* lane records: 8b10b session */
    snprintf(dir, sizeof(dir), "%s/lane-records", argv[1]);
    len = 0;
    buf[len++] = 64;    /* chunk size */
    len += rec(buf + len, LANE_TAG_HELLO, hello, sizeof(hello));
    rd = PCS_RD_NEG;
    n = 0;
    for (unsigned i = 0; i < 4; i++) {
        n += pcs_tx_config(0x41a0, i & 1, cg + n, &rd);
    }
    len += cg_rec(buf + len, n);
    rd = PCS_RD_NEG;
    n = pcs_tx_frame(frame, 100, cg, &rd);
    n += pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cg + n, &rd);
    len += cg_rec(buf + len, n);
    rd = PCS_RD_NEG;
    n = pcs_tx_util(&u, PCS_UTIL_FORM_EXPANDED, cg, &rd);
    len += cg_rec(buf + len, n);
    len += rec(buf + len, LANE_TAG_SIGNAL, "\0", 1);
    len += rec(buf + len, LANE_TAG_SIGNAL, "\1", 1);
    put(dir, "session-8b10b", buf, len);

    /* lane records: 8b10b session with the contention form */
    len = 0;
    buf[len++] = 64;
    len += rec(buf + len, LANE_TAG_HELLO, hello, sizeof(hello));
    rd = PCS_RD_NEG;
    n = pcs_tx_frame(frame, 100, cg, &rd);
    n += pcs_tx_util(&uc, PCS_UTIL_FORM_IDLE, cg + n, &rd);
    len += cg_rec(buf + len, n);
    rd = PCS_RD_NEG;
    n = pcs_tx_util(&uc, PCS_UTIL_FORM_EXPANDED, cg, &rd);
    len += cg_rec(buf + len, n);
    put(dir, "session-8b10b-contention", buf, len);

    /* lane records: the contention form split across two frames' gaps */
    len = 0;
    buf[len++] = 64;
    len += rec(buf + len, LANE_TAG_HELLO, hello, sizeof(hello));
    rd = PCS_RD_NEG;
    n = pcs_tx_frame(frame, 100, cg, &rd);
    n += pcs_tx_util_ext(&uc, cg + n, &rd);
    len += cg_rec(buf + len, n);
    {
        PcsUtil set = uc;

        set.has_contention = false;
        rd = PCS_RD_NEG;
        n = pcs_tx_frame(frame, 60, cg, &rd);
        n += pcs_tx_util(&set, PCS_UTIL_FORM_IDLE, cg + n, &rd);
        len += cg_rec(buf + len, n);
    }
    put(dir, "session-8b10b-split", buf, len);

    /*
     * lane records: data runs (taken without code groups, then, with the
     * chunk size's bit 3 set, under capture: materialised), one with the
     * gap's utilization set as its tail, one from RD+, one with a bad
     * FCS, then malformed ones: an impossible RD, a tail longer than the
     * record, too few octets
     */
    for (unsigned cap = 0; cap < 2; cap++) {
        static const uint8_t hello_data[12] = {
            'B', 'P', 'L', 'N', LANE_VERSION, 0,
            LANE_HELLO_CAP_DATA, 0, 0xe8, 3, 0, 0
        };
        uint8_t run[LANE_DATA_HDR + 104 + 2 * PCS_UTIL_MAX_CGS];
        size_t t;

        len = 0;
        buf[len++] = cap ? 72 : 64;
        len += rec(buf + len, LANE_TAG_HELLO, hello_data, sizeof(hello_data));
        rd = PCS_RD_NEG;
        n = 0;
        for (unsigned i = 0; i < 4; i++) {
            n += pcs_tx_config(0x41a0, i & 1, cg + n, &rd);
        }
        len += cg_rec(buf + len, n);
        memcpy(run + LANE_DATA_HDR, frame, 100);
        eth_fcs_append(run + LANE_DATA_HDR, 100);
        run[0] = PCS_RD_NEG;
        run[1] = 0;
        len += rec(buf + len, LANE_TAG_DATA, run, LANE_DATA_HDR + 104);
        rd = PCS_RD_NEG;
        pcs_tx_frame_octets_rd(run + LANE_DATA_HDR, 104, &rd);
        t = pcs_tx_util(&uc, PCS_UTIL_FORM_IDLE, cg, &rd);
        for (size_t i = 0; i < t; i++) {
            run[LANE_DATA_HDR + 104 + 2 * i] = cg[i] & 0xff;
            run[LANE_DATA_HDR + 104 + 2 * i + 1] = cg[i] >> 8;
        }
        run[1] = t;
        len += rec(buf + len, LANE_TAG_DATA, run, LANE_DATA_HDR + 104 + 2 * t);
        run[0] = PCS_RD_POS;
        run[1] = 0;
        len += rec(buf + len, LANE_TAG_DATA, run, LANE_DATA_HDR + 104);
        run[0] = PCS_RD_NEG;
        run[LANE_DATA_HDR + 50] ^= 1;
        len += rec(buf + len, LANE_TAG_DATA, run, LANE_DATA_HDR + 104);
        run[LANE_DATA_HDR + 50] ^= 1;
        run[0] = 2;
        len += rec(buf + len, LANE_TAG_DATA, run, LANE_DATA_HDR + 104);
        run[0] = PCS_RD_NEG;
        run[1] = 100;
        len += rec(buf + len, LANE_TAG_DATA, run, LANE_DATA_HDR + 104);
        run[1] = 0;
        len += rec(buf + len, LANE_TAG_DATA, run, LANE_DATA_HDR + 63);
        put(dir, cap ? "session-data-runs-captured" : "session-data-runs",
            buf, len);
    }

    /* lane records: raw session (chunk octet: raw, not in virtual time) */
    len = 0;
    buf[len++] = 253;
    len += rec(buf + len, LANE_TAG_HELLO, hello, sizeof(hello));
    len += rec(buf + len, LANE_TAG_CONFIG, "\xa0\x41", 2);
    len += rec(buf + len, LANE_TAG_CONFIG, "\xa0\x01", 2);
    memcpy(buf + len + 4, frame, 100);
    eth_fcs_append(buf + len + 4, 100);
    len += rec(buf + len, LANE_TAG_FRAME, buf + len + 4, 104);
    len += rec(buf + len, LANE_TAG_UTIL, "\x2a\x07\x03\x00", 4);
    len += rec(buf + len, 0x7f, "xy", 2);
    put(dir, "session-raw", buf, len);

    /* raw UTIL records with contention figures: good, then impossible */
    len = 0;
    buf[len++] = 253;
    len += rec(buf + len, LANE_TAG_HELLO, hello, sizeof(hello));
    len += rec(buf + len, LANE_TAG_UTIL, "\x2a\x07\x04\x00\xfa\x00\x03\x00",
               8);
    len += rec(buf + len, LANE_TAG_UTIL, "\x2a\x07\x05\x00\xe9\x03\x00\x04",
               8);
    put(dir, "session-raw-contention", buf, len);

    vtime_seeds(argv[1], frame, &u);
    fabric_seeds(argv[1]);
    switch_seeds(argv[1]);
    ring_seeds(argv[1]);
    shm_seeds(argv[1]);
    tso_seeds(argv[1]);
    tdm_seeds(argv[1]);
    return 0;
}
