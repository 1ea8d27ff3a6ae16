/*
 * bladeplane blade NIC: the PCI NIC in each blade VM.
 *
 * This is the device's identity and control core: PCI IDs, BAR0 with the
 * identification and control registers, reset and migration state.  The
 * register map is specified in docs/blade-nic.md.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "hw/pci/pci_device.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "qapi/error.h"
#include "blade-nic.h"
#include "trace.h"

OBJECT_DECLARE_SIMPLE_TYPE(BladeNicState, BLADE_NIC)

struct BladeNicState {
    PCIDevice parent_obj;

    MemoryRegion bar0;

    /* Guest-visible registers */
    uint32_t scratch;

    /* Properties */
    uint16_t vendor_id;
    uint16_t device_id;
    uint16_t subsys_vendor_id;
    uint16_t subsys_id;
};

static void blade_nic_reset_registers(BladeNicState *s, const char *why)
{
    trace_blade_nic_reset(why);
    s->scratch = 0;
}

static uint64_t blade_nic_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    BladeNicState *s = opaque;
    uint64_t val;

    switch (addr) {
    case BLADE_NIC_REG_ID:
        val = BLADE_NIC_ID_VALUE;
        break;
    case BLADE_NIC_REG_VERSION:
        val = BLADE_NIC_VERSION_VALUE;
        break;
    case BLADE_NIC_REG_CTRL:
        /* RST is self-clearing: reset completes within the write. */
        val = 0;
        break;
    case BLADE_NIC_REG_SCRATCH:
        val = s->scratch;
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "blade-nic: read of unknown register 0x%" HWADDR_PRIx
                      "\n", addr);
        trace_blade_nic_mmio_bad_access("read of unknown register", addr);
        val = 0;
        break;
    }
    trace_blade_nic_mmio_read(addr, val);
    return val;
}

static void blade_nic_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                                 unsigned size)
{
    BladeNicState *s = opaque;

    trace_blade_nic_mmio_write(addr, val);
    switch (addr) {
    case BLADE_NIC_REG_CTRL:
        if (val & BLADE_NIC_CTRL_RST) {
            blade_nic_reset_registers(s, "CTRL.RST");
        }
        break;
    case BLADE_NIC_REG_SCRATCH:
        s->scratch = val;
        break;
    case BLADE_NIC_REG_ID:
    case BLADE_NIC_REG_VERSION:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "blade-nic: write to read-only register 0x%"
                      HWADDR_PRIx "\n", addr);
        trace_blade_nic_mmio_bad_access("write to read-only register", addr);
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "blade-nic: write to unknown register 0x%" HWADDR_PRIx
                      "\n", addr);
        trace_blade_nic_mmio_bad_access("write to unknown register", addr);
        break;
    }
}

static const MemoryRegionOps blade_nic_mmio_ops = {
    .read = blade_nic_mmio_read,
    .write = blade_nic_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    /* Registers are 32 bits wide; other sizes are not decoded. */
    .valid = {
        .min_access_size = 4,
        .max_access_size = 4,
    },
};

static void blade_nic_realize(PCIDevice *pci_dev, Error **errp)
{
    BladeNicState *s = BLADE_NIC(pci_dev);
    uint8_t *conf = pci_dev->config;

    /* The IDs are properties so that a lab can pose as other hardware. */
    pci_set_word(conf + PCI_VENDOR_ID, s->vendor_id);
    pci_set_word(conf + PCI_DEVICE_ID, s->device_id);
    pci_set_word(conf + PCI_SUBSYSTEM_VENDOR_ID, s->subsys_vendor_id);
    pci_set_word(conf + PCI_SUBSYSTEM_ID, s->subsys_id);
    conf[PCI_INTERRUPT_PIN] = 1;

    memory_region_init_io(&s->bar0, OBJECT(s), &blade_nic_mmio_ops, s,
                          "blade-nic.bar0", BLADE_NIC_BAR0_SIZE);
    pci_register_bar(pci_dev, 0, PCI_BASE_ADDRESS_SPACE_MEMORY, &s->bar0);
}

static void blade_nic_reset_hold(Object *obj, ResetType type)
{
    blade_nic_reset_registers(BLADE_NIC(obj), "device reset");
}

static const VMStateDescription vmstate_blade_nic = {
    .name = TYPE_BLADE_NIC,
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, BladeNicState),
        VMSTATE_UINT32(scratch, BladeNicState),
        VMSTATE_END_OF_LIST()
    },
};

static const Property blade_nic_properties[] = {
    DEFINE_PROP_UINT16("vendor-id", BladeNicState, vendor_id,
                       BLADE_NIC_VENDOR_ID),
    DEFINE_PROP_UINT16("device-id", BladeNicState, device_id,
                       BLADE_NIC_DEVICE_ID),
    DEFINE_PROP_UINT16("subsystem-vendor-id", BladeNicState,
                       subsys_vendor_id, BLADE_NIC_SUBSYS_VENDOR_ID),
    DEFINE_PROP_UINT16("subsystem-id", BladeNicState, subsys_id,
                       BLADE_NIC_SUBSYS_ID),
};

static void blade_nic_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    k->realize = blade_nic_realize;
    k->vendor_id = BLADE_NIC_VENDOR_ID;
    k->device_id = BLADE_NIC_DEVICE_ID;
    k->subsystem_vendor_id = BLADE_NIC_SUBSYS_VENDOR_ID;
    k->subsystem_id = BLADE_NIC_SUBSYS_ID;
    k->revision = BLADE_NIC_REVISION;
    k->class_id = PCI_CLASS_NETWORK_ETHERNET;

    rc->phases.hold = blade_nic_reset_hold;

    dc->desc = "bladeplane blade server NIC (backplane lane to the chassis)";
    dc->vmsd = &vmstate_blade_nic;
    device_class_set_props(dc, blade_nic_properties);
    set_bit(DEVICE_CATEGORY_NETWORK, dc->categories);
}

static const TypeInfo blade_nic_info = {
    .name          = TYPE_BLADE_NIC,
    .parent        = TYPE_PCI_DEVICE,
    .instance_size = sizeof(BladeNicState),
    .class_init    = blade_nic_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_PCIE_DEVICE },
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { }
    },
};

static void blade_nic_register_types(void)
{
    type_register_static(&blade_nic_info);
}

type_init(blade_nic_register_types)
