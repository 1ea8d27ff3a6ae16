/*
 * Several chassis for qtests and benchmarks (blade-fabric-harness.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qobject/qlist.h"
#include "blade-fabric-harness.h"

/* The links' sockets: at most this many (unlinked at the end). */
#define FH_MAX_LINKS 8

static char *fh_link_path(FabHarness *f, unsigned link)
{
    return g_strdup_printf("%s/l%u.sock", f->dir, link);
}

void fh_netdev(GString *args, FabHarness *f, const char *id, unsigned link,
               bool server)
{
    g_autofree char *p = fh_link_path(f, link);

    g_assert_cmpuint(link, <, FH_MAX_LINKS);
    g_string_append_printf(args, " -netdev stream,id=%s,server=%s,"
                           "addr.type=unix,addr.path=%s%s", id,
                           server ? "on" : "off", p,
                           server ? "" : ",reconnect-ms=50");
}

void fh_start_chassis(FabHarness *f, unsigned c, const char *args,
                      const char *chain, unsigned slots, const char *extra)
{
    g_autofree char *json = g_strdup_printf(
        "\"chain\": %s, \"chassis\": \"c%u\", \"chassis-id\": %u, "
        "\"fabric-interval\": %u, \"chain-speed\": 0%s%s", chain, c, c,
        f->interval_ms, extra ? ", " : "", extra ? extra : "");
    /* Chassis 1 has the MAC the harness's frames are addressed to. */
    ShOpts o = { .slots = slots, .uplink = c == 1, .chassis = c - 1,
                 .args = args, .json = json };

    g_assert_cmpuint(c - 1, <, f->n);
    sh_start_opts(&f->h[c - 1], &o);
}

void fh_init(FabHarness *f, unsigned n, unsigned interval_ms)
{
    g_assert_cmpuint(n, <=, FH_MAX_CHASSIS);
    memset(f, 0, sizeof(*f));
    f->n = n;
    f->interval_ms = interval_ms;
    f->dir = g_dir_make_tmp("blade-fabric-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
}

void fh_stop(FabHarness *f)
{
    unsigned i;

    for (i = 0; i < f->n; i++) {
        if (f->h[i].qts) {
            sh_stop(&f->h[i]);
        }
    }
    for (i = 0; i < FH_MAX_LINKS; i++) {
        g_autofree char *p = fh_link_path(f, i);

        unlink(p);
    }
    rmdir(f->dir);
    g_free(f->dir);
}

void fh_pump(FabHarness *f, int ms)
{
    SwHarness *hs[FH_MAX_CHASSIS];
    unsigned c, n = 0;

    for (c = 0; c < f->n; c++) {
        if (f->h[c].qts) {
            hs[n++] = &f->h[c];
        }
    }
    sh_pump_set(hs, n, ms);
}

void fh_wait(FabHarness *f, FhCond cond, void *arg, const char *what)
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

void fh_blade_ready(FabHarness *f, unsigned c, unsigned cpu)
{
    SwHarness *h = &f->h[c - 1];
    uint8_t fr[64] = { 0 };

    sh_blade_up(h, 0, false);
    sh_eth(fr, sh_bcast, h->blades[0].mac, 0x88b6);
    sh_blade_send(h, 0, fr, sizeof(fr));
    sh_report(h, 0, cpu, 0);
}

unsigned fh_remote_in_rotation(SwHarness *h)
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

bool fh_cond_remote(FabHarness *f, void *arg)
{
    return fh_remote_in_rotation(&f->h[0]) == GPOINTER_TO_UINT(arg);
}

QDict *fh_remote_blade(QDict *st, const char *chassis)
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
