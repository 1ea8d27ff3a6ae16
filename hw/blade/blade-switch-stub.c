/*
 * bladeplane switch blade: QMP and HMP commands when QEMU is built
 * without the blade chassis (CONFIG_BLADE_CHASSIS=n).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-blade.h"

static void no_switch(Error **errp)
{
    error_setg(errp, "this QEMU has no blade-switch (CONFIG_BLADE_CHASSIS)");
}

void qmp_blade_switch_add_service(const char *sw, const char *name,
                                  const char *vip, BladeProtocol protocol,
                                  bool has_port, uint16_t port,
                                  uint32List *blades, bool has_remote,
                                  bool remote, bool has_policy,
                                  BladePolicy policy, Error **errp)
{
    no_switch(errp);
}

void qmp_blade_switch_add_steering(const char *sw, const char *name,
                                   BladeProtocol protocol, bool has_port_min,
                                   uint16_t port_min, bool has_port_max,
                                   uint16_t port_max, const char *vip,
                                   uint32List *blades, bool has_remote,
                                   bool remote, bool has_policy,
                                   BladePolicy policy, Error **errp)
{
    no_switch(errp);
}

void qmp_blade_switch_del_rule(const char *sw, const char *name,
                               Error **errp)
{
    no_switch(errp);
}

void qmp_blade_switch_set_policy(const char *sw, const char *name,
                                 BladePolicy policy, Error **errp)
{
    no_switch(errp);
}

void qmp_blade_switch_capture(const char *sw, const char *port,
                              const char *pcap, const char *util_log,
                              const char *symbols, bool has_symbols_full,
                              bool symbols_full, bool has_symbols_bits,
                              bool symbols_bits, bool has_symbols_limit,
                              uint64_t symbols_limit, Error **errp)
{
    no_switch(errp);
}

void qmp_blade_switch_set_bus_schedule(const char *sw,
                                       BladeBusSchedule schedule,
                                       bool has_weights, uint32List *weights,
                                       bool has_switch_weight,
                                       uint32_t switch_weight,
                                       bool has_frame_slots,
                                       uint32_t frame_slots, Error **errp)
{
    no_switch(errp);
}

BladeSwitchInfo *qmp_query_blade_switch(const char *sw, Error **errp)
{
    no_switch(errp);
    return NULL;
}

void hmp_info_blade_switch(Monitor *mon, const QDict *qdict)
{
    monitor_printf(mon, "this QEMU has no blade-switch\n");
}
