/*
 * 1000BASE-X PCS receive (IEEE 802.3 clause 36.2.5): the synchronization
 * state machine (Figure 36-9) and a receive state machine after Figure
 * 36-7, with frame reassembly, FCS check, configuration ordered sets and
 * the utilization ordered set of pcs-tx.h.
 *
 * Input is any sequence of 10-bit code groups; out-of-range values count
 * as invalid code groups.  Nothing is allocated; state is bounded.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADEPLANE_NET_PCS_RX_H
#define BLADEPLANE_NET_PCS_RX_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "pcs-tx.h"

/*
 * Code groups of the idle that a gap between transport bursts stands
 * for: six idle ordered sets, the minimum inter-packet gap.
 */
#define PCS_GAP_IDLE_SETS 6

typedef enum PcsSyncState {
    PCS_SYNC_LOSS = 0,
    PCS_SYNC_COMMA_DETECT_1,
    PCS_SYNC_ACQUIRE_1,
    PCS_SYNC_COMMA_DETECT_2,
    PCS_SYNC_ACQUIRE_2,
    PCS_SYNC_COMMA_DETECT_3,
    PCS_SYNC_ACQUIRED_1,
    PCS_SYNC_ACQUIRED_2,     /* 2 to 4 include their "A" substates */
    PCS_SYNC_ACQUIRED_3,
    PCS_SYNC_ACQUIRED_4,
} PcsSyncState;

typedef struct PcsRxCounters {
    uint64_t code_groups;      /* code groups received (not implied) */
    uint64_t invalid_cgs;      /* in neither disparity column */
    uint64_t disparity_errors; /* valid only in the other column */
    uint64_t odd_commas;       /* comma in an odd position while synced */
    uint64_t sync_acquired;
    uint64_t sync_lost;
    uint64_t frames;           /* delivered with a good FCS */
    uint64_t fcs_errors;
    uint64_t false_carriers;   /* carrier not starting with /S/ */
    uint64_t error_propagation; /* /V/ inside a frame */
    /* invalid, disparity or stray special code group inside a frame */
    uint64_t frame_cg_errors;
    uint64_t early_ends;       /* frame cut by K28.5, gap or sync loss */
    uint64_t bad_eop;          /* /T/ not followed by /R/ */
    uint64_t bad_preamble;     /* preamble/SFD not as sent by pcs_tx */
    uint64_t runts;            /* shorter than ETH_MIN_FRAME */
    uint64_t oversize;         /* longer than ETH_MAX_FRAME */
    /* K28.5 not followed by a data code group, or a malformed /C/ */
    uint64_t rx_invalid;
    uint64_t config_sets;      /* /C1/ /C2/ received */
    uint64_t util_sets;        /* utilization ordered sets accepted */
    /*
     * a set or contention extension broken, cut short, failing its check
     * value or claiming impossible figures
     */
    uint64_t util_errors;
    /*
     * a good contention extension dropped without its set: another
     * extension came first, the next set did not match it (its own set
     * was lost, or one of the two was damaged past its own check), or sync
     * was lost, the link went down or configuration sets came between
     */
    uint64_t util_ext_dropped;
} PcsRxCounters;

typedef struct PcsRxOps {
    /* A frame with a good FCS, FCS stripped (padding kept). */
    void (*frame)(void *opaque, const uint8_t *frame, size_t len);
    /*
     * A good utilization set; u->has_contention: it came in the contention
     * form (never with figures out of range).
     */
    void (*util)(void *opaque, const PcsUtil *u, PcsUtilForm form);
    /*
     * Three consecutive identical configuration registers (clause 37
     * ability match); reported once per run.
     */
    void (*config)(void *opaque, uint16_t reg);
    void (*sync)(void *opaque, bool sync_ok);
} PcsRxOps;

typedef struct PcsRx {
    const PcsRxOps *ops;
    void *opaque;
    PcsRxCounters cnt;
    unsigned rd;
    PcsSyncState sync;
    unsigned good_cgs;
    bool rx_even;          /* the previous code group was even */
    int state;             /* receive state, private */
    bool frame_bad;
    size_t frame_len;      /* octets after /S/, preamble included */
    unsigned util_pos;     /* symbols (octets) collected so far */
    bool util_ext;         /* idle form: collecting the extension */
    unsigned util_xlen;    /* expanded form: data octets expected */
    uint8_t util_sym[8];
    /*
     * A contention extension received whole and good, pending until the
     * next utilization set, which takes its figures if the check value
     * matches (frames and idles may come between).
     */
    bool util_ext_pending;
    uint16_t util_ext_psi, util_ext_runnable;
    uint8_t util_ext_check;
    uint8_t cfg_lo;
    bool cfg_c2;
    uint16_t cfg_reg;
    unsigned cfg_count;
    /*
     * The last utilization set as sent from RD- and from RD+ (after /I1/),
     * to take repeats in one compare.
     */
    uint16_t util_cache[PCS_UTIL_CONT_IDLE_CGS];
    uint16_t util_cache_pos[PCS_UTIL_CONT_IDLE_CGS + 2];
    size_t util_cache_len;  /* of util_cache; util_cache_pos: + 2 */
    bool util_cache_valid;
    PcsUtil util_cached;
    uint8_t buf[PCS_PREAMBLE_SFD - 1 + ETH_MAX_FRAME];
} PcsRx;

void pcs_rx_init(PcsRx *rx, const PcsRxOps *ops, void *opaque);

/* Feed @n code groups. */
void pcs_rx_input(PcsRx *rx, const uint16_t *cgs, size_t n);

/*
 * A frame's burst given as its octets (padded, FCS appended: what
 * pcs_tx_frame_octets() encodes from @rd) instead of its code groups.
 * When the receiver is where taking those code groups one by one can
 * only end one way (in sync at SYNC_ACQUIRED_1, idle at an even position
 * with no utilization set half received, its RD equal to @rd, 64 to 9216
 * octets), it does what pcs_rx_input() of them would do: counters, FCS
 * check, delivery, RD (pcs_data_rd()) and state, and returns true.
 * Otherwise it does nothing and returns false: the caller materialises
 * the code groups and feeds them to pcs_rx_input().
 */
bool pcs_rx_frame_octets(PcsRx *rx, unsigned rd, const uint8_t *octets,
                         size_t n);

/*
 * The idle between two transport bursts: PCS_GAP_IDLE_SETS idle ordered
 * sets chosen by the receiver's running disparity, /I1/ then /I2/s if it
 * is positive, else /I2/s.
 */
void pcs_rx_gap(PcsRx *rx);

/* Loss of signal (signal_detect = FAIL): sync lost at once. */
void pcs_rx_signal_lost(PcsRx *rx);

/*
 * The link went down: a pending contention extension is dropped (counted
 * in util_ext_dropped).  Loss of sync does this by itself.
 */
void pcs_rx_link_down(PcsRx *rx);

static inline bool pcs_rx_sync_ok(const PcsRx *rx)
{
    return rx->sync >= PCS_SYNC_ACQUIRED_1;
}

#endif
