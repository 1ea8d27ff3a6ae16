/*
 * bladeplane chassis: a CPU-less machine that holds the backplane and the
 * switch blade.  Blades are separate QEMU processes that connect to the
 * chassis's slots, so this machine has no RAM, no CPU and no firmware.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "hw/boards.h"

static void blade_chassis_init(MachineState *machine)
{
    if (machine->kernel_filename) {
        error_report("blade-chassis: a chassis runs no guest code; "
                     "boot -kernel on the blades (-M q35) instead");
        exit(1);
    }
}

static void blade_chassis_machine_init(MachineClass *mc)
{
    mc->desc = "bladeplane blade-server chassis (backplane and switch blade, "
               "no CPU)";
    mc->init = blade_chassis_init;
    /* No CPU is ever created: there is no cpu_type and init makes none. */
    mc->max_cpus = 1;
    mc->default_ram_size = 0;
    mc->no_serial = 1;
    mc->no_parallel = 1;
    mc->no_floppy = 1;
    mc->no_cdrom = 1;
}

DEFINE_MACHINE("blade-chassis", blade_chassis_machine_init)
