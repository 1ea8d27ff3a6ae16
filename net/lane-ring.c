/*
 * Lane shared-memory data path: SPSC byte rings in a sealed memfd with
 * wake-ups over AF_UNIX SOCK_SEQPACKET socketpairs.  See lane-ring.h and
 * docs/link-layer.md.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* memfd_create() */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lane-ring.h"

#define LINE            64
#define DATA_ALIGN      64
#define CREATOR_DATA    4096u
#define REQUIRED_SEALS  (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
/* Largest region an attacher maps: two largest rings and the header. */
#define MAX_REGION      (2ull * LANE_RING_MAX_SIZE + CREATOR_DATA)

/* The shared lines as this code accesses them (same layout as lane-ring.h) */
typedef struct SharedProd {
    _Atomic uint32_t prod;
    _Atomic uint32_t prod_need;
} SharedProd;

typedef struct SharedCons {
    _Atomic uint32_t cons;
    _Atomic uint32_t cons_sleeping;
} SharedCons;

_Static_assert(sizeof(SharedProd) == sizeof(LaneRingProd), "layout");
_Static_assert(sizeof(SharedCons) == sizeof(LaneRingCons), "layout");
_Static_assert(sizeof(LaneRingHeader) == 88, "layout (docs/link-layer.md)");

/*
 * One direction, as seen by this end; everything but the pointers' targets
 * is private and never re-read from the region.
 */
typedef struct RingView {
    SharedProd *p;
    SharedCons *c;
    uint8_t *data;
    uint32_t size;          /* power of two */
    uint32_t mask;
    uint32_t index;         /* ours: prod (tx) or cons (rx) */
    uint32_t peek_len;      /* rx: what the last peek allowed */
    _Atomic uint32_t *hdr_size;  /* the header's copy of size */
} RingView;

struct LaneRing {
    bool creator;
    bool broken;
    bool hung_up;           /* the peer closed its wake-up end */
    int memfd;
    int wait_fd;            /* our wake-up socket: we poll and drain it */
    int kick_fd;            /* we send kicks on it; the peer's end wakes */
    int peer_wait_fd;       /* creator: the attacher's ends, to pass */
    int peer_kick_fd;
    uint8_t *map;           /* guard page, region, guard */
    size_t map_len;
    uint8_t *region;
    uint64_t region_size;
    RingView tx, rx;
    unsigned kicks_owed;    /* flags we raised since the last drain */
    LaneRingStats stats;
};

/* net/ has no QEMU headers, so no qemu_real_host_page_size() here. */
static size_t page_size(void)
{
    long p = sysconf(_SC_PAGE_SIZE);

    return p > 0 ? (size_t)p : 4096;
}

static bool is_pow2(uint32_t v)
{
    return v && !(v & (v - 1));
}

/*
 * Map @size octets of @fd between two PROT_NONE guard pages, so that a
 * stray access faults instead of touching other memory.
 */
static int map_region(LaneRing *r, int fd, uint64_t size)
{
    size_t pg = page_size();
    size_t len = ((size_t)size + pg - 1) & ~(pg - 1);
    uint8_t *base, *m;

    base = mmap(NULL, len + 2 * pg, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        return -errno;
    }
    m = mmap(base + pg, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
             fd, 0);
    if (m == MAP_FAILED) {
        int e = -errno;

        munmap(base, len + 2 * pg);
        return e;
    }
    r->map = base;
    r->map_len = len + 2 * pg;
    r->region = m;
    r->region_size = size;
    return 0;
}

static void view_init(RingView *v, LaneRing *r, const LaneRingDesc *d,
                      LaneRingHeader *h, int idx)
{
    v->p = (SharedProd *)(r->region + d->prod_off);
    v->c = (SharedCons *)(r->region + d->cons_off);
    v->data = r->region + d->data_off;
    v->size = d->size;
    v->mask = d->size - 1;
    v->index = 0;
    v->peek_len = 0;
    v->hdr_size = (_Atomic uint32_t *)&h->ring[idx].size;
}

static LaneRing *ring_alloc(void)
{
    LaneRing *r = calloc(1, sizeof(*r));

    if (r) {
        r->memfd = r->wait_fd = r->kick_fd = -1;
        r->peer_wait_fd = r->peer_kick_fd = -1;
    }
    return r;
}

LaneRing *lane_ring_create(uint32_t ring_size, int *err)
{
    LaneRing *r;
    LaneRingHeader *h;
    uint64_t size;
    int sv[2], e;

    if (!ring_size) {
        ring_size = LANE_RING_DEFAULT_SIZE;
    }
    if (!is_pow2(ring_size) || ring_size < LANE_RING_MIN_SIZE ||
        ring_size > LANE_RING_MAX_SIZE) {
        e = -EINVAL;
        goto fail_early;
    }
    r = ring_alloc();
    if (!r) {
        e = -ENOMEM;
        goto fail_early;
    }
    r->creator = true;
    size = CREATOR_DATA + 2ull * ring_size;
    r->memfd = memfd_create("bladeplane-lane-ring",
                            MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (r->memfd < 0 || ftruncate(r->memfd, size) < 0 ||
        fcntl(r->memfd, F_ADD_SEALS, REQUIRED_SEALS) < 0) {
        e = -errno;
        goto fail;
    }
    /* Direction A: we kick, the attacher waits; C: the other way. */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
                   sv) < 0) {
        e = -errno;
        goto fail;
    }
    r->kick_fd = sv[0];
    r->peer_wait_fd = sv[1];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
                   sv) < 0) {
        e = -errno;
        goto fail;
    }
    r->wait_fd = sv[0];
    r->peer_kick_fd = sv[1];
    e = map_region(r, r->memfd, size);
    if (e < 0) {
        goto fail;
    }
    /* The memfd is fresh, so the region is zero: indices and flags 0. */
    h = (LaneRingHeader *)r->region;
    h->magic = LANE_RING_MAGIC;
    h->version = LANE_RING_VERSION;
    h->header_size = sizeof(*h);
    h->region_size = size;
    for (int i = 0; i < 2; i++) {
        h->ring[i].prod_off = 256 + 256 * i;
        h->ring[i].cons_off = 256 + 256 * i + 128;
        h->ring[i].data_off = CREATOR_DATA + (uint64_t)i * ring_size;
        h->ring[i].size = ring_size;
    }
    view_init(&r->tx, r, &h->ring[0], h, 0);
    view_init(&r->rx, r, &h->ring[1], h, 1);
    return r;

fail:
    lane_ring_free(r);
fail_early:
    if (err) {
        *err = e;
    }
    return NULL;
}

void lane_ring_peer_fds(const LaneRing *r, int fds[LANE_RING_NFDS])
{
    fds[LANE_RING_FD_MEM] = r->memfd;
    fds[LANE_RING_FD_WAKE_A] = r->creator ? r->peer_wait_fd : r->wait_fd;
    fds[LANE_RING_FD_WAKE_C] = r->creator ? r->peer_kick_fd : r->kick_fd;
}

void lane_ring_peer_attached(LaneRing *r)
{
    if (!r->creator) {
        return;
    }
    if (r->peer_wait_fd >= 0) {
        close(r->peer_wait_fd);
        r->peer_wait_fd = -1;
    }
    if (r->peer_kick_fd >= 0) {
        close(r->peer_kick_fd);
        r->peer_kick_fd = -1;
    }
}

unsigned lane_ring_fds_held(const LaneRing *r)
{
    return (r->memfd >= 0) + (r->wait_fd >= 0) + (r->kick_fd >= 0) +
           (r->peer_wait_fd >= 0) + (r->peer_kick_fd >= 0);
}

/*
 * Is @fd a connected AF_UNIX SOCK_SEQPACKET socket?  A peer could pass a
 * pipe, an eventfd, a listening or unconnected socket instead.
 */
static bool is_wake_socket(int fd, struct stat *st)
{
    int domain, type, listening;
    socklen_t len = sizeof(int);
    struct sockaddr_storage sa;
    socklen_t salen = sizeof(sa);

    if (fstat(fd, st) < 0 || !S_ISSOCK(st->st_mode) ||
        getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
        domain != AF_UNIX) {
        return false;
    }
    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
        type != SOCK_SEQPACKET) {
        return false;
    }
    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
        listening) {
        return false;
    }
    return getpeername(fd, (struct sockaddr *)&sa, &salen) == 0;
}

/*
 * [off, off + len) inside the region, @align-aligned, and overlapping none
 * of the @n blocks already accepted.
 */
static bool block_ok(uint64_t off, uint64_t len, uint64_t align,
                     uint64_t region, uint64_t blocks[][2], int *n)
{
    if (off % align || len > region || off > region - len) {
        return false;
    }
    for (int i = 0; i < *n; i++) {
        if (off < blocks[i][0] + blocks[i][1] && blocks[i][0] < off + len) {
            return false;
        }
    }
    blocks[*n][0] = off;
    blocks[*n][1] = len;
    (*n)++;
    return true;
}

/*
 * Validate a header copied out of the region (the peer cannot change the
 * copy while we check it).
 */
static bool header_ok(const LaneRingHeader *h, uint64_t file_size)
{
    uint64_t blocks[7][2];
    int n = 0;

    if (h->magic != LANE_RING_MAGIC || h->version != LANE_RING_VERSION ||
        h->header_size != sizeof(*h) || h->region_size != file_size ||
        h->region_size > MAX_REGION) {
        return false;
    }
    if (!block_ok(0, sizeof(*h), 1, h->region_size, blocks, &n)) {
        return false;
    }
    for (int i = 0; i < 2; i++) {
        const LaneRingDesc *d = &h->ring[i];

        if (!is_pow2(d->size) || d->size < LANE_RING_MIN_SIZE ||
            d->size > LANE_RING_MAX_SIZE ||
            !block_ok(d->prod_off, LINE, LINE, h->region_size, blocks, &n) ||
            !block_ok(d->cons_off, LINE, LINE, h->region_size, blocks, &n) ||
            !block_ok(d->data_off, d->size, DATA_ALIGN, h->region_size,
                      blocks, &n)) {
            return false;
        }
    }
    return true;
}

LaneRing *lane_ring_attach(const int fds[LANE_RING_NFDS], int *err)
{
    LaneRing *r = ring_alloc();
    LaneRingHeader hdr, *h;
    struct stat st, wst, kst;
    int seals, e;

    if (!r) {
        for (int i = 0; i < LANE_RING_NFDS; i++) {
            close(fds[i]);
        }
        e = -ENOMEM;
        goto out;
    }
    r->memfd = fds[LANE_RING_FD_MEM];
    r->wait_fd = fds[LANE_RING_FD_WAKE_A];
    r->kick_fd = fds[LANE_RING_FD_WAKE_C];
    /*
     * Two sockets, not one twice.  Their file status flags (O_NONBLOCK)
     * are not looked at: every send and recv says MSG_DONTWAIT itself.
     */
    if (!is_wake_socket(r->wait_fd, &wst) ||
        !is_wake_socket(r->kick_fd, &kst) ||
        (wst.st_dev == kst.st_dev && wst.st_ino == kst.st_ino)) {
        e = -EBADF;
        goto fail;
    }
    /* Sealed against shrinking before we look at the size: no SIGBUS. */
    seals = fcntl(r->memfd, F_GET_SEALS);
    if (seals < 0 || (seals & REQUIRED_SEALS) != REQUIRED_SEALS) {
        e = -EPERM;
        goto fail;
    }
    if (fstat(r->memfd, &st) < 0) {
        e = -errno;
        goto fail;
    }
    if (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(hdr) ||
        (uint64_t)st.st_size > MAX_REGION) {
        e = -EINVAL;
        goto fail;
    }
    if (pread(r->memfd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
        e = -EINVAL;
        goto fail;
    }
    if (!header_ok(&hdr, st.st_size)) {
        e = -EINVAL;
        goto fail;
    }
    e = map_region(r, r->memfd, hdr.region_size);
    if (e < 0) {
        goto fail;
    }
    /* The layout is taken from the checked copy, never from the region. */
    h = (LaneRingHeader *)r->region;
    view_init(&r->tx, r, &hdr.ring[1], h, 1);
    view_init(&r->rx, r, &hdr.ring[0], h, 0);
    /* Start where the creator is now (normally 0): our index is ours. */
    r->tx.index = atomic_load_explicit(&r->tx.p->prod, memory_order_relaxed);
    r->rx.index = atomic_load_explicit(&r->rx.c->cons, memory_order_relaxed);
    return r;

fail:
    lane_ring_free(r);
out:
    if (err) {
        *err = e;
    }
    return NULL;
}

void lane_ring_free(LaneRing *r)
{
    if (!r) {
        return;
    }
    if (r->map) {
        munmap(r->map, r->map_len);
    }
    if (r->memfd >= 0) {
        close(r->memfd);
    }
    if (r->wait_fd >= 0) {
        close(r->wait_fd);
    }
    if (r->kick_fd >= 0) {
        close(r->kick_fd);
    }
    if (r->peer_wait_fd >= 0) {
        close(r->peer_wait_fd);
    }
    if (r->peer_kick_fd >= 0) {
        close(r->peer_kick_fd);
    }
    free(r);
}

bool lane_ring_is_creator(const LaneRing *r)
{
    return r->creator;
}

bool lane_ring_is_broken(const LaneRing *r)
{
    return r->broken;
}

bool lane_ring_is_hung_up(const LaneRing *r)
{
    return r->hung_up;
}

const LaneRingStats *lane_ring_stats(const LaneRing *r)
{
    return &r->stats;
}

int lane_ring_wait_fd(const LaneRing *r)
{
    return r->wait_fd;
}

static int corrupt(LaneRing *r)
{
    if (!r->broken) {
        r->broken = true;
        r->stats.corruptions++;
    }
    return -EPROTO;
}

/*
 * The peer closed its end of a wake-up socket (or sent an empty message,
 * which a well-behaved end never does): no more wake-ups can come, so the
 * ring is over.  Not a corruption: a peer that exits does this.
 */
static void hang_up(LaneRing *r)
{
    if (!r->broken) {
        r->hung_up = true;
        r->broken = true;
    }
}

/*
 * Wake-ups go over AF_UNIX SOCK_SEQPACKET socketpairs, one per direction:
 * a kick is a one-octet message.  Every send and recv passes MSG_DONTWAIT,
 * which is per call, so how the fd's file description is set up does not
 * matter.  That is the point: an attacher's ends come from the peer over
 * SCM_RIGHTS, which passes the open file description itself, so the peer
 * shares its file status flags and can clear O_NONBLOCK at any time (and
 * QEMU's socket chardev clears it on every fd it receives).  vhost-user
 * uses eventfds, written with a plain write() that relies on O_NONBLOCK;
 * a back end that clears it and fills the counter can block QEMU, which
 * vhost-user accepts since it trusts its back end.  A lane peer is not
 * trusted, and an eventfd has no per-call "do not wait" for write(), so
 * checking the flag and poll() before each access left a race the peer
 * could win (docs/security.md).  A socket's queue being full cannot
 * block us either: send() then fails with EAGAIN, and a full queue means
 * the peer has wake-ups waiting anyway.  MSG_NOSIGNAL: a peer that shut
 * its end down gets EPIPE, not SIGPIPE, for us.
 */
static void kick(LaneRing *r)
{
    static const uint8_t one = 1;
    ssize_t n;
    int tries = 0;

    do {
        n = send(r->kick_fd, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR && ++tries < 4);
    if (n == 1) {
        r->stats.kicks++;
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
               errno != EINTR && errno != ENOBUFS) {
        hang_up(r);     /* EPIPE, ECONNRESET: the peer's end is gone */
    }
}

/*
 * Drain our wake-up socket: a bounded number of messages, so that a peer
 * sending as fast as we read costs one round of the main loop at most
 * (what remains keeps the fd readable for the next round).
 *
 * A peer kicks only when it takes one of our flags down, and each flag
 * we raised since the last drain is one kick at most.  Having read that
 * many, we stop: a further recv() would only see EAGAIN, and a system
 * call is about 0.3 us on a frame's path that has two wake-ups
 * (docs/performance.md, "Forwarding latency on the Zen 4 host").
 * Kicks beyond that are a peer's own; they keep the fd readable and
 * the next call, owed none, drains them in bulk.
 */
#define WAKE_DRAIN_MAX 64

static bool drain_wakeups(LaneRing *r)
{
    int max = r->kicks_owed ? (int)r->kicks_owed : WAKE_DRAIN_MAX;
    bool kicked = false;

    r->kicks_owed = 0;
    for (int i = 0; i < max; i++) {
        uint8_t buf[8];
        ssize_t n = recv(r->wait_fd, buf, sizeof(buf), MSG_DONTWAIT);

        if (n > 0) {
            kicked = true;
        } else if (n == 0) {
            hang_up(r);     /* EOF: the peer's end is closed or shut down */
            break;
        } else if (errno != EINTR) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                hang_up(r);
            }
            break;
        }
    }
    return kicked;
}

/* A flag the peer may take down, and kick us for, is up. */
static void owe_kick(LaneRing *r, uint32_t was)
{
    if (!was && r->kicks_owed < WAKE_DRAIN_MAX) {
        r->kicks_owed++;
    }
}

int lane_ring_kick(LaneRing *r)
{
    if (r->broken) {
        return -EPROTO;
    }
    kick(r);
    return r->broken ? -EPROTO : 0;
}

/* The header's size for @v is still the one we mapped. */
static bool size_ok(RingView *v)
{
    return atomic_load_explicit(v->hdr_size, memory_order_relaxed) == v->size;
}

/* Octets used in @v's ring, from the producer's view (-1: corrupt). */
static int64_t tx_used(RingView *v)
{
    uint32_t cons = atomic_load_explicit(&v->c->cons, memory_order_acquire);
    uint32_t used = v->index - cons;

    if (!size_ok(v) || used > v->size) {
        return -1;      /* consumer past producer, or more than a ring */
    }
    return used;
}

/* Octets readable in @v's ring, from the consumer's view (-1: corrupt). */
static int64_t rx_avail(RingView *v)
{
    uint32_t prod = atomic_load_explicit(&v->p->prod, memory_order_acquire);
    uint32_t avail = prod - v->index;

    if (!size_ok(v) || avail > v->size) {
        return -1;      /* producer behind consumer, or ahead by > size */
    }
    return avail;
}

ssize_t lane_ring_tx_space(LaneRing *r)
{
    int64_t used;

    if (r->broken) {
        return -EPROTO;
    }
    used = tx_used(&r->tx);
    if (used < 0) {
        return corrupt(r);
    }
    return r->tx.size - used;
}

/* After publishing our producer index: kick the consumer if it sleeps. */
static void tx_notify(LaneRing *r)
{
    RingView *v = &r->tx;

    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&v->c->cons_sleeping, memory_order_relaxed) &&
        atomic_exchange_explicit(&v->c->cons_sleeping, 0,
                                 memory_order_relaxed)) {
        kick(r);
    }
}

ssize_t lane_ring_write(LaneRing *r, const void *buf, size_t len)
{
    RingView *v = &r->tx;
    int64_t used;
    uint32_t off, n, first;

    if (r->broken) {
        return -EPROTO;
    }
    used = tx_used(v);
    if (used < 0) {
        return corrupt(r);
    }
    n = v->size - used;
    if (len < n) {
        n = len;
    }
    if (n < len) {
        r->stats.tx_full++;
    }
    if (!n) {
        return 0;
    }
    off = v->index & v->mask;
    first = v->size - off < n ? v->size - off : n;
    memcpy(v->data + off, buf, first);
    memcpy(v->data, (const uint8_t *)buf + first, n - first);
    v->index += n;
    atomic_store_explicit(&v->p->prod, v->index, memory_order_release);
    r->stats.tx_octets += n;
    tx_notify(r);
    return r->broken ? -EPROTO : (ssize_t)n;  /* the kick found tampering */
}

/*
 * After publishing our consumer index: kick the producer if it sleeps
 * waiting for as much room as there now is.
 */
static void rx_notify(LaneRing *r)
{
    RingView *v = &r->rx;
    uint32_t need, prod, used;

    atomic_thread_fence(memory_order_seq_cst);
    need = atomic_load_explicit(&v->p->prod_need, memory_order_relaxed);
    if (!need) {
        return;
    }
    if (need > v->size) {
        need = v->size;     /* a peer's nonsense; wake it when empty */
    }
    prod = atomic_load_explicit(&v->p->prod, memory_order_relaxed);
    used = prod - v->index;
    if (used > v->size) {
        return;             /* corrupt: the next read reports it */
    }
    if (v->size - used >= need &&
        atomic_exchange_explicit(&v->p->prod_need, 0, memory_order_relaxed)) {
        kick(r);
    }
}

ssize_t lane_ring_peek(LaneRing *r, const uint8_t **p)
{
    RingView *v = &r->rx;
    int64_t avail;
    uint32_t off, n;

    if (r->broken) {
        return -EPROTO;
    }
    avail = rx_avail(v);
    if (avail < 0) {
        return corrupt(r);
    }
    off = v->index & v->mask;
    n = v->size - off < avail ? v->size - off : avail;
    v->peek_len = n;
    *p = v->data + off;
    return n;
}

int lane_ring_consume(LaneRing *r, size_t n)
{
    RingView *v = &r->rx;

    if (r->broken) {
        return -EPROTO;
    }
    if (n > v->peek_len) {
        return -EINVAL;
    }
    if (!n) {
        return 0;
    }
    v->peek_len -= n;
    v->index += n;
    atomic_store_explicit(&v->c->cons, v->index, memory_order_release);
    r->stats.rx_octets += n;
    rx_notify(r);
    return r->broken ? -EPROTO : 0;
}

ssize_t lane_ring_read(LaneRing *r, void *buf, size_t len)
{
    RingView *v = &r->rx;
    int64_t avail;
    uint32_t off, n, first;

    if (r->broken) {
        return -EPROTO;
    }
    avail = rx_avail(v);
    if (avail < 0) {
        return corrupt(r);
    }
    n = (uint64_t)avail < len ? (uint32_t)avail : (uint32_t)len;
    if (!n) {
        return 0;
    }
    off = v->index & v->mask;
    first = v->size - off < n ? v->size - off : n;
    memcpy(buf, v->data + off, first);
    memcpy((uint8_t *)buf + first, v->data, n - first);
    v->peek_len = 0;
    v->index += n;
    atomic_store_explicit(&v->c->cons, v->index, memory_order_release);
    r->stats.rx_octets += n;
    rx_notify(r);
    return r->broken ? -EPROTO : (ssize_t)n;  /* the kick found tampering */
}

int lane_ring_rx_prepare_sleep(LaneRing *r)
{
    RingView *v = &r->rx;
    int64_t avail;

    if (r->broken) {
        return -EPROTO;
    }
    owe_kick(r, atomic_exchange_explicit(&v->c->cons_sleeping, 1,
                                         memory_order_relaxed));
    /* Orders the flag before the re-check; pairs with tx_notify()'s. */
    atomic_thread_fence(memory_order_seq_cst);
    avail = rx_avail(v);
    if (avail < 0) {
        return corrupt(r);
    }
    if (avail > 0) {
        atomic_store_explicit(&v->c->cons_sleeping, 0, memory_order_relaxed);
        r->stats.sleeps_cancelled++;
        return 0;
    }
    r->stats.rx_sleeps++;
    return 1;
}

int lane_ring_tx_prepare_sleep(LaneRing *r, size_t need)
{
    RingView *v = &r->tx;
    int64_t used;

    if (r->broken) {
        return -EPROTO;
    }
    if (need > v->size) {
        need = v->size;
    }
    if (!need) {
        need = 1;
    }
    owe_kick(r, atomic_exchange_explicit(&v->p->prod_need, need,
                                         memory_order_relaxed));
    /* Orders the request before the re-check; pairs with rx_notify()'s. */
    atomic_thread_fence(memory_order_seq_cst);
    used = tx_used(v);
    if (used < 0) {
        return corrupt(r);
    }
    if ((size_t)(v->size - used) >= need) {
        atomic_store_explicit(&v->p->prod_need, 0, memory_order_relaxed);
        r->stats.sleeps_cancelled++;
        return 0;
    }
    r->stats.tx_sleeps++;
    return 1;
}

bool lane_ring_handle_wakeup(LaneRing *r)
{
    bool kicked = drain_wakeups(r);

    if (kicked) {
        r->stats.wakeups++;
    }
    if (!r->broken) {
        atomic_store_explicit(&r->rx.c->cons_sleeping, 0,
                              memory_order_relaxed);
        atomic_store_explicit(&r->tx.p->prod_need, 0, memory_order_relaxed);
    }
    return kicked;
}
