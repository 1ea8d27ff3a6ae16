/*
 * A time-division multiplexed backplane bus: the bus controller of a
 * chassis whose blades share one bus rather than a lane each
 * (docs/backplane.md).
 *
 * The bus runs at one rate.  Its time is cut into slots of a fixed
 * number of octets, grouped into TDM frames; the controller grants each
 * slot to one transceiver (a blade's NIC, or the switch blade's own), and
 * only that transceiver sends in it.  A frame on the bus costs its octets
 * padded to 60, plus 24 (preamble and SFD, FCS, inter-frame gap), as on a
 * lane; it is cut into pieces that fill its owner's slots and crosses
 * when its last octet has (segmentation and reassembly, as ATM or GFP
 * over SDH carry packets in time slots).  Schedules:
 *
 *  - TDM_EQUAL: every transceiver the same number of slots a frame, in a
 *    fixed map; a slot whose owner has nothing to send goes unused.
 *  - TDM_WEIGHTED: transceiver i has weight[i] slots a frame, in a fixed
 *    map, spread over the frame; slots beyond the weights' sum are held
 *    by no one.
 *  - TDM_ON_DEMAND: each slot goes to a transceiver with something queued
 *    when the slot starts, in proportion to the weights among those that
 *    have (smooth weighted round robin); one with nothing queued gives its
 *    slots back.
 *
 * Utilization sets (docs/link-layer.md) take no data capacity: a waiting
 * set crosses in the inter-frame gap of the next frame on the bus (the
 * gap's 12 octets are part of every frame's cost already), or in 12
 * octets of a slot no frame uses.
 *
 * Plain C, no QEMU headers, and no clock read here: every entry point
 * takes @now in ns from the caller's clock, which never goes back (a time
 * earlier than one seen before counts as that one).  The caller keeps the
 * frames; the bus keeps their lengths and arrival times, per transceiver
 * in order, and says when each one crosses (ops->frame_done, for the
 * oldest frame of that transceiver).  Call tdm_bus_advance() at
 * tdm_bus_next_event() (a timer); the other entry points advance to @now
 * first.  Callbacks may read the bus's statistics but call no other
 * tdm_bus_*() function.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADEPLANE_NET_TDM_BUS_H
#define BLADEPLANE_NET_TDM_BUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define TDM_MAX_OWNERS          65      /* 64 slots and the switch blade */
#define TDM_MAX_FRAME_SLOTS     4096
#define TDM_MIN_SLOT_OCTETS     64
#define TDM_MAX_SLOT_OCTETS     16384
/*
 * The shortest slot: the controller walks a busy bus slot by slot (about
 * 54 ns of CPU a slot measured, docs/backplane.md), so shorter slots
 * would cost more CPU than the bus time they model.
 */
#define TDM_MIN_SLOT_NS         200
#define TDM_MAX_SPEED_MBPS      400000
#define TDM_MAX_QUEUE           65536   /* frames waiting per transceiver */
#define TDM_MAX_FRAME           65535   /* octets, without FCS */
/* What a frame costs on the bus beyond its octets: as on a lane. */
#define TDM_MIN_FRAME           60      /* padded to, without FCS */
#define TDM_FRAME_OVERHEAD      24      /* preamble, SFD, FCS, gap */
#define TDM_GAP_OCTETS          12
/* A utilization set: 12 code groups, the line time of 12 octets. */
#define TDM_REPORT_OCTETS       12
#define TDM_NEVER               UINT64_MAX
#define TDM_NO_OWNER            (-1)

typedef enum TdmSchedule {
    TDM_EQUAL,
    TDM_WEIGHTED,
    TDM_ON_DEMAND,
} TdmSchedule;

typedef struct TdmConfig {
    uint32_t speed_mbps;        /* 1 .. TDM_MAX_SPEED_MBPS */
    uint32_t slot_octets;       /* TDM_MIN_SLOT_OCTETS .. MAX */
    /*
     * Slots a TDM frame; 0: just enough (the weights' sum; equal: one a
     * transceiver).
     */
    uint32_t frame_slots;
    TdmSchedule schedule;
    unsigned owners;            /* transceivers, 1 .. TDM_MAX_OWNERS */
    /*
     * TDM_WEIGHTED: slots a frame; TDM_ON_DEMAND: shares, 1 and up;
     * TDM_EQUAL: not used.
     */
    uint32_t weight[TDM_MAX_OWNERS];
} TdmConfig;

/* 10 Gb/s, 512-octet slots, equal, frames just long enough. */
void tdm_config_init(TdmConfig *cfg, unsigned owners);
/*
 * Whether @cfg is a schedule the bus can run; if not, a one-line reason
 * in @err (transceivers named by index).
 */
bool tdm_config_check(const TdmConfig *cfg, char *err, size_t errlen);
const char *tdm_schedule_name(TdmSchedule s);
/* What a frame of @len octets (without FCS) costs on the bus. */
uint32_t tdm_frame_octets(size_t len);

typedef struct TdmOps {
    /*
     * The oldest queued frame of @owner crossed: its last octet at @t_ns,
     * @delay_ns after it was queued.  Required.
     */
    void (*frame_done)(void *opaque, unsigned owner, uint64_t t_ns,
                       uint64_t delay_ns);
    /*
     * @owner's waiting utilization set crossed at @t_ns, in a frame's gap
     * (@in_gap) or in unused octets of a slot.  Optional.
     */
    void (*report_done)(void *opaque, unsigned owner, uint64_t t_ns,
                        uint64_t delay_ns, bool in_gap);
    /*
     * Slot @slot_no, from @t_ns, was held by @owner (TDM_NO_OWNER: by no
     * one), which sent @octets of frames in it.  Optional.
     */
    void (*grant)(void *opaque, uint64_t slot_no, int owner, uint64_t t_ns,
                  uint32_t octets);
    /*
     * @slots slots from @slot_no went by with nothing queued anywhere
     * (counted, not passed to grant one by one).  Optional.
     */
    void (*idle)(void *opaque, uint64_t slot_no, uint64_t slots);
} TdmOps;

typedef struct TdmOwnerStats {
    uint32_t frame_slots;       /* slots of the fixed map (not on demand) */
    uint64_t grants;            /* slots granted */
    uint64_t wasted;            /* ... of which it sent nothing in */
    uint64_t octets;            /* sent, frame costs (TDM_FRAME_OVERHEAD) */
    uint64_t frames;            /* frames crossed */
    uint64_t delay_ns;          /* their waits, queued to crossed, summed */
    uint64_t delay_max_ns;
    uint64_t reports;           /* utilization sets crossed */
    uint64_t report_delay_ns;   /* their waits, summed */
    uint64_t dropped;           /* frames purged unsent */
    uint32_t queued;            /* frames waiting now */
    uint64_t queued_octets;
    bool report_waiting;        /* a utilization set waits to cross */
} TdmOwnerStats;

typedef struct TdmStats {
    uint64_t elapsed_octets;    /* bus time since it started, in octets */
    uint64_t busy_octets;       /* ... that carried frames */
    uint64_t slots;             /* slots ended */
    uint64_t idle_slots;        /* ... held by no one */
    uint64_t reports_in_gaps;
    uint64_t reports_in_idle;
    uint32_t frame_slots;       /* the frame in use */
    uint64_t schedule_changes;
} TdmStats;

typedef struct TdmBus TdmBus;

/*
 * A bus of checked configuration @cfg (NULL if not: check it first),
 * starting at @now with slot 0.
 */
TdmBus *tdm_bus_new(const TdmConfig *cfg, const TdmOps *ops, void *opaque,
                    uint64_t now);
void tdm_bus_free(TdmBus *b);
const TdmConfig *tdm_bus_config(const TdmBus *b);

/* Run the bus to @now: frames and sets cross, slots are granted. */
void tdm_bus_advance(TdmBus *b, uint64_t now);
/*
 * When something next crosses if nothing more is queued (ns), or
 * TDM_NEVER.  Cheap when nothing changed since the last call.
 */
uint64_t tdm_bus_next_event(TdmBus *b);

/*
 * @owner's transceiver has a frame of @len octets (without FCS) at @now.
 * -ENOBUFS (nothing queued) beyond TDM_MAX_QUEUE, -EMSGSIZE above
 * TDM_MAX_FRAME.
 */
int tdm_bus_enqueue(TdmBus *b, unsigned owner, size_t len, uint64_t now);
/*
 * @owner has a utilization set to send at @now (a later one replaces a
 * set still waiting, which keeps its place).
 */
void tdm_bus_report(TdmBus *b, unsigned owner, uint64_t now);
/*
 * @owner's transceiver is gone (its link went down): its queued frames
 * and set are dropped, a frame half sent too.  Returns how many frames.
 */
unsigned tdm_bus_purge(TdmBus *b, unsigned owner, uint64_t now);
/*
 * A new schedule (same number of transceivers) from the next slot on; the
 * slot in progress keeps its owner.  False with a reason in @err if
 * @cfg is refused (the bus is unchanged).
 */
bool tdm_bus_set_schedule(TdmBus *b, const TdmConfig *cfg, uint64_t now,
                          char *err, size_t errlen);

void tdm_bus_stats(const TdmBus *b, TdmStats *st);
void tdm_bus_owner_stats(const TdmBus *b, unsigned owner, TdmOwnerStats *st);
/* The owner of slot @i (0 .. frame_slots - 1) of the fixed map. */
int tdm_bus_map(const TdmBus *b, unsigned i);
/* The bus time of @octets octets, in ns (exact, as a double). */
double tdm_bus_octets_ns(const TdmBus *b, uint64_t octets);

#endif
