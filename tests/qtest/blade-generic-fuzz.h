/*
 * bladeplane: QEMU generic-fuzz configurations for the blade devices
 *
 * Included by QEMU's tests/qtest/fuzz/generic_fuzz_configs.h (the overlay
 * adds the include and two entries, "blade-nic" and "blade-switch").
 *
 * Both run a blade-switch and blade-nics on its backplane in the one fuzzed
 * process, every NIC fuzzed, so what the fuzzer makes one NIC send arrives
 * at another's receive path through the switch, and every lane is
 * connected to something that answers (link bring-up, utilization sets).
 * The switch has no MMIO of its own: "blade-switch" fuzzes three NICs on
 * it, with small tables and queues and slirp on its uplink, so the hostile
 * traffic exercises its lane servers, PCS decoder, MAC and flow tables,
 * limits and evictions, and full queues, as hostile blades would.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef BLADE_GENERIC_FUZZ_H
#define BLADE_GENERIC_FUZZ_H

/*
 * The backplane is a fresh directory under $TMPDIR: fuzzers running side
 * by side never share slot sockets.
 */
static inline gchar *blade_generic_fuzz_args(int nics, const char *uplink,
                                             const char *switch_props)
{
    g_autofree char *dir = g_dir_make_tmp("blade-fuzz.XXXXXX", NULL);
    GString *args = g_string_new("-machine q35 -nodefaults ");
    int i;

    g_assert_nonnull(dir);
    if (uplink) {
        g_string_append_printf(args, "-netdev %s,id=up ", uplink);
    }
    g_string_append_printf(args, "-device blade-switch,slots=%d,backplane=%s",
                           nics, dir);
    g_string_append_printf(args, "%s%s ", uplink ? ",uplink=up" : "",
                           switch_props);
    for (i = 0; i < nics; i++) {
        g_string_append_printf(args, "-device blade-nic,backplane=%s,slot=%d ",
                               dir, i);
    }
    return g_string_free(args, false);
}

static inline gchar *blade_generic_fuzz_nic_args(void)
{
    return blade_generic_fuzz_args(2, NULL, "");
}

static inline gchar *blade_generic_fuzz_switch_args(void)
{
    return blade_generic_fuzz_args(3, "user",
                                   ",mac-table-size=16,mac-limit=4,"
                                   "flow-table-size=16,queue-frames=4");
}

#endif
