/*
 * bladeplane switch blade: capture.  A port's frames to a pcap file, both
 * directions, and a slot's utilization ordered sets to a log, one line
 * each; started by capture-dir or by QMP blade-switch-capture.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "blade-switch-internal.h"
#include "trace.h"

void bsw_capture(BswPort *p, const uint8_t *frame, size_t len)
{
    if (p->pcap && pcap_write(p->pcap, p->s->vtime ? blade_switch_now() :
                              qemu_clock_get_ns(QEMU_CLOCK_HOST),
                              frame, len) < 0) {
        warn_report("blade-switch: capture on %s failed; stopped it",
                    p->name);
        pcap_close(p->pcap);
        p->pcap = NULL;
    }
}

/* One line per utilization ordered set, with its code groups. */
void bsw_log_util(BswPort *p, const LaneUtil *u)
{
    PcsUtil pu = { .cpu_pct = u->cpu_pct, .irq_pct = u->irq_pct,
                   .seq = u->seq, .has_contention = u->has_contention,
                   .psi_permille = u->psi_permille,
                   .runnable = u->runnable };
    uint16_t cgs[PCS_UTIL_MAX_CGS];
    unsigned rd = 0, drd = 0;
    size_t n, i;
    GString *line;

    if (!p->util_log) {
        return;
    }
    n = pcs_tx_util(&pu, u->form, cgs, &rd);
    line = g_string_new(NULL);
    g_string_append_printf(line, "%" PRIu64 ".%09" PRIu64 " %s cpu=%u irq=%u "
                           "seq=%u",
                           u->rx_time_ns / 1000000000u,
                           u->rx_time_ns % 1000000000u, p->name,
                           u->cpu_pct, u->irq_pct, u->seq);
    if (u->has_contention) {
        g_string_append_printf(line, " pressure=%u runnable=%u",
                               u->psi_permille, u->runnable);
    }
    g_string_append_printf(line, " form=%s %s",
                           u->form == PCS_UTIL_FORM_EXPANDED ? "expanded"
                                                             : "idle",
                           u->fresh ? "new" : "repeat");
    g_string_append(line, " cg:");
    for (i = 0; i < n; i++) {
        unsigned d = pcs_decode(cgs[i], &drd);
        char name[8];

        g_string_append_c(line, ' ');
        g_string_append(line, pcs_cg_name(d & 0xff, d & PCS_CG_K, name));
    }
    g_string_append_c(line, '\n');
    if (fputs(line->str, p->util_log) < 0 || fflush(p->util_log)) {
        warn_report("blade-switch: utilization log of %s failed; stopped it",
                    p->name);
        fclose(p->util_log);
        p->util_log = NULL;
    }
    g_string_free(line, true);
}

static BswPort *bsw_port_by_name(BladeSwitchState *s, const char *name)
{
    unsigned i;

    for (i = 0; i < s->nports; i++) {
        if (!strcmp(s->ports[i].name, name)) {
            return &s->ports[i];
        }
    }
    return NULL;
}

typedef struct BswCaptureSwap {
    BswPort *p;
    PcapFile *pcap;
    FILE *util_log;
} BswCaptureSwap;

static void bsw_capture_swap(void *opaque)
{
    BswCaptureSwap *swap = opaque;
    BswPort *p = swap->p;

    pcap_close(p->pcap);
    p->pcap = swap->pcap;
    if (p->util_log) {
        fclose(p->util_log);
    }
    p->util_log = swap->util_log;
}

bool blade_switch_capture(BladeSwitchState *s, const char *port,
                          const char *pcap, const char *util_log,
                          Error **errp)
{
    BswPort *p = bsw_port_by_name(s, port);
    BswCaptureSwap swap;
    PcapFile *pf = NULL;
    FILE *uf = NULL;

    if (!p) {
        error_setg(errp, "blade-switch has no port '%s'", port);
        return false;
    }
    if (util_log && p->kind != SW_PORT_SLOT) {
        error_setg(errp, "port '%s' is not a slot: it has no utilization "
                   "log", port);
        return false;
    }
    if (pcap) {
        pf = pcap_open(pcap);
        if (!pf) {
            error_setg_errno(errp, errno, "cannot create capture file '%s'",
                             pcap);
            return false;
        }
    }
    if (util_log) {
        uf = fopen(util_log, "w");
        if (!uf) {
            error_setg_errno(errp, errno, "cannot create utilization log "
                             "'%s'", util_log);
            pcap_close(pf);
            return false;
        }
    }
    swap.p = p;
    swap.pcap = pf;
    swap.util_log = uf;
    /* a lane on an iothread writes them there: swap them there */
    bsw_thread_run(p, bsw_capture_swap, &swap);
    trace_blade_switch_capture(p->name, pcap ? pcap : "",
                               util_log ? util_log : "");
    return true;
}

bool bsw_open_capture(BladeSwitchState *s, Error **errp)
{
    unsigned i;

    if (!s->capture_dir) {
        return true;
    }
    if (g_mkdir_with_parents(s->capture_dir, 0700) < 0) {
        error_setg_errno(errp, errno, "blade-switch: cannot create "
                         "capture-dir '%s'", s->capture_dir);
        return false;
    }
    for (i = 0; i < s->nports; i++) {
        BswPort *p = &s->ports[i];
        g_autofree char *pcap = g_strdup_printf("%s/%s.pcap", s->capture_dir,
                                                p->name);
        g_autofree char *log = p->kind == SW_PORT_SLOT ?
            g_strdup_printf("%s/%s.util.log", s->capture_dir, p->name) :
            NULL;

        if (!blade_switch_capture(s, p->name, pcap, log, errp)) {
            return false;
        }
    }
    return true;
}
