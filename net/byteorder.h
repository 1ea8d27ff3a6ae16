/*
 * Loads and stores of integers in a byte order, at any alignment, under
 * QEMU's names (include/qemu/bswap.h): lduw_be_p(), stl_be_p(), ...
 *
 * Inside QEMU's build (hw/blade) they are QEMU's own, so this header
 * brings in qemu/osdep.h and must come first in a .c file, as that one
 * does.  The stand-alone build of net/ (meson.build at the top: unit
 * tests, fuzzers, simulator) defines BLADE_NET_STANDALONE, has no QEMU
 * headers and gets the definitions below, with the same signatures:
 * 16- and 32-bit loads return int, as QEMU's do, so cast before widening
 * a 32-bit one.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADEPLANE_NET_BYTEORDER_H
#define BLADEPLANE_NET_BYTEORDER_H

#ifndef BLADE_NET_STANDALONE
#include "qemu/osdep.h"
#include "qemu/bswap.h"
#else
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Host order: a copy, which compilers turn into one move. */
static inline int lduw_he_p(const void *ptr)
{
    uint16_t v;

    memcpy(&v, ptr, sizeof(v));
    return v;
}

static inline int ldl_he_p(const void *ptr)
{
    uint32_t v;

    memcpy(&v, ptr, sizeof(v));
    return v;
}

static inline void stw_he_p(void *ptr, uint16_t v)
{
    memcpy(ptr, &v, sizeof(v));
}

static inline void stl_he_p(void *ptr, uint32_t v)
{
    memcpy(ptr, &v, sizeof(v));
}

/* A fixed order: octet by octet, which compilers turn into bswap or none. */
static inline uint64_t ld_octets(const uint8_t *p, unsigned n, bool be)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++) {
        v = v << 8 | p[be ? i : n - 1 - i];
    }
    return v;
}

static inline void st_octets(uint8_t *p, unsigned n, bool be, uint64_t v)
{
    for (unsigned i = 0; i < n; i++) {
        p[be ? n - 1 - i : i] = (uint8_t)v;
        v >>= 8;
    }
}

static inline int lduw_be_p(const void *ptr)
{
    return (int)ld_octets(ptr, 2, true);
}

static inline int ldl_be_p(const void *ptr)
{
    return (int)(uint32_t)ld_octets(ptr, 4, true);
}

static inline uint64_t ldq_be_p(const void *ptr)
{
    return ld_octets(ptr, 8, true);
}

static inline void stw_be_p(void *ptr, uint16_t v)
{
    st_octets(ptr, 2, true, v);
}

static inline void stl_be_p(void *ptr, uint32_t v)
{
    st_octets(ptr, 4, true, v);
}

static inline void stq_be_p(void *ptr, uint64_t v)
{
    st_octets(ptr, 8, true, v);
}

static inline int lduw_le_p(const void *ptr)
{
    return (int)ld_octets(ptr, 2, false);
}

static inline int ldl_le_p(const void *ptr)
{
    return (int)(uint32_t)ld_octets(ptr, 4, false);
}

static inline uint64_t ldq_le_p(const void *ptr)
{
    return ld_octets(ptr, 8, false);
}

static inline void stw_le_p(void *ptr, uint16_t v)
{
    st_octets(ptr, 2, false, v);
}

static inline void stl_le_p(void *ptr, uint32_t v)
{
    st_octets(ptr, 4, false, v);
}

static inline void stq_le_p(void *ptr, uint64_t v)
{
    st_octets(ptr, 8, false, v);
}
#endif

#endif
