/*
 * bladeplane: qdev properties whose values are blade.json's enums.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qom/object.h"
#include "hw/core/qdev-prop-internal.h"
#include "blade-props.h"

const PropertyInfo blade_prop_lane_pcs = {
    .type = "BladeLanePcs",
    .description = "lane coding: 8b10b or raw",
    .enum_table = &BladeLanePcs_lookup,
    .get = qdev_propinfo_get_enum,
    .set = qdev_propinfo_set_enum,
    .set_default_value = qdev_propinfo_set_default_value_enum,
};

const PropertyInfo blade_prop_timing = {
    .type = "BladeTiming",
    .description = "real or virtual (docs/virtual-time.md)",
    .enum_table = &BladeTiming_lookup,
    .get = qdev_propinfo_get_enum,
    .set = qdev_propinfo_set_enum,
    .set_default_value = qdev_propinfo_set_default_value_enum,
};

const PropertyInfo blade_prop_util_source = {
    .type = "BladeUtilSource",
    .description = "utilization from: auto, guest or host",
    .enum_table = &BladeUtilSource_lookup,
    .get = qdev_propinfo_get_enum,
    .set = qdev_propinfo_set_enum,
    .set_default_value = qdev_propinfo_set_default_value_enum,
};

const PropertyInfo blade_prop_util_form = {
    .type = "BladeUtilForm",
    .description = "utilization ordered set: idle or expanded",
    .enum_table = &BladeUtilForm_lookup,
    .get = qdev_propinfo_get_enum,
    .set = qdev_propinfo_set_enum,
    .set_default_value = qdev_propinfo_set_default_value_enum,
};

const PropertyInfo blade_prop_util_estimator = {
    .type = "BladeUtilEstimator",
    .description = "util's estimate: wait, backlog, net or reported",
    .enum_table = &BladeUtilEstimator_lookup,
    .get = qdev_propinfo_get_enum,
    .set = qdev_propinfo_set_enum,
    .set_default_value = qdev_propinfo_set_default_value_enum,
};

const PropertyInfo blade_prop_backplane_kind = {
    .type = "BladeBackplaneKind",
    .description = "slots reach the switch by lanes or a tdm-bus",
    .enum_table = &BladeBackplaneKind_lookup,
    .get = qdev_propinfo_get_enum,
    .set = qdev_propinfo_set_enum,
    .set_default_value = qdev_propinfo_set_default_value_enum,
};

const PropertyInfo blade_prop_bus_schedule = {
    .type = "BladeBusSchedule",
    .description = "TDM bus slots: equal, weighted or on-demand",
    .enum_table = &BladeBusSchedule_lookup,
    .get = qdev_propinfo_get_enum,
    .set = qdev_propinfo_set_enum,
    .set_default_value = qdev_propinfo_set_default_value_enum,
};
