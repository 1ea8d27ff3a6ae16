/*
 * Several chassis for qtests and benchmarks: QEMU processes joined by
 * stream netdevs between their chain ports, each with blade-switch and the
 * test as its blades (blade-switch-harness.h).  Every wait steps every
 * chassis's virtual clock.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef LIBQOS_BLADE_FABRIC_HARNESS_H
#define LIBQOS_BLADE_FABRIC_HARNESS_H

#include "blade-switch-harness.h"

#define FH_MAX_CHASSIS 4

typedef struct FabHarness {
    SwHarness h[FH_MAX_CHASSIS];
    unsigned n;
    char *dir;                  /* link sockets */
    unsigned interval_ms;       /* advertisement period of every chassis */
} FabHarness;

void fh_init(FabHarness *f, unsigned n, unsigned interval_ms);
void fh_stop(FabHarness *f);
/* A stream netdev for one end of link @link: @server listens. */
void fh_netdev(GString *args, FabHarness *f, const char *id, unsigned link,
               bool server);
/*
 * Start chassis @c (1-based name c@c) with @slots slots, the given netdev
 * arguments and chain list (a JSON array) and @extra JSON members, the
 * uplink on chassis 1.
 */
void fh_start_chassis(FabHarness *f, unsigned c, const char *args,
                      const char *chain, unsigned slots, const char *extra);
/*
 * Poll the test's ends of every chassis at once, for up to @ms
 * milliseconds (a busy loop would take the CPU the chassis need).
 */
void fh_pump(FabHarness *f, int ms);

typedef bool (*FhCond)(FabHarness *f, void *arg);

/*
 * Pump every chassis's test ends and step every clock until @cond; fails
 * the test after 20 s of real time.
 */
void fh_wait(FabHarness *f, FhCond cond, void *arg, const char *what);
/* Blade 0 of chassis @c up, its MAC known, reporting @cpu. */
void fh_blade_ready(FabHarness *f, unsigned c, unsigned cpu);
/* How many remote blades the chassis of @h sees in rotation. */
unsigned fh_remote_in_rotation(SwHarness *h);
/* Chassis 1 sees GPOINTER_TO_UINT(@arg) remote blades in rotation. */
bool fh_cond_remote(FabHarness *f, void *arg);
/* The remote blade of chassis @chassis in state tree @st, or NULL. */
QDict *fh_remote_blade(QDict *st, const char *chassis);

#endif
