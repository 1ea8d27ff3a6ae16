/*
 * bladeplane: qdev properties whose values are blade.json's enums, so
 * that -device ...,help lists the values and a wrong one is refused
 * when it is set.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_BLADE_PROPS_H
#define HW_BLADE_PROPS_H

#include "hw/qdev-properties.h"
#include "qapi/qapi-types-blade.h"

extern const PropertyInfo blade_prop_lane_pcs;
extern const PropertyInfo blade_prop_timing;
extern const PropertyInfo blade_prop_util_source;
extern const PropertyInfo blade_prop_util_form;
extern const PropertyInfo blade_prop_util_estimator;
extern const PropertyInfo blade_prop_backplane_kind;
extern const PropertyInfo blade_prop_bus_schedule;

#define DEFINE_PROP_BLADE_LANE_PCS(_n, _s, _f) \
    DEFINE_PROP_SIGNED(_n, _s, _f, BLADE_LANE_PCS_8B10B, \
                       blade_prop_lane_pcs, BladeLanePcs)
#define DEFINE_PROP_BLADE_TIMING(_n, _s, _f) \
    DEFINE_PROP_SIGNED(_n, _s, _f, BLADE_TIMING_REAL, \
                       blade_prop_timing, BladeTiming)
#define DEFINE_PROP_BLADE_UTIL_SOURCE(_n, _s, _f) \
    DEFINE_PROP_SIGNED(_n, _s, _f, BLADE_UTIL_SOURCE_AUTO, \
                       blade_prop_util_source, BladeUtilSource)
#define DEFINE_PROP_BLADE_UTIL_FORM(_n, _s, _f) \
    DEFINE_PROP_SIGNED(_n, _s, _f, BLADE_UTIL_FORM_IDLE, \
                       blade_prop_util_form, BladeUtilForm)
#define DEFINE_PROP_BLADE_UTIL_ESTIMATOR(_n, _s, _f) \
    DEFINE_PROP_SIGNED(_n, _s, _f, BLADE_UTIL_ESTIMATOR_WAIT, \
                       blade_prop_util_estimator, BladeUtilEstimator)
#define DEFINE_PROP_BLADE_BACKPLANE_KIND(_n, _s, _f) \
    DEFINE_PROP_SIGNED(_n, _s, _f, BLADE_BACKPLANE_KIND_LANES, \
                       blade_prop_backplane_kind, BladeBackplaneKind)
#define DEFINE_PROP_BLADE_BUS_SCHEDULE(_n, _s, _f) \
    DEFINE_PROP_SIGNED(_n, _s, _f, BLADE_BUS_SCHEDULE_EQUAL, \
                       blade_prop_bus_schedule, BladeBusSchedule)

#endif
