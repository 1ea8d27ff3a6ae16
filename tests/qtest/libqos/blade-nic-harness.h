/*
 * Test harness for blade-nic: QEMU under qtest with one blade-nic, driven
 * through its libqos driver (libqos/blade-nic.c), and the test process as
 * the chassis end of the lane (a lane server on a UNIX socket in a
 * temporary directory, driven with poll()).  Used by blade-nic-test,
 * blade-nic-vtime-test, blade-nic-bench and, for the lane alone,
 * blade-nic-qos-test.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef LIBQOS_BLADE_NIC_HARNESS_H
#define LIBQOS_BLADE_NIC_HARNESS_H

#include "libqtest.h"
#include "qobject/qdict.h"
#include "libqos/malloc-pc.h"
#include "libqos/blade-nic.h"
#include "hw/blade/blade-nic.h"
#include "hw/blade/net/lane-transport.h"

#define NIC_DEVFN QPCI_DEVFN(4, 0)
#define NH_MAX_FRAMES 64

typedef struct NicHarness {
    QTestState *qts;
    QPCIBus *bus;
    QBladeNic nic;
    QGuestAllocator alloc;
    /* chassis end of the lane */
    Lane *srv;
    char *dir;
    char *path;
    bool srv_raw;
    uint64_t srv_util_ns;       /* its utilization period (0: none) */
    bool srv_no_shm;            /* it refuses the NIC's rings */
    /*
     * Virtual time (docs/virtual-time.md): the latency of the chassis
     * end's lane, as the NIC's vtime-latency-ns; 0: the chassis end in
     * real time.  In virtual time the chassis end's clock is @vclock,
     * which moves only with QEMU's virtual clock (nh_vstep()), so that
     * both ends see the same time.
     */
    uint64_t srv_vtime_ns;
    uint64_t vclock;
    /* the chassis end's clock at QEMU's 0 (the NIC's vtime-start-ns) */
    uint64_t vstart;
    /* frames the chassis received (the first NH_MAX_FRAMES kept) */
    uint8_t *frames[NH_MAX_FRAMES];
    size_t frame_len[NH_MAX_FRAMES];
    uint64_t frame_stamp[NH_MAX_FRAMES];    /* virtual time: their stamps */
    uint64_t last_stamp;        /* ... the latest of every frame's */
    uint64_t nframes;
    uint64_t nbytes;
    LaneUtil util;
    uint64_t nutil;
} NicHarness;

/* The chassis end's callbacks, for a test that makes its own lane. */
extern const LaneOps nh_srv_ops;

/* The chassis end's clock: the host's, or in virtual time h->vclock. */
uint64_t nh_now(NicHarness *h);

/* ---- start and stop ------------------------------------------------------ */

typedef struct NhOpts {
    bool lane;                  /* the NIC's lane on a socket (h->path) */
    bool server;                /* the chassis end listening there */
    bool raw;                   /* the chassis end's PCS: raw, not 8b10b */
    const char *dev;            /* appended to the -device option */
    const char *qemu;           /* more QEMU arguments */
    uint64_t srv_util_ns;       /* NicHarness.srv_util_ns */
    bool srv_no_shm;            /* NicHarness.srv_no_shm */
} NhOpts;

void nh_start_opts(NicHarness *h, const NhOpts *o);
/* nh_start_opts() with the chassis end's defaults. */
void nh_start_full(NicHarness *h, bool lane, bool server, bool raw,
                   const char *extra, const char *qemu_extra);
/* QEMU and the NIC alone, no lane; @extra as in NhOpts.dev. */
void nh_start(NicHarness *h, const char *extra);
void nh_stop(NicHarness *h);
/* A temporary directory for the lane's socket, h->path (slot0.sock). */
void nh_lane_dir(NicHarness *h);
/* The chassis end: a lane server on h->path, in virtual time if set. */
void nh_srv_start(NicHarness *h, bool raw);
/*
 * QEMU with "-device blade-nic,addr=04.0@dev @qemu_extra" (both may be
 * NULL), and the harness's view of its PCI function.
 */
void nh_qemu_start(NicHarness *h, const char *dev, const char *qemu_extra);

/* ---- the chassis end and the clocks -------------------------------------- */

/* Run the chassis end for up to @ms milliseconds of poll(). */
void nh_pump(NicHarness *h, int ms);
/*
 * Virtual time: move QEMU's virtual clock and the chassis end's by @ns,
 * together (the chassis end promises first: see the function).
 */
void nh_vstep(NicHarness *h, uint64_t ns);
/* Step QEMU's virtual clock, in virtual time with the chassis end's. */
void nh_clock_step(NicHarness *h, int64_t ns);

typedef bool (*NhCond)(NicHarness *h, void *arg);

/*
 * Pump the chassis end until @cond holds; each round also steps QEMU's
 * virtual clock by @step_ns (0: not at all; nh_clock_step()).  Fails the
 * test after 5 s.
 */
void nh_wait(NicHarness *h, NhCond cond, void *arg, int64_t step_ns,
             const char *what);
bool nh_cond_link_up(NicHarness *h, void *arg);
bool nh_cond_link_down(NicHarness *h, void *arg);
/* The chassis end received *(uint64_t *)@arg frames. */
bool nh_cond_frames(NicHarness *h, void *arg);
/* The NIC took *(uint64_t *)@arg frames, into the ring or counted out. */
bool nh_cond_rx_frames(NicHarness *h, void *arg);
void nh_link_up(NicHarness *h);
/* The chassis sends a frame to the NIC and flushes it. */
void nh_srv_send(NicHarness *h, const uint8_t *f, size_t len);
/* A frame of @len octets, EtherType 0x88b5, payload from @seed. */
void nh_make_frame(uint8_t *f, size_t len, const uint8_t *dst,
                   const uint8_t *src, uint8_t seed);

/* ---- the device (libqos/blade-nic.h) ------------------------------------- */

uint32_t nh_rd(NicHarness *h, uint64_t reg);
void nh_wr(NicHarness *h, uint64_t reg, uint32_t val);
uint64_t nh_stat(NicHarness *h, unsigned i);
void nh_mac(NicHarness *h, uint8_t *mac);
/* A bool or integer QOM property of the NIC (QMP qom-get). */
uint64_t nh_qom_u64(NicHarness *h, const char *prop);
void nh_desc(NicHarness *h, uint64_t ring, uint32_t idx, uint64_t addr,
             uint16_t len, uint16_t flags);
void nh_desc_wb(NicHarness *h, uint64_t ring, uint32_t idx, uint16_t *len,
                uint16_t *status);
void nh_rings(NicHarness *h, uint32_t tx_size, uint32_t rx_size);
void nh_tx_queue(NicHarness *h, const uint8_t *frame, uint16_t len);
void nh_tx_kick(NicHarness *h);

#endif
