/*
 * bladeplane switch blade: shared between the device and its QMP/HMP
 * commands.  docs/switch-blade.md is the contract.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_BLADE_SWITCH_H
#define HW_BLADE_SWITCH_H

#include "qom/object.h"
#include "qapi/qapi-types-blade.h"
#include "switch-core.h"

#define TYPE_BLADE_SWITCH "blade-switch"
OBJECT_DECLARE_SIMPLE_TYPE(BladeSwitchState, BLADE_SWITCH)

#define BLADE_SWITCH_MAX_SLOTS  SW_MAX_BLADES

/*
 * The switch named by @id (its id or a QOM path), or the only one when
 * @id is NULL; NULL with @errp set if there is no such switch.
 */
BladeSwitchState *blade_switch_find(const char *id, Error **errp);

SwitchCore *blade_switch_core(BladeSwitchState *s);
/* The chassis clock, in nanoseconds (QEMU_CLOCK_VIRTUAL). */
uint64_t blade_switch_now(void);
/* Re-arm the timer after a management change to the core. */
void blade_switch_changed(BladeSwitchState *s);
/* The whole state, as query-blade-switch returns it. */
BladeSwitchInfo *blade_switch_info(BladeSwitchState *s);
/*
 * A symbol capture (blade-switch-capture's symbols members): @path NULL
 * for none; @limit in octets, 0 for BLADE_SWITCH_SYMBOLS_LIMIT.
 */
typedef struct BladeSwitchSymbols {
    const char *path;
    bool full;
    bool bits;
    uint64_t limit;
} BladeSwitchSymbols;

#define BLADE_SWITCH_SYMBOLS_LIMIT (64 * 1024 * 1024)

/*
 * Start (@pcap, @util_log, @sym->path non-NULL) or stop capturing on
 * @port (a NULL @sym: no symbol capture); false with @errp set on an
 * unknown port, a port without what was asked, or a file that cannot be
 * created.
 */
bool blade_switch_capture(BladeSwitchState *s, const char *port,
                          const char *pcap, const char *util_log,
                          const BladeSwitchSymbols *sym, Error **errp);

#endif
