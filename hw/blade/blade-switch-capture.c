/*
 * bladeplane switch blade: capture.  A port's frames to a pcap file, both
 * directions, and a slot's utilization ordered sets to a log, one line
 * each; started by capture-dir or by QMP blade-switch-capture.  A lane's
 * code groups, both directions, to a text file (net/pcs-text.h, and
 * docs/link-layer.md, "Symbol capture"); started by QMP only.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "blade-switch-internal.h"
#include "pcs-text.h"
#include "trace.h"

/* The time of a capture's records: the chassis clock in virtual time. */
static uint64_t bsw_capture_now(BswPort *p)
{
    return p->s->vtime ? blade_switch_now() :
                         qemu_clock_get_ns(QEMU_CLOCK_HOST);
}

void bsw_capture(BswPort *p, const uint8_t *frame, size_t len)
{
    if (p->pcap && pcap_write(p->pcap, bsw_capture_now(p),
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

/* ---- symbol capture ------------------------------------------------------ */

/*
 * A symbol capture, owned by the lane's thread (the main loop or the
 * slot's iothread): what it writes and its bound.
 */
typedef struct BswSymbols {
    BswPort *p;
    FILE *f;
    char *path;
    GString *buf;               /* the lines of one burst, gap or event */
    char prefix[48];            /* "TIME DIR " */
    PcsText text[2];            /* [false] transmit, [true] receive */
    uint64_t limit;
    uint64_t octets, lines;
    uint64_t dropped;           /* not written: the limit was reached */
    bool full;                  /* the limit was reached */
    bool failed;                /* a write failed */
    bool dirty;                 /* written since the last flush */
} BswSymbols;

static void bsw_sym_out(void *opaque, const char *text, size_t len)
{
    BswSymbols *y = opaque;

    g_string_append_len(y->buf, text, len);
}

static void bsw_sym_prefix(BswSymbols *y, const char *dir)
{
    uint64_t t = bsw_capture_now(y->p);

    snprintf(y->prefix, sizeof(y->prefix), "%" PRIu64 ".%09" PRIu64 " %s ",
             t / 1000000000u, t % 1000000000u, dir);
}

/*
 * y->buf's lines, whole, while they fit under the limit; the first that
 * does not ends the file's lines with one that says so (a hostile blade
 * can send at line rate: the file stays bounded).
 */
static void bsw_sym_write(BswSymbols *y)
{
    size_t len = y->buf->len;

    if (y->full || y->failed) {
        y->dropped++;
        return;
    }
    if (len > y->limit - y->octets) {
        y->full = true;
        y->dropped++;
        trace_blade_switch_symbols_limit(y->p->name, y->limit);
        g_string_printf(y->buf, "# limit of %" PRIu64 " octets reached: "
                        "what follows is counted, not written\n", y->limit);
        len = y->buf->len;
    } else {
        const char *c = y->buf->str;

        while ((c = memchr(c, '\n', y->buf->str + len - c))) {
            y->lines++;
            c++;
        }
        y->octets += len;
    }
    if (fwrite(y->buf->str, 1, len, y->f) != len) {
        warn_report("blade-switch: symbol capture of %s failed; stopped "
                    "writing it", y->p->name);
        y->failed = true;
    }
    y->dirty = true;
}

/* LaneCgCapture: a burst as sent or received, or a received gap. */
static void bsw_sym_cgs(void *opaque, bool rx, const uint16_t *cgs,
                        size_t n)
{
    BswSymbols *y = opaque;

    if (y->full || y->failed) {
        y->dropped++;
        return;
    }
    bsw_sym_prefix(y, rx ? "rx" : "tx");
    g_string_truncate(y->buf, 0);
    if (cgs) {
        pcs_text_burst(&y->text[rx], y->prefix, cgs, n);
        if (!rx) {
            /* the peer's receiver applies the idle after each burst */
            pcs_text_gap(&y->text[rx], y->prefix);
        }
    } else {
        pcs_text_gap(&y->text[rx], y->prefix);
    }
    bsw_sym_write(y);
}

void bsw_symbols_event(BswPort *p, LaneEvent ev)
{
    static const char *const names[] = {
        [LANE_EV_CONNECTED] = "connected",
        [LANE_EV_DISCONNECTED] = "disconnected",
        [LANE_EV_SYNC_ACQUIRED] = "sync-acquired",
        [LANE_EV_SYNC_LOST] = "sync-lost",
        [LANE_EV_LINK_UP] = "link-up",
        [LANE_EV_LINK_DOWN] = "link-down",
    };
    BswSymbols *y = p->sym;

    if (!y || ev >= ARRAY_SIZE(names)) {
        return;
    }
    bsw_sym_prefix(y, ev == LANE_EV_SYNC_ACQUIRED ||
                      ev == LANE_EV_SYNC_LOST ? "rx" : "--");
    g_string_printf(y->buf, "%sevent %s\n", y->prefix, names[ev]);
    bsw_sym_write(y);
}

void bsw_symbols_flush(BswPort *p)
{
    BswSymbols *y = p->sym;

    if (y && y->dirty) {
        fflush(y->f);
        y->dirty = false;
    }
}

static BswSymbols *bsw_symbols_open(BswPort *p, const BladeSwitchSymbols *sym,
                                    Error **errp)
{
    unsigned flags = (sym->full ? PCS_TEXT_FULL : 0) |
                     (sym->bits ? PCS_TEXT_BITS : 0);
    BswSymbols *y;
    FILE *f;

    if (!p->lane) {
        error_setg(errp, "port '%s' is not a lane: it has no code groups "
                   "to capture", p->name);
        return NULL;
    }
    if (p->s->pcs == LANE_PCS_RAW) {
        error_setg(errp, "the lane of port '%s' is raw (pcs=raw): it "
                   "carries no code groups", p->name);
        return NULL;
    }
    f = fopen(sym->path, "w");
    if (!f) {
        error_setg_errno(errp, errno, "cannot create symbol capture '%s'",
                         sym->path);
        return NULL;
    }
    y = g_new0(BswSymbols, 1);
    y->p = p;
    y->f = f;
    y->path = g_strdup(sym->path);
    y->buf = g_string_sized_new(4096);
    y->limit = sym->limit ? sym->limit : BLADE_SWITCH_SYMBOLS_LIMIT;
    pcs_text_init(&y->text[0], flags, bsw_sym_out, y);
    pcs_text_init(&y->text[1], flags, bsw_sym_out, y);
    g_string_printf(y->buf,
                    "# bladeplane symbol capture 1: %s, both directions "
                    "(docs/link-layer.md, \"Symbol capture\")\n"
                    "# TIME DIR KIND COUNT CODE-GROUP... [# NOTE], or TIME "
                    "DIR event NAME\n", p->name);
    bsw_sym_write(y);
    return y;
}

static void bsw_symbols_close(BswSymbols *y)
{
    if (!y) {
        return;
    }
    fprintf(y->f, "# end: %" PRIu64 " lines, %" PRIu64 " octets; %" PRIu64
            " bursts, gaps and events not written (limit %" PRIu64
            " octets)\n", y->lines, y->octets, y->dropped, y->limit);
    if (fclose(y->f) && !y->failed) {
        warn_report("blade-switch: symbol capture of %s failed", y->p->name);
    }
    g_string_free(y->buf, true);
    g_free(y->path);
    g_free(y);
}

/* In the lane's thread: @y (or none) replaces the capture in progress. */
static void bsw_symbols_swap(BswPort *p, BswSymbols *y)
{
    bsw_symbols_close(p->sym);
    p->sym = y;
    if (p->lane) {
        lane_capture_cgs(p->lane, y ? bsw_sym_cgs : NULL, y, !!y, !!y);
        lane_capture_gaps(p->lane, !!y);
    }
}

typedef struct BswSymbolsInfoCopy {
    BswPort *p;
    BladeSymbolCaptureInfo *info;
} BswSymbolsInfoCopy;

static void bsw_symbols_info_copy(void *opaque)
{
    BswSymbolsInfoCopy *c = opaque;
    BswSymbols *y = c->p->sym;

    if (y) {
        c->info = g_new0(BladeSymbolCaptureInfo, 1);
        c->info->file = g_strdup(y->path);
        c->info->lines = y->lines;
        c->info->octets = y->octets;
        c->info->limit = y->limit;
        c->info->dropped = y->dropped;
    }
}

BladeSymbolCaptureInfo *bsw_symbols_info(BswPort *p)
{
    BswSymbolsInfoCopy c = { .p = p };

    /* only the main loop starts and stops one: p->sym is stable here */
    if (!p->sym) {
        return NULL;
    }
    bsw_thread_run(p, bsw_symbols_info_copy, &c);
    return c.info;
}

static void bsw_symbols_stop_in(void *opaque)
{
    bsw_symbols_swap(opaque, NULL);
}

void bsw_symbols_stop(BswPort *p)
{
    if (p->sym) {
        bsw_thread_run(p, bsw_symbols_stop_in, p);
    }
}

/* ---- starting and stopping ---------------------------------------------- */

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
    BswSymbols *sym;
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
    if (p->sym || swap->sym) {
        bsw_symbols_swap(p, swap->sym);
    }
}

bool blade_switch_capture(BladeSwitchState *s, const char *port,
                          const char *pcap, const char *util_log,
                          const BladeSwitchSymbols *sym, Error **errp)
{
    BswPort *p = bsw_port_by_name(s, port);
    BswCaptureSwap swap;
    PcapFile *pf = NULL;
    FILE *uf = NULL;
    BswSymbols *y = NULL;

    if (!p) {
        error_setg(errp, "blade-switch has no port '%s'", port);
        return false;
    }
    if (util_log && p->kind != SW_PORT_SLOT) {
        error_setg(errp, "port '%s' is not a slot: it has no utilization "
                   "log", port);
        return false;
    }
    if (sym && sym->path) {
        y = bsw_symbols_open(p, sym, errp);
        if (!y) {
            return false;
        }
    }
    if (pcap) {
        pf = pcap_open(pcap);
        if (!pf) {
            error_setg_errno(errp, errno, "cannot create capture file '%s'",
                             pcap);
            goto fail;
        }
    }
    if (util_log) {
        uf = fopen(util_log, "w");
        if (!uf) {
            error_setg_errno(errp, errno, "cannot create utilization log "
                             "'%s'", util_log);
            pcap_close(pf);
            goto fail;
        }
    }
    swap.p = p;
    swap.pcap = pf;
    swap.util_log = uf;
    swap.sym = y;
    /* a lane on an iothread writes them there: swap them there */
    bsw_thread_run(p, bsw_capture_swap, &swap);
    trace_blade_switch_capture(p->name, pcap ? pcap : "",
                               util_log ? util_log : "");
    if (y) {
        trace_blade_switch_symbols(p->name, y->path, sym->full, sym->bits,
                                   y->limit);
    }
    return true;

fail:
    bsw_symbols_close(y);
    return false;
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

        if (!blade_switch_capture(s, p->name, pcap, log, NULL, errp)) {
            return false;
        }
    }
    return true;
}
