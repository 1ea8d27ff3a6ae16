/*
 * libqos machine node "x86_64/q35": the machine bladeplane's blades run
 * on (QEMU's libqos has x86_64/pc only).  Its host bridge answers PCI
 * configuration cycles on ports 0xcf8/0xcfc as the i440FX does, so the
 * bus below it is libqos's pci-bus-pc.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "libqtest.h"
#include "qemu/module.h"
#include "libqos/qgraph.h"
#include "libqos/pci-pc.h"
#include "libqos/malloc-pc.h"

typedef struct QQ35Host {
    QOSGraphObject obj;
    QPCIBusPC pci;
} QQ35Host;

typedef struct QQ35Machine {
    QOSGraphObject obj;
    QGuestAllocator alloc;
    QQ35Host host;
} QQ35Machine;

static QOSGraphObject *q35_host_get_device(void *obj, const char *device)
{
    QQ35Host *host = obj;

    if (!g_strcmp0(device, "pci-bus-pc")) {
        return &host->pci.obj;
    }
    fprintf(stderr, "%s not present in q35-pcihost\n", device);
    g_assert_not_reached();
}

static void q35_destructor(QOSGraphObject *obj)
{
    QQ35Machine *machine = (QQ35Machine *)obj;

    alloc_destroy(&machine->alloc);
}

static void *q35_get_driver(void *obj, const char *interface)
{
    QQ35Machine *machine = obj;

    if (!g_strcmp0(interface, "memory")) {
        return &machine->alloc;
    }
    fprintf(stderr, "%s not present in x86_64/q35\n", interface);
    g_assert_not_reached();
}

static QOSGraphObject *q35_get_device(void *obj, const char *device)
{
    QQ35Machine *machine = obj;

    if (!g_strcmp0(device, "q35-pcihost")) {
        return &machine->host.obj;
    }
    fprintf(stderr, "%s not present in x86_64/q35\n", device);
    g_assert_not_reached();
}

static void *q35_create_machine(QTestState *qts)
{
    QQ35Machine *machine = g_new0(QQ35Machine, 1);

    machine->obj.get_device = q35_get_device;
    machine->obj.get_driver = q35_get_driver;
    machine->obj.destructor = q35_destructor;
    pc_alloc_init(&machine->alloc, qts, ALLOC_NO_FLAGS);
    machine->host.obj.get_device = q35_host_get_device;
    qpci_init_pc(&machine->host.pci, qts, &machine->alloc);
    return &machine->obj;
}

static void q35_machine_register_nodes(void)
{
    qos_node_create_machine("x86_64/q35", q35_create_machine);
    qos_node_contains("x86_64/q35", "q35-pcihost", NULL);
    qos_node_create_driver("q35-pcihost", NULL);
    qos_node_contains("q35-pcihost", "pci-bus-pc", NULL);
}

libqos_init(q35_machine_register_nodes);
