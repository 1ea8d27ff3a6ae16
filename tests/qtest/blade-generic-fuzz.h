/*
 * bladeplane: QEMU generic-fuzz configurations for the blade devices
 *
 * Included by QEMU's tests/qtest/fuzz/generic_fuzz_configs.h (the overlay
 * adds the include and two entries, "blade-nic" and "blade-switch").
 *
 * Both run a blade-switch and blade-nics on its backplane in the one fuzzed
 * process, so a NIC's lane is connected to something that answers: link
 * bring-up, utilization sets and frames the switch forwards back reach the
 * NIC's receive path.  The switch has no MMIO of its own; "blade-switch"
 * fuzzes two NICs (and slirp on the switch's uplink), so everything the
 * fuzzer makes the NICs send reaches the switch through its lane servers,
 * PCS decoder and forwarding engine, as a hostile blade's traffic would.
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#ifndef BLADE_GENERIC_FUZZ_H
#define BLADE_GENERIC_FUZZ_H

/*
 * The backplane is a fresh directory under $TMPDIR: fuzzers running side
 * by side never share slot sockets.
 */
static inline gchar *blade_generic_fuzz_args(int nics, bool uplink)
{
    g_autofree char *dir = g_dir_make_tmp("blade-fuzz.XXXXXX", NULL);
    GString *args = g_string_new("-machine q35 -nodefaults ");
    int i;

    g_assert_nonnull(dir);
    if (uplink) {
        g_string_append(args, "-netdev user,id=up ");
    }
    g_string_append_printf(args,
                           "-device blade-switch,slots=%d,backplane=%s%s ",
                           nics, dir, uplink ? ",uplink=up" : "");
    for (i = 0; i < nics; i++) {
        g_string_append_printf(args, "-device blade-nic,backplane=%s,slot=%d ",
                               dir, i);
    }
    return g_string_free(args, false);
}

static inline gchar *blade_generic_fuzz_nic_args(void)
{
    return blade_generic_fuzz_args(1, false);
}

static inline gchar *blade_generic_fuzz_switch_args(void)
{
    return blade_generic_fuzz_args(2, true);
}

#endif
