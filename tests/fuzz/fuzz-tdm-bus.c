/*
 * libFuzzer target: the TDM bus's controller (net/tdm-bus.c) under any
 * schedule a management client can ask for (QMP
 * blade-switch-set-bus-schedule, the device's properties) and any
 * traffic the blades can make.
 *
 * Input: a configuration (CFG_LEN octets: transceivers, schedule, speed,
 * slot octets, frame slots, then a weight each), then operations of 4
 * octets: op, transceiver, and a 16-bit argument (a frame's length, or
 * how far the clock moves).  Ops: queue a frame, a utilization set, move
 * the clock, purge a transceiver, a new schedule (its configuration from
 * the next CFG_LEN octets), and run to the announced next event.
 *
 * Checks: a configuration is refused exactly when the bus would not take
 * it; no crash or leak; what crosses, crosses in each transceiver's order
 * and never more than was queued; times never go back and no frame
 * crosses before it was queued; a fixed map never gives a transceiver
 * more octets than its slots hold; the bus never carries more than its
 * time; and nothing crosses before the next event the bus announced, and
 * something does at it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz-target.h"
#include "tdm-bus.h"

#define OWNERS_MAX 9        /* enough to mix schedules, small enough to fill */
#define CFG_LEN (8 + OWNERS_MAX)
#define OPS_MAX 256         /* a bounded run: the clock moves up to 850 us */
#define CHECK(c) do { if (!(c)) { abort(); } } while (0)

typedef struct Model {
    uint64_t queued[TDM_MAX_OWNERS];    /* frames queued and not crossed */
    uint64_t reports[TDM_MAX_OWNERS];   /* sets waiting */
    uint64_t last_t;
    uint64_t now;
    unsigned events;
} Model;

static void on_frame(void *opaque, unsigned owner, uint64_t t, uint64_t delay)
{
    Model *m = opaque;

    CHECK(owner < TDM_MAX_OWNERS && m->queued[owner] > 0);
    m->queued[owner]--;
    CHECK(t >= m->last_t && t <= m->now);
    CHECK(delay <= t);
    m->last_t = t;
    m->events++;
}

static void on_report(void *opaque, unsigned owner, uint64_t t,
                      uint64_t delay, bool in_gap)
{
    Model *m = opaque;

    CHECK(owner < TDM_MAX_OWNERS && m->reports[owner] > 0);
    m->reports[owner] = 0;
    CHECK(t >= m->last_t && t <= m->now);
    m->last_t = t;
    m->events++;
}

static const TdmOps ops = {
    .frame_done = on_frame,
    .report_done = on_report,
};

static void config_of(const uint8_t *d, TdmConfig *cfg)
{
    unsigned i;

    tdm_config_init(cfg, d[0] % (OWNERS_MAX + 1));  /* 0: refused */
    cfg->schedule = (TdmSchedule)(d[1] % 4);       /* 3: refused */
    /* 0 and past 400000 are refused; above 100 Gb/s only the check */
    cfg->speed_mbps = (d[2] | d[3] << 8) * 7;
    if (cfg->speed_mbps > 100000 && cfg->speed_mbps <= TDM_MAX_SPEED_MBPS) {
        cfg->speed_mbps %= 100000;
    }
    cfg->slot_octets = (d[4] | d[5] << 8) % (TDM_MAX_SLOT_OCTETS + 100);
    cfg->frame_slots = (d[6] | d[7] << 8) % (TDM_MAX_FRAME_SLOTS + 10);
    for (i = 0; i < OWNERS_MAX; i++) {
        cfg->weight[i] = d[8 + i] % 6;
    }
}

static void run(TdmBus *b, Model *m, uint64_t to)
{
    m->now = to;
    tdm_bus_advance(b, to);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    TdmConfig cfg;
    char err[200];
    Model m;
    TdmBus *b;
    size_t pos;
    bool ok;

    if (size < CFG_LEN) {
        return 0;
    }
    memset(&m, 0, sizeof(m));
    config_of(data, &cfg);
    ok = tdm_config_check(&cfg, err, sizeof(err));
    b = tdm_bus_new(&cfg, &ops, &m, 0);
    CHECK(ok == (b != NULL));
    if (!b) {
        CHECK(err[0]);
        return 0;
    }
    for (pos = CFG_LEN; pos + 4 <= size && pos < CFG_LEN + 4 * OPS_MAX;
         pos += 4) {
        unsigned op = data[pos] % 6, o = data[pos + 1] % cfg.owners;
        unsigned arg = data[pos + 2] | data[pos + 3] << 8;
        uint64_t next;
        unsigned before;
        TdmConfig nc;

        switch (op) {
        case 0:
            if (tdm_bus_enqueue(b, o, arg % 9100, m.now) == 0) {
                m.queued[o]++;
            }
            break;
        case 1:
            tdm_bus_report(b, o, m.now);
            m.reports[o] = 1;
            break;
        case 2:
            run(b, &m, m.now + arg * 13);
            break;
        case 3:
            tdm_bus_purge(b, o, m.now);
            m.queued[o] = 0;
            /* a set on the bus already still crosses */
            break;
        case 4:
            if (pos + 4 + CFG_LEN > size) {
                break;
            }
            config_of(data + pos + 4, &nc);
            ok = tdm_config_check(&nc, err, sizeof(err)) &&
                 nc.owners == cfg.owners && nc.speed_mbps == cfg.speed_mbps &&
                 nc.slot_octets == cfg.slot_octets;
            CHECK(tdm_bus_set_schedule(b, &nc, m.now, err, sizeof(err)) ==
                  ok);
            if (ok) {
                cfg = nc;
            }
            pos += CFG_LEN;
            break;
        case 5:
            next = tdm_bus_next_event(b);
            if (next == TDM_NEVER || next - m.now > UINT64_C(1) << 40) {
                break;
            }
            CHECK(next > m.now);
            before = m.events;
            run(b, &m, next - 1);
            CHECK(m.events == before);
            run(b, &m, next);
            CHECK(m.events > before);
            break;
        }
    }
    {
        TdmStats st;
        uint64_t octets = 0;
        unsigned i;

        tdm_bus_stats(b, &st);
        for (i = 0; i < cfg.owners; i++) {
            TdmOwnerStats os;

            tdm_bus_owner_stats(b, i, &os);
            CHECK(os.queued == m.queued[i]);
            /* a frame's octets go only in slots granted to it */
            CHECK(os.octets <= os.grants * cfg.slot_octets);
            CHECK(os.wasted <= os.grants);
            octets += os.octets;
        }
        CHECK(octets == st.busy_octets);
        CHECK(st.busy_octets <= st.elapsed_octets);
        CHECK(st.idle_slots <= st.slots);
    }
    tdm_bus_free(b);
    return 0;
}
