/*
 * Several chassis for qtests and benchmarks: QEMU processes joined by
 * stream netdevs between their chain ports, each with blade-switch and the
 * test as its blades (blade-switch-harness.h).  Every wait steps every
 * chassis's virtual clock.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADE_FABRIC_HARNESS_H
#define BLADE_FABRIC_HARNESS_H

#include "blade-switch-harness.h"

#define MAXC 4

typedef struct Fab {
    SwHarness h[MAXC];
    unsigned n;
    char *dir;                  /* link sockets */
    unsigned interval_ms;       /* advertisement period of every chassis */
} Fab;

static inline char *link_path(Fab *f, unsigned link)
{
    return g_strdup_printf("%s/l%u.sock", f->dir, link);
}

/* A stream netdev for one end of link @link: @server listens. */
static inline void netdev(GString *args, Fab *f, const char *id, unsigned link,
                   bool server)
{
    g_autofree char *p = link_path(f, link);

    g_string_append_printf(args, " -netdev stream,id=%s,server=%s,"
                           "addr.type=unix,addr.path=%s%s", id,
                           server ? "on" : "off", p,
                           server ? "" : ",reconnect-ms=50");
}

/*
 * Start chassis @c (1-based name c@c) with one slot, the given netdev
 * arguments and chain list (a JSON array), the uplink on chassis 1.
 */
static inline void start_chassis(Fab *f, unsigned c, const char *args,
                          const char *chain, unsigned slots,
                          const char *extra)
{
    g_autofree char *json = g_strdup_printf(
        "\"chain\": %s, \"chassis\": \"c%u\", \"chassis-id\": %u, "
        "\"fabric-interval\": %u, \"chain-speed\": 0%s%s", chain, c, c,
        f->interval_ms, extra ? ", " : "", extra ? extra : "");
    /* Chassis 1 has the MAC the harness's frames are addressed to. */
    ShOpts o = { .slots = slots, .uplink = c == 1, .chassis = c - 1,
                 .args = args, .json = json };

    sh_start_opts(&f->h[c - 1], &o);
}

static inline void fab_init(Fab *f, unsigned n, unsigned interval_ms)
{
    memset(f, 0, sizeof(*f));
    f->n = n;
    f->interval_ms = interval_ms;
    f->dir = g_dir_make_tmp("blade-fabric-XXXXXX", NULL);
}

static inline void fab_stop(Fab *f)
{
    unsigned i;

    for (i = 0; i < f->n; i++) {
        if (f->h[i].qts) {
            sh_stop(&f->h[i]);
        }
    }
    for (i = 0; i < 8; i++) {
        g_autofree char *p = link_path(f, i);

        unlink(p);
    }
    rmdir(f->dir);
    g_free(f->dir);
}

/*
 * Poll the test's ends of every chassis at once, for up to @ms
 * milliseconds (a busy loop would take the CPU the chassis need).
 */
static inline void fab_pump(Fab *f, int ms)
{
    SwHarness *hs[MAXC];
    unsigned c, n = 0;

    for (c = 0; c < f->n; c++) {
        if (f->h[c].qts) {
            hs[n++] = &f->h[c];
        }
    }
    sh_pump_set(hs, n, ms);
}

typedef bool (*FabCond)(Fab *f, void *arg);

/* Pump every chassis's test ends and step every clock until @cond. */
static inline void fab_wait(Fab *f, FabCond cond, void *arg, const char *what)
{
    gint64 end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    unsigned i;

    while (!cond(f, arg)) {
        if (g_get_monotonic_time() > end) {
            for (i = 0; i < f->n; i++) {
                if (f->h[i].qts) {
                    sh_dump(&f->h[i]);
                }
            }
            g_error("timed out waiting for %s", what);
        }
        for (i = 0; i < f->n; i++) {
            if (f->h[i].qts) {
                sh_pump(&f->h[i], 0);
                qtest_clock_step(f->h[i].qts, 5 * 1000 * 1000);
            }
        }
        g_usleep(200);
    }
}

/* Blade 0 of chassis @c up, its MAC known, reporting @cpu. */
static inline void blade_ready(Fab *f, unsigned c, unsigned cpu)
{
    SwHarness *h = &f->h[c - 1];
    uint8_t fr[64] = { 0 };

    sh_blade_up(h, 0, false);
    sh_eth(fr, sh_bcast, h->blades[0].mac, 0x88b6);
    sh_blade_send(h, 0, fr, sizeof(fr));
    sh_report(h, 0, cpu, 0);
}

/* How many remote blades chassis @c sees in rotation. */
static inline unsigned remote_in_rotation(SwHarness *h)
{
    QDict *st = sh_state(h);
    QListEntry *e;
    unsigned n = 0;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(st, "blades"), e) {
        QDict *b = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_bool(b, "remote") && qdict_get_bool(b, "in-rotation")) {
            n++;
        }
    }
    qobject_unref(st);
    return n;
}

static inline bool cond_remote(Fab *f, void *arg)
{
    return remote_in_rotation(&f->h[0]) == GPOINTER_TO_UINT(arg);
}

/* The remote blade of chassis @chassis as chassis 1 sees it, or NULL. */
static inline QDict *remote_blade(QDict *st, const char *chassis)
{
    QListEntry *e;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(st, "blades"), e) {
        QDict *b = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_bool(b, "remote") &&
            !strcmp(qdict_get_str(b, "chassis"), chassis)) {
            return b;
        }
    }
    return NULL;
}

#endif
