/*
 * libFuzzer target: the lane's shared-memory negotiation and ring data
 * path (net/lane-transport.c with LaneConfig.shm) against a hostile peer
 * that owns the stream, the fds that come with it and the shared memory.
 * The lane under test runs as the devices run it (LANE_ROLE_STREAM): as
 * the accepting end (a switch slot) or as the offering end (a NIC), as
 * the first input octet says.  The record parser itself is
 * fuzz-lane-records' concern and the ring library fuzz-lane-ring's; this
 * target covers what joins them: RING records, the fds, the move from
 * the stream to the rings and back to the stream on a reconnect.
 *
 * The harness makes real fds, valid or not, as the input says: a ring
 * region made by lane_ring_create(), a memfd with a header and seals of
 * the input's choosing, or wake-up sockets, eventfds, pipes, other
 * sockets, /dev/null and unsealed memfds in any number and order.  It
 * plays the peer's end of the rings (lane_ring_create() or
 * lane_ring_attach() on the fds the lane offers), writes what the input
 * says into the ring the lane reads, and scribbles into the shared
 * region.  The lane maps a region between
 * guard pages, so a read or write outside it faults.
 *
 * Checks, after every operation:
 *  - fds: the open fds of the process are the harness's, plus the lane's
 *    rings' (3 attached, 5 created: lane-ring.h), plus 3 for fds it
 *    keeps for an awaited offer (only an accepting end that is connected
 *    and has no rings); none after a
 *    disconnect; as many as before the input once it is freed;
 *  - fds handed over that the lane does not keep are closed at once and
 *    counted in unasked_fds; fds it kept and let go without a disconnect
 *    went to an offer that was counted (shm_refused or shm_up);
 *  - every REFUSE, ACCEPT and SWITCH the lane writes is counted
 *    (shm_refused, shm_up); every disconnect is the harness's, or counted
 *    in protocol_errors, shm_errors or shm_hangups and closed the channel
 *    (ops->close);
 *  - what the lane writes is well-formed records, HELLO first, and after
 *    its ACCEPT or SWITCH nothing more on the stream;
 *  - an accepting end given a valid region and a clean offer attaches,
 *    one given fds of the wrong kind refuses;
 *  - nothing blocks: an operation still running after 20 s (a send or
 *    recv on a wake-up socket the peer made blocking) aborts.  SIGALRM, which
 *    libFuzzer's own timeout uses, is held during each operation: it
 *    would interrupt such a call and hide the hang.
 *
 * Input: a mode octet (bit 0: the lane offers; bit 1: raw pcs; bit 2:
 * the offering end's send_fds() fails, as over TCP), then operations,
 * each an opcode octet (taken modulo OPS) and its arguments:
 *   0           HELLO on the stream
 *   1 op v len  RING record on the stream: op, value v (255: the ring
 *               version), payload length len % 16 (0: 8)
 *   2 n data    n octets of stream as they come
 *   3 set ...   fds to the lane (lane_give_fds()):
 *               set % 3 == 0: a valid region (lane_ring_create())
 *               set % 3 == 1: size seals word v0-v3: a memfd of size * 256
 *                 octets (0: the valid size) whose header is a valid one
 *                 with u32 word (word % 32, none past 21) set to v, sealed
 *                 with the seals' low three bits, and two wake-up
 *                 sockets (whose other ends are closed: the lane hangs
 *                 up once it attached and polls them)
 *               set % 3 == 2: k t1..tk: k % 5 fds of kinds t % 8 (wake-up
 *                 socket as above, pipe, stream socket, /dev/null,
 *                 unsealed memfd, sealed empty memfd, eventfd, the
 *                 previous fd's file again)
 *   4 n data    the peer writes n octets into the ring the lane reads
 *   5 n         the peer reads up to n * 64 octets of the lane's ring
 *   6 lo hi v   scribble v into the shared region at (lo | hi << 8)
 *   7 ms n      time passes (ms), the lane sends an n * 8 octet frame,
 *               and runs what is due (its wake-up socket, timer, output)
 *   8           the channel closes and connects again (a reconnect)
 *   9           the channel is full / takes octets again
 *   10          the device holds reading back / lets it go
 *   11          offering end: the peer attaches to the offered fds
 *   12 v        the peer fills the queue behind the attacher's kick end
 *               (v & 1: the one an attached lane kicks into, or the one
 *               an offering lane waits on), behind its wait end (v & 2),
 *               and clears O_NONBLOCK on both ends: the flag belongs to
 *               the file description the two processes share
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* memfd_create() */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fuzz-target.h"
#include "lane-ring.h"
#include "lane-transport.h"

#define OPS             13
#define RING_SIZE       4096u
#define REGION          (4096u + 2 * RING_SIZE)
#define SEALS           (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define MAX_GIVE        4

enum { GIVE_UNKNOWN, GIVE_VALID, GIVE_INVALID };

/* A record stream the lane wrote, checked as it comes. */
typedef struct OutParser {
    uint8_t hdr[LANE_REC_HDR];
    size_t hdr_len;
    size_t left;                    /* payload octets still to come */
    uint8_t payload[LANE_RING_REC_LEN];
    size_t payload_len;
    bool any;                       /* a record started */
} OutParser;

typedef struct H {
    Lane *lane;
    bool offerer;
    bool send_fds_fail;
    uint64_t now;
    bool chan_full;
    bool rx_hold;
    unsigned base;                  /* open fds before the input */

    /* this connection, as the harness sees it */
    OutParser out, ring_out;
    bool lane_switched;             /* its ACCEPT or SWITCH was written */
    bool hello_fed;
    bool clean;                     /* only well-formed records fed */
    bool scribbled;                 /* the shared region was written */
    int pending;                    /* fds the lane keeps for an offer */
    int pending_kind;

    /* what the lane wrote, all connections */
    uint64_t refuse_out, accept_out, switch_out, offer_out;
    /* disconnects: the harness's, and the lane's own (ops->close) */
    uint64_t our_disconnects, closes;

    /* the peer's end of the rings, and the region for scribbles */
    LaneRing *peer;
    int offered[LANE_RING_NFDS];
    bool have_offered;
    uint8_t *map;
    size_t map_len;
} H;

static H h;
static const uint8_t *in;
static size_t in_left;
static uint8_t frame[255 * 8];   /* op 7 sends up to this much */

static unsigned next(void)
{
    if (!in_left) {
        return 0;
    }
    in_left--;
    return *in++;
}

static unsigned count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    unsigned n = 0;
    struct dirent *e;

    if (!d) {
        abort();
    }
    while ((e = readdir(d))) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n - 1;       /* the directory's own */
}

/*
 * Fds a ring end holds (lane-ring.h): an attacher three, a creator five
 * until the attacher accepted, then three.
 */
static unsigned ring_fds(LaneRing *r)
{
    unsigned n = r ? lane_ring_fds_held(r) : 0;

    if (r && n != (lane_ring_is_creator(r) ? LANE_RING_CREATOR_FDS :
                   LANE_RING_NFDS) && n != LANE_RING_NFDS) {
        abort();
    }
    return n;
}

static unsigned harness_fds(void)
{
    return ring_fds(h.peer) + (h.have_offered ? LANE_RING_NFDS : 0);
}

/* ---- the lane's output ------------------------------------------------ */

/* A whole RING record the lane wrote (on the stream unless @ring). */
static void out_ring_record(const uint8_t *p, bool ring)
{
    switch (p[0]) {
    case LANE_RING_OP_OFFER:
        if (!h.offerer || ring) {
            abort();
        }
        h.offer_out++;
        break;
    case LANE_RING_OP_ACCEPT:
        /* its last record on the stream, with the rings attached */
        if (h.offerer || ring || !lane_shm_ring(h.lane)) {
            abort();
        }
        h.accept_out++;
        h.lane_switched = true;
        break;
    case LANE_RING_OP_REFUSE:
        h.refuse_out++;
        break;
    case LANE_RING_OP_SWITCH:
        if (!h.offerer || ring || !lane_shm_ring(h.lane)) {
            abort();
        }
        h.switch_out++;
        h.lane_switched = true;
        break;
    default:
        abort();
    }
}

/* Check the records in @buf; returns false if this write ends the stream. */
static void out_parse(OutParser *o, const uint8_t *buf, size_t len,
                      bool ring)
{
    size_t off = 0;

    while (off < len) {
        if (!ring && h.lane_switched) {
            abort();        /* octets on the stream after its switch */
        }
        if (o->hdr_len < LANE_REC_HDR) {
            o->hdr[o->hdr_len++] = buf[off++];
            if (o->hdr_len < LANE_REC_HDR) {
                continue;
            }
            o->left = o->hdr[2] | (size_t)o->hdr[3] << 8;
            o->payload_len = 0;
            /* HELLO first; known tags, no flags, not too long */
            if ((!ring && !o->any && o->hdr[0] != LANE_TAG_HELLO) ||
                o->hdr[0] < LANE_TAG_HELLO || o->hdr[0] > LANE_TAG_RING ||
                o->hdr[1] || o->left > LANE_MAX_PAYLOAD ||
                (o->hdr[0] == LANE_TAG_RING &&
                 o->left != LANE_RING_REC_LEN)) {
                abort();
            }
            o->any = true;
        } else {
            size_t n = len - off < o->left ? len - off : o->left;

            if (o->hdr[0] == LANE_TAG_RING) {
                memcpy(o->payload + o->payload_len, buf + off, n);
                o->payload_len += n;
            }
            off += n;
            o->left -= n;
        }
        if (o->hdr_len == LANE_REC_HDR && !o->left) {
            if (o->hdr[0] == LANE_TAG_RING) {
                out_ring_record(o->payload, ring);
            }
            o->hdr_len = 0;
        }
    }
}

static size_t h_write(void *opaque, const uint8_t *buf, size_t len)
{
    if (h.chan_full) {
        return 0;
    }
    out_parse(&h.out, buf, len, false);
    return len;
}

static void h_close(void *opaque)
{
    h.closes++;
}

static void unmap(void)
{
    if (h.map) {
        munmap(h.map, h.map_len);
        h.map = NULL;
    }
}

/* Map the region @fd holds, for scribbles (NULL if it cannot be mapped). */
static uint8_t *map_fd(int fd, size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

    return p == MAP_FAILED ? NULL : p;
}

/* The offering end passes its rings' fds: the peer takes copies. */
static int h_send_fds(void *opaque, const int *fds, int n)
{
    if (h.send_fds_fail) {
        return -1;
    }
    if (n != LANE_RING_NFDS || h.have_offered || h.peer) {
        abort();        /* one offer per connection, of three fds */
    }
    for (int i = 0; i < n; i++) {
        h.offered[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
        if (h.offered[i] < 0) {
            abort();
        }
    }
    h.have_offered = true;
    h.map = map_fd(h.offered[LANE_RING_FD_MEM], REGION);
    h.map_len = REGION;
    return 0;
}

static bool h_can_receive(void *opaque)
{
    return !h.rx_hold;
}

static volatile uint8_t sink;    /* frames summed: ASan sees each octet */

static void h_frame(void *opaque, const uint8_t *f, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        sink += f[i];
    }
}

static const LaneOps ops = {
    .rx_frame = h_frame, .can_receive = h_can_receive,
    .write = h_write, .close = h_close, .send_fds = h_send_fds,
};

/* ---- the peer ----------------------------------------------------------- */

static void peer_reset(void)
{
    lane_ring_free(h.peer);
    h.peer = NULL;
    if (h.have_offered) {
        for (int i = 0; i < LANE_RING_NFDS; i++) {
            close(h.offered[i]);
        }
        h.have_offered = false;
    }
    unmap();
}

static void feed(const uint8_t *buf, size_t len)
{
    if (lane_feed(h.lane, buf, len, h.now) < len) {
        h.clean = false;        /* held back: the rest is dropped */
    }
}

static void feed_record(uint8_t tag, const uint8_t *p, size_t len)
{
    uint8_t r[LANE_REC_HDR + 16];

    r[0] = tag;
    r[1] = 0;
    r[2] = len;
    r[3] = 0;
    memcpy(r + LANE_REC_HDR, p, len);
    feed(r, LANE_REC_HDR + len);
}

/* Run what is due: the lane's wake-up socket, its timer and its output. */
static void run_lane(void)
{
    for (int i = 0; i < 4; i++) {
        LaneFd fds[LANE_MAX_FDS];
        int n = lane_get_fds(h.lane, fds);

        for (int j = 0; j < n; j++) {
            struct pollfd p = { .fd = fds[j].fd, .events = fds[j].events };

            if (poll(&p, 1, 0) > 0) {
                lane_handle_io(h.lane, p.fd, p.revents, h.now);
            }
        }
        if (lane_deadline(h.lane) <= h.now) {
            lane_handle_timer(h.lane, h.now);
        }
        if (lane_want_write(h.lane)) {
            lane_flush(h.lane, h.now);
        }
    }
}

static void reconnect(void)
{
    bool was = lane_is_connected(h.lane);

    lane_closed(h.lane, h.now);
    h.our_disconnects += was;
    peer_reset();
    /* a disconnected lane holds no fds */
    if (count_fds() != h.base) {
        abort();
    }
    memset(&h.out, 0, sizeof(h.out));
    memset(&h.ring_out, 0, sizeof(h.ring_out));
    h.lane_switched = h.hello_fed = h.scribbled = false;
    h.clean = true;
    h.pending = 0;
    lane_connected(h.lane, h.now);
    run_lane();
}

/* ---- fds for the lane ------------------------------------------------- */

static int make_memfd(size_t size, unsigned seals)
{
    int fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd < 0 || ftruncate(fd, size) < 0) {
        abort();
    }
    if (seals && fcntl(fd, F_ADD_SEALS, seals) < 0) {
        abort();
    }
    return fd;
}

static int make_eventfd(void)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

    if (fd < 0) {
        abort();
    }
    return fd;
}

/* A wake-up socket of the right kind whose other end is closed. */
static int make_wake(void)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        abort();
    }
    close(sv[1]);
    return sv[0];
}

/*
 * What the harness made for a give: the region's creator end (a valid
 * region) or a mapping of it, which become the peer's if the lane keeps
 * the fds.
 */
typedef struct Made {
    LaneRing *ring;
    uint8_t *map;
    size_t map_len;
} Made;

/* A valid region, made as the offering end makes it. */
static int give_valid(int *fds, Made *m)
{
    int pf[LANE_RING_NFDS], err;

    m->ring = lane_ring_create(RING_SIZE, &err);
    if (!m->ring) {
        abort();
    }
    lane_ring_peer_fds(m->ring, pf);
    for (int i = 0; i < LANE_RING_NFDS; i++) {
        fds[i] = fcntl(pf[i], F_DUPFD_CLOEXEC, 0);
        if (fds[i] < 0) {
            abort();
        }
    }
    m->map = map_fd(pf[LANE_RING_FD_MEM], REGION);
    m->map_len = REGION;
    return GIVE_VALID;
}

/* A region laid out as the creator does, one word set by the input. */
static int give_crafted(int *fds, Made *m)
{
    size_t size = next() * 256;
    unsigned seals = next() & 7;
    unsigned word = next() % 32;
    uint32_t v = next() | next() << 8 | next() << 16 | (uint32_t)next() << 24;
    LaneRingHeader hdr = {
        .magic = LANE_RING_MAGIC, .version = LANE_RING_VERSION,
        .header_size = sizeof(hdr), .region_size = REGION,
    };

    for (int i = 0; i < 2; i++) {
        hdr.ring[i].prod_off = 256 + 256 * i;
        hdr.ring[i].cons_off = 256 + 256 * i + 128;
        hdr.ring[i].data_off = 4096 + i * RING_SIZE;
        hdr.ring[i].size = RING_SIZE;
    }
    if (word < sizeof(hdr) / 4) {
        memcpy((uint8_t *)&hdr + word * 4, &v, 4);
    }
    if (!size) {
        size = REGION;
    }
    fds[0] = make_memfd(size, 0);
    if (pwrite(fds[0], &hdr, size < sizeof(hdr) ? size : sizeof(hdr), 0) <
        0) {
        abort();
    }
    m->map = map_fd(fds[0], size);
    m->map_len = size;
    /* the seal seal last: it forbids adding the others */
    if ((seals & 3) &&
        fcntl(fds[0], F_ADD_SEALS, (seals & 1 ? F_SEAL_SHRINK : 0) |
                                   (seals & 2 ? F_SEAL_GROW : 0)) < 0) {
        abort();
    }
    if ((seals & 4) && fcntl(fds[0], F_ADD_SEALS, F_SEAL_SEAL) < 0) {
        abort();
    }
    fds[1] = make_wake();
    fds[2] = make_wake();
    return seals != 7 ? GIVE_INVALID : GIVE_UNKNOWN;
}

/* Fds of any kind, in any number. */
static int give_assorted(int *fds, int *n)
{
    int sv[2];
    bool no_memfd = true;

    *n = next() % (MAX_GIVE + 1);
    for (int i = 0; i < *n; i++) {
        unsigned t = next() % 8;

        if (t == 7 && i == 0) {
            t = 0;
        }
        switch (t) {
        case 0:
            fds[i] = make_wake();
            break;
        case 1:
            if (pipe2(sv, O_CLOEXEC) < 0) {
                abort();
            }
            close(sv[1]);
            fds[i] = sv[0];
            break;
        case 2:
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                abort();
            }
            close(sv[1]);
            fds[i] = sv[0];
            break;
        case 3:
            fds[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
            break;
        case 4:
            fds[i] = make_memfd(REGION, 0);
            break;
        case 5:
            fds[i] = make_memfd(REGION, SEALS);
            break;
        case 6:
            fds[i] = make_eventfd();
            break;
        default:
            fds[i] = fcntl(fds[i - 1], F_DUPFD_CLOEXEC, 0);
            break;
        }
        if (fds[i] < 0) {
            abort();
        }
        no_memfd &= t == 0 || t == 6;
    }
    /* no memfd at all, or not three: never attached */
    return no_memfd || *n != LANE_RING_NFDS ? GIVE_INVALID : GIVE_UNKNOWN;
}

/* ---- checks ------------------------------------------------------------- */

/* The fds the lane holds; returns those it keeps for an offer. */
static int lane_held(void)
{
    int held = (int)count_fds() - (int)h.base - (int)harness_fds();
    int ring = ring_fds(lane_shm_ring(h.lane));
    int pending = held - ring;

    if (pending != 0 && pending != LANE_RING_NFDS) {
        abort();
    }
    if (pending && (h.offerer || ring || !lane_is_connected(h.lane))) {
        abort();
    }
    return pending;
}

static void give(void)
{
    unsigned set = next() % 3;
    int fds[MAX_GIVE], n = LANE_RING_NFDS, kind;
    uint64_t unasked = lane_stats(h.lane)->unasked_fds;
    bool keep = !h.offerer && lane_is_connected(h.lane) &&
                !lane_shm_ring(h.lane) && !h.pending;
    Made m = { 0 };

    if (set == 0) {
        kind = give_valid(fds, &m);
    } else if (set == 1) {
        kind = give_crafted(fds, &m);
    } else {
        kind = give_assorted(fds, &n);
    }
    keep &= n == LANE_RING_NFDS;
    lane_give_fds(h.lane, fds, n);
    if (keep && set < 2) {
        /* the peer's end of what the lane may attach to */
        peer_reset();
        h.peer = m.ring;
        h.map = m.map;
        h.map_len = m.map_len;
    } else {
        lane_ring_free(m.ring);
        if (m.map) {
            munmap(m.map, m.map_len);
        }
    }
    h.pending = lane_held();
    if (keep) {
        if (h.pending != LANE_RING_NFDS ||
            lane_stats(h.lane)->unasked_fds != unasked) {
            abort();
        }
        h.pending_kind = kind;
    } else if (lane_stats(h.lane)->unasked_fds != unasked + n) {
        abort();
    }
}

static void check_counts(void)
{
    const LaneStats *s = lane_stats(h.lane);

    if (s->shm_refused < h.refuse_out || s->shm_offers < h.offer_out ||
        s->shm_up < h.accept_out + h.switch_out) {
        abort();
    }
    if (h.closes != s->protocol_errors + s->shm_errors + s->shm_hangups ||
        s->disconnects != h.our_disconnects + h.closes) {
        abort();
    }
}

/* ---- the input ---------------------------------------------------------- */

static void ring_record(void)
{
    uint8_t r[16] = { 0 };
    unsigned op = next(), v = next(), len = next() % 16;
    bool offer = op == LANE_RING_OP_OFFER && v == 255;
    bool expect = offer && h.clean && h.hello_fed && !h.offerer &&
                  lane_is_connected(h.lane) && !lane_shm_ring(h.lane) &&
                  h.pending == LANE_RING_NFDS;
    uint64_t up = lane_stats(h.lane)->shm_up;
    uint64_t dropped = lane_stats(h.lane)->tx_ctrl_dropped;

    r[0] = op;
    r[4] = v == 255 ? LANE_RING_VERSION : v;
    feed_record(LANE_TAG_RING, r, len ? len : LANE_RING_REC_LEN);
    if (!expect || len != 0 || lane_stats(h.lane)->tx_ctrl_dropped != dropped) {
        return;
    }
    /* a clean offer of a valid region is taken, of bad fds refused */
    if (h.pending_kind == GIVE_VALID &&
        (!lane_shm_ring(h.lane) || lane_stats(h.lane)->shm_up != up + 1)) {
        abort();
    }
    if (h.pending_kind == GIVE_INVALID && lane_shm_ring(h.lane)) {
        abort();
    }
}

static void peer_write(void)
{
    unsigned n = next();
    uint8_t buf[256];

    for (unsigned i = 0; i < n; i++) {
        buf[i] = next();
    }
    if (h.peer) {
        lane_ring_write(h.peer, buf, n);
    }
    run_lane();
}

static void peer_read(void)
{
    size_t n = next() * 64;
    uint8_t buf[255 * 64];
    ssize_t r;

    if (!h.peer) {
        return;
    }
    lane_ring_handle_wakeup(h.peer);
    r = lane_ring_read(h.peer, buf, n);
    if (r > (ssize_t)n) {
        abort();
    }
    if (r > 0 && !h.scribbled && !lane_ring_is_broken(h.peer)) {
        out_parse(&h.ring_out, buf, r, true);
    }
    run_lane();
}

static void scribble(void)
{
    size_t off = next() | next() << 8;
    uint8_t v = next();

    if (h.map && h.map_len) {
        h.map[off % h.map_len] = v;
        h.scribbled = true;
        if (h.pending_kind == GIVE_VALID) {
            h.pending_kind = GIVE_UNKNOWN;  /* maybe not any more */
        }
    }
}

static void peer_attach(void)
{
    int err;

    if (!h.have_offered) {
        return;
    }
    h.have_offered = false;
    h.peer = lane_ring_attach(h.offered, &err);
    if (!h.peer && !h.scribbled) {
        abort();        /* the lane's own offer is valid */
    }
}

/* Send one-octet messages on @fd until the queue behind it is full. */
static void fill(int fd)
{
    static const uint8_t one = 1;

    for (int i = 0; i < 100000; i++) {
        if (send(fd, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1) {
            break;
        }
    }
}

/*
 * What a hostile peer can do to the wake-up sockets it shares with the
 * lane: make them blocking, fill the queue the lane kicks into, flood
 * the one it waits on.  The lane must neither block nor spin.
 */
static void peer_block(void)
{
    int fds[LANE_RING_NFDS];
    unsigned v = next();

    if (h.peer) {
        lane_ring_peer_fds(h.peer, fds);
    } else if (h.have_offered) {
        memcpy(fds, h.offered, sizeof(fds));
    } else {
        return;
    }
    if (v & 1) {
        fill(fds[LANE_RING_FD_WAKE_C]);
    }
    if (v & 2) {
        fill(fds[LANE_RING_FD_WAKE_A]);
    }
    for (int i = LANE_RING_FD_WAKE_A; i <= LANE_RING_FD_WAKE_C; i++) {
        int fl = fcntl(fds[i], F_GETFL);

        if (fl >= 0) {
            fcntl(fds[i], F_SETFL, fl & ~O_NONBLOCK);
        }
    }
    run_lane();
}

static void run_op(unsigned op)
{
    switch (op) {
    case 0: {
        static const uint8_t hello[12] = {
            'B', 'P', 'L', 'N', LANE_VERSION, 0, 0, 0, 0xe8, 3, 0, 0
        };

        feed_record(LANE_TAG_HELLO, hello, sizeof(hello));
        h.hello_fed = true;
        break;
    }
    case 1:
        ring_record();
        break;
    case 2: {
        unsigned n = next();
        uint8_t buf[256];

        for (unsigned i = 0; i < n; i++) {
            buf[i] = next();
        }
        feed(buf, n);
        h.clean = false;
        break;
    }
    case 3:
        give();
        break;
    case 4:
        peer_write();
        break;
    case 5:
        peer_read();
        break;
    case 6:
        scribble();
        break;
    case 7:
        h.now += next() * 1000000ull;
        lane_send_frame(h.lane, frame, next() * 8, h.now);
        run_lane();
        break;
    case 8:
        reconnect();
        break;
    case 9:
        h.chan_full = !h.chan_full;
        if (!h.chan_full) {
            lane_writable(h.lane, h.now);
        }
        break;
    case 10:
        h.rx_hold = !h.rx_hold;
        if (!h.rx_hold) {
            lane_rx_resume(h.lane, h.now);
        }
        break;
    case 11:
        peer_attach();
        break;
    default:
        peer_block();
        break;
    }
}

static void hung(int sig)
{
    static const char m[] = "fuzz-lane-shm: an operation blocked for 20 s\n";

    if (write(STDERR_FILENO, m, sizeof(m) - 1) < 0) {
        abort();
    }
    abort();
}

/* Arm (or with 0, disarm) the watchdog that catches a blocked call. */
static void watchdog(time_t sec)
{
    static timer_t t;
    static bool made;
    struct itimerspec its = { .it_value = { .tv_sec = sec } };

    if (!made) {
        struct sigevent ev = {
            .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + 1,
        };
        struct sigaction sa = { .sa_handler = hung };

        sigaction(SIGRTMIN + 1, &sa, NULL);
        if (timer_create(CLOCK_MONOTONIC, &ev, &t) < 0) {
            abort();
        }
        made = true;
    }
    timer_settime(t, 0, &its, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    LaneConfig cfg;
    unsigned mode;

    if (size < 1) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(frame); i++) {
        frame[i] = (uint8_t)(i * 13);
    }
    memset(&h, 0, sizeof(h));
    h.base = count_fds();
    in = data;
    in_left = size;
    mode = next();
    h.offerer = mode & 1;
    h.send_fds_fail = mode & 4;
    lane_config_init(&cfg, LANE_ROLE_STREAM, NULL);
    cfg.pcs = mode & 2 ? LANE_PCS_RAW : LANE_PCS_8B10B;
    cfg.shm = h.offerer ? LANE_SHM_OFFER : LANE_SHM_ACCEPT;
    cfg.shm_ring_size = RING_SIZE;
    cfg.speed_mbps = 0;
    h.lane = lane_new(&cfg, &ops, NULL, h.now, NULL);
    if (!h.lane) {
        abort();
    }
    h.clean = true;
    lane_connected(h.lane, h.now);
    run_lane();
    while (in_left) {
        uint64_t refused = lane_stats(h.lane)->shm_refused;
        uint64_t up = lane_stats(h.lane)->shm_up;
        uint64_t disc = lane_stats(h.lane)->disconnects;
        unsigned op = next() % OPS;
        int pending = h.pending;
        sigset_t alrm, old;

        sigemptyset(&alrm);
        sigaddset(&alrm, SIGALRM);
        sigprocmask(SIG_BLOCK, &alrm, &old);
        watchdog(20);
        run_op(op);
        watchdog(0);
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (op != 3) {
            h.pending = lane_held();
        }
        /* kept fds let go without a disconnect: an offer used them */
        if (pending && !h.pending && op != 8 &&
            lane_stats(h.lane)->disconnects == disc &&
            lane_stats(h.lane)->shm_refused + lane_stats(h.lane)->shm_up ==
            refused + up) {
            abort();
        }
        check_counts();
    }
    lane_free(h.lane);
    peer_reset();
    if (count_fds() != h.base) {
        abort();
    }
    return 0;
}
