/*
 * Lane shared-memory data path: a pair of single-producer single-consumer
 * byte rings in one shared memory region (a sealed memfd), with one
 * AF_UNIX SOCK_SEQPACKET socketpair per notification direction for
 * wake-ups, modelled on vhost-user's rings and kick/call notifiers (which
 * are eventfds there; why not here: lane-ring.c, kick()).  The rings
 * carry the lane's record stream (net/lane-transport.h) unchanged: they
 * move octets, the lane's record parser validates them.  The lane
 * negotiates and uses them (net/lane-transport.h, LaneConfig.shm).
 *
 * Ends: the *creator* makes the region and two socketpairs and passes
 * three fds to the *attacher* (over the lane's chardev with SCM_RIGHTS, in
 * one message, in this order):
 *   fds[0] LANE_RING_FD_MEM     the memfd (sealed: shrink, grow, seal)
 *   fds[1] LANE_RING_FD_WAKE_A  the attacher's end of pair A: it waits on
 *                               it; the creator sends its kicks on the
 *                               other end
 *   fds[2] LANE_RING_FD_WAKE_C  the attacher's end of pair C: it sends its
 *                               kicks on it; the creator waits on the
 *                               other end
 * A kick is a one-octet message.  The creator's own ends never leave it.
 * Ring 0 carries creator -> attacher, ring 1 attacher -> creator.  Each end
 * polls one fd (lane_ring_wait_fd(), POLLIN) and on a wake-up checks both
 * its receive ring (data came) and its transmit ring (space came).
 *
 * Hostile peer: the peer may write anything into the region at any time.
 * Each end keeps the layout it created or validated at attach, and its own
 * index, in private memory; each operation loads the peer's index once,
 * checks it, and checks the header's ring size.  Any inconsistency is
 * counted (LaneRingStats.corruptions), the end latches broken and every
 * later call returns -EPROTO: the caller disconnects.  Nothing is read or
 * written outside the region, which is mapped between two inaccessible
 * guard pages.  The creator shares the attacher's socket ends' file
 * descriptions (SCM_RIGHTS passes them as they are), and with them
 * O_NONBLOCK: no send or recv relies on the flag (each passes
 * MSG_DONTWAIT), so a peer that clears it, fills the queue we send to or
 * empties the one we read changes nothing.  A peer that closes its end
 * hangs the ring up (lane_ring_is_hung_up(); every later call returns
 * -EPROTO, as for corruption, but nothing is counted).
 *
 * Threads: one end is used by one thread at a time (its producer and
 * consumer halves may not run concurrently on the same end); the two ends
 * are in different processes or threads.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADEPLANE_NET_LANE_RING_H
#define BLADEPLANE_NET_LANE_RING_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#define LANE_RING_MAGIC     0x474e5242u     /* "BRNG" little endian */
#define LANE_RING_VERSION   1
#define LANE_RING_NFDS      3
#define LANE_RING_FD_MEM    0
#define LANE_RING_FD_WAKE_A 1
#define LANE_RING_FD_WAKE_C 2
/* Fds a creator holds: the memfd, its two ends and the attacher's two. */
#define LANE_RING_CREATOR_FDS 5

/* Ring data sizes: powers of two in this range. */
#define LANE_RING_MIN_SIZE  4096u
#define LANE_RING_MAX_SIZE  (1u << 30)
/* Default: room for 64 KiB of records, as the socket lane's queue, x4. */
#define LANE_RING_DEFAULT_SIZE (256u * 1024)

/*
 * Shared layout (native byte order: both ends are on one host).  The
 * header is at offset 0; everything else is where the header says.  The
 * creator lays it out as: header at 0, ring r's producer line at
 * 256 + 256 * r, its consumer line 128 after that, data from 4096 (ring
 * 0, then ring 1).  An attacher accepts any layout whose blocks are inside
 * the region, aligned (lines to 64, data to 4096) and do not overlap.
 */
typedef struct LaneRingDesc {
    uint64_t prod_off;      /* LaneRingProd line */
    uint64_t cons_off;      /* LaneRingCons line */
    uint64_t data_off;
    uint32_t size;          /* data octets, power of two */
    uint32_t reserved;
} LaneRingDesc;

typedef struct LaneRingHeader {
    uint32_t magic;         /* LANE_RING_MAGIC */
    uint32_t version;       /* LANE_RING_VERSION */
    uint32_t header_size;   /* sizeof(LaneRingHeader) */
    uint32_t reserved;
    uint64_t region_size;   /* the memfd's size */
    LaneRingDesc ring[2];
} LaneRingHeader;

/*
 * Written by the ring's producer (the consumer clears prod_need when it
 * kicks; a hostile peer may write anything).
 * prod: octets ever written, modulo 2^32 (free running).
 * prod_need: 0, or the producer sleeps until at least this many octets
 * are free (the consumer kicks when it frees them).
 */
typedef struct LaneRingProd {
    uint32_t prod;
    uint32_t prod_need;
} LaneRingProd;

/*
 * Written by the ring's consumer (the producer clears cons_sleeping when
 * it kicks).
 * cons: octets ever read, modulo 2^32.
 * cons_sleeping: 1 while the consumer sleeps until data comes.
 */
typedef struct LaneRingCons {
    uint32_t cons;
    uint32_t cons_sleeping;
} LaneRingCons;

typedef struct LaneRingStats {
    uint64_t tx_octets, rx_octets;
    /* lane_ring_write() calls that could not take everything */
    uint64_t tx_full;
    /* kick messages sent: the peer slept (on data or on space) */
    uint64_t kicks;
    /* wake-up drains that found a kick */
    uint64_t wakeups;
    /* sleeps prepared and not cancelled by the re-check */
    uint64_t rx_sleeps, tx_sleeps;
    /* sleeps prepared and cancelled by the re-check (work was there) */
    uint64_t sleeps_cancelled;
    /* inconsistent shared state seen (the end is then broken) */
    uint64_t corruptions;
} LaneRingStats;

typedef struct LaneRing LaneRing;

/*
 * Create the region (two rings of @ring_size octets each, a power of two
 * in [LANE_RING_MIN_SIZE, LANE_RING_MAX_SIZE]; 0 = the default) and the
 * wake-up socketpairs.  Returns NULL with *err set to a negative errno.
 * The fds to pass to the attacher are lane_ring_peer_fds(); they stay
 * owned by the ring (SCM_RIGHTS duplicates them into the peer), which so
 * holds LANE_RING_CREATOR_FDS fds in all until lane_ring_peer_attached().
 */
LaneRing *lane_ring_create(uint32_t ring_size, int *err);
void lane_ring_peer_fds(const LaneRing *r, int fds[LANE_RING_NFDS]);
/*
 * The creator: the attacher has its own copies of the wake-up ends
 * (it accepted).  Ours are closed, so that the attacher's exit hangs up
 * our wake-up socket (a creator that waits on it alone, as a blade's
 * gate in virtual time does, sees its peer go).
 */
void lane_ring_peer_attached(LaneRing *r);
/* The fds the ring holds open now (lane-ring.h's counts, for checks). */
unsigned lane_ring_fds_held(const LaneRing *r);

/*
 * Attach to a region made by a peer.  Takes ownership of the three fds
 * (closed on failure too).  Refuses (NULL, *err): fds that are not a
 * memfd with F_SEAL_SHRINK, F_SEAL_GROW and F_SEAL_SEAL (-EPERM) or, for
 * the wake-ups, not two distinct connected AF_UNIX SOCK_SEQPACKET sockets
 * (-EBADF); a size other than the header's, a bad magic,
 * version, header size, ring size or layout (-EINVAL); mmap failures.
 */
LaneRing *lane_ring_attach(const int fds[LANE_RING_NFDS], int *err);
void lane_ring_free(LaneRing *r);

bool lane_ring_is_creator(const LaneRing *r);
bool lane_ring_is_broken(const LaneRing *r);
/* Broken because the peer closed or shut down its wake-up end. */
bool lane_ring_is_hung_up(const LaneRing *r);
const LaneRingStats *lane_ring_stats(const LaneRing *r);

/*
 * Transmit: copy in as much of @buf as fits.  Returns the octets taken
 * (0 when full), or -EPROTO (corruption: disconnect).  No syscall unless
 * the peer's consumer sleeps (then one send, a kick).
 */
ssize_t lane_ring_write(LaneRing *r, const void *buf, size_t len);
/* Octets lane_ring_write() would take now, or -EPROTO. */
ssize_t lane_ring_tx_space(LaneRing *r);

/*
 * Receive: copy out up to @len octets.  Returns the octets copied (0 when
 * empty), or -EPROTO.  Frees space, and kicks the peer's producer if it
 * sleeps waiting for as much space as is now free.
 */
ssize_t lane_ring_read(LaneRing *r, void *buf, size_t len);
/*
 * Zero-copy receive: *p points at the next readable octets in the shared
 * region; returns how many are contiguous there (0 when empty; may be
 * fewer than are readable, at the wrap), or -EPROTO.  The peer can change
 * them at any time: copy what you validate.  Then lane_ring_consume(n),
 * n at most what the last peek returned (else -EINVAL).
 */
ssize_t lane_ring_peek(LaneRing *r, const uint8_t **p);
int lane_ring_consume(LaneRing *r, size_t n);

/*
 * Sleeping (no lost wake-up): before blocking on lane_ring_wait_fd(), call
 * lane_ring_rx_prepare_sleep() when waiting for data and/or
 * lane_ring_tx_prepare_sleep(need) when waiting for @need free octets
 * (at most the ring size).  Each publishes "sleeping", makes a full
 * fence and re-checks the ring: it returns 1 if the caller may block, 0
 * if the condition already holds (sleep cancelled: go on), or -EPROTO.
 * The peer, after its next write (read), sees the flag and kicks.
 */
int lane_ring_rx_prepare_sleep(LaneRing *r);
int lane_ring_tx_prepare_sleep(LaneRing *r, size_t need);
/*
 * Kick the peer now, whether it sleeps or not (a kick is only a hint: the
 * peer then looks at both rings); for tests and tools.  Returns 0, or
 * -EPROTO if the ring is broken or hung up.
 */
int lane_ring_kick(LaneRing *r);
/* The fd to poll for POLLIN (our end of a wake-up socketpair). */
int lane_ring_wait_fd(const LaneRing *r);
/*
 * After lane_ring_wait_fd() polled readable (or at any time): drain the
 * wake-up socket (at most 64 messages a call: a peer that sends more
 * keeps it readable) and withdraw both sleeping flags.  Returns true if
 * a kick was pending.  Then read and write again.
 */
bool lane_ring_handle_wakeup(LaneRing *r);

#endif
