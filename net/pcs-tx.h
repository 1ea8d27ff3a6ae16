/*
 * 1000BASE-X PCS transmit: frame encapsulation and ordered sets
 * (IEEE 802.3 clause 36.2.4), plus bladeplane's utilization ordered set.
 *
 * Every function appends code groups to @out, updates the running
 * disparity *rd and returns how many code groups it wrote.  A burst built
 * from these functions starts and ends on an even code-group boundary.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADEPLANE_NET_PCS_TX_H
#define BLADEPLANE_NET_PCS_TX_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "pcs-codec.h"

#define ETH_MIN_FRAME      64     /* octets including FCS */
#define ETH_MAX_FRAME      9216   /* octets including FCS (jumbo) */
#define PCS_PREAMBLE_SFD   8      /* /S/ + six 0x55 + SFD 0xD5 */
#define PCS_SFD            0xD5

/* Code groups of the utilization ordered set in each form. */
#define PCS_UTIL_IDLE_CGS     12   /* six K28.5 Dx.y ordered sets */
#define PCS_UTIL_EXPANDED_CGS 6    /* K28.0 D D D D K28.4 */
/* With contention figures: the extension's six sets, then the above. */
#define PCS_UTIL_CONT_IDLE_CGS     24
#define PCS_UTIL_CONT_EXPANDED_CGS 10  /* K28.2 D x 8 K28.4 */
/* Worst case of pcs_tx_util(), including a leading or trailing /I1/. */
#define PCS_UTIL_MAX_CGS      (PCS_UTIL_CONT_IDLE_CGS + 2)

/* Largest contention figures a set can carry. */
#define PCS_UTIL_MAX_PSI      1000  /* permille */
#define PCS_UTIL_MAX_RUNNABLE 1023

/* Worst case of pcs_tx_frame() for a frame of @len octets without FCS. */
#define PCS_FRAME_MAX_CGS(len) \
    (PCS_PREAMBLE_SFD + ((len) < 60 ? 60 : (len)) + 4 + 3)

/*
 * Build the 16-bit configuration register of clause 37 (Table 37-1).
 */
#define PCS_CFG_FD      0x0020u   /* full duplex */
#define PCS_CFG_HD      0x0040u   /* half duplex */
#define PCS_CFG_PS1     0x0080u   /* symmetric pause */
#define PCS_CFG_PS2     0x0100u   /* asymmetric pause */
#define PCS_CFG_RF_MASK 0x3000u   /* remote fault */
#define PCS_CFG_ACK     0x4000u   /* acknowledge */
#define PCS_CFG_NP      0x8000u   /* next page */

/*
 * A utilization sample: percentages 0..100 and a sequence number that the
 * sender increments once per new sample; optionally the contention
 * figures of the same interval (docs/link-layer.md, "Contention form").
 */
typedef struct PcsUtil {
    uint8_t cpu_pct;
    uint8_t irq_pct;
    uint8_t seq;
    bool has_contention;    /* the two figures below are valid */
    uint16_t psi_permille;  /* CPU pressure "some", 0..1000 */
    uint16_t runnable;      /* runnable tasks, 0..1023 */
} PcsUtil;

typedef enum PcsUtilForm {
    PCS_UTIL_FORM_IDLE = 0,   /* K28.5 Dx.y sets: an idle to clause 36 */
    PCS_UTIL_FORM_EXPANDED,   /* K28.0 ... K28.4: unused special codes */
} PcsUtilForm;

/*
 * Generated alphabet of the idle form (pcs-tables.c): 64 data octets
 * carrying six bits each, the inverse map (0xff = not a symbol) and the
 * start marker octet.
 */
extern const uint8_t pcs_util_alphabet[64];
extern const uint8_t pcs_util_symbol[256];
extern const uint8_t pcs_util_marker;
/* Start of the contention extension (idle form): the next such octet. */
extern const uint8_t pcs_util_cont_marker;

/*
 * /S/, preamble, SFD, @frame (@len octets, no FCS; padded with zeros to
 * 60), FCS, /T/R/ and a second /R/ if needed to end on an even boundary.
 * @out must hold PCS_FRAME_MAX_CGS(len).  @len must be at most
 * ETH_MAX_FRAME - 4.
 */
size_t pcs_tx_frame(const uint8_t *frame, size_t len, uint16_t *out,
                    unsigned *rd);

/*
 * Code groups of pcs_tx_frame() for a frame whose @n octets (padded to 60,
 * FCS appended: what goes between the SFD and /T/) are already at hand.
 */
#define PCS_FRAME_OCTETS_CGS(n) \
    ((1 + PCS_PREAMBLE_SFD - 1 + (n) + 2 + 1) & ~(size_t)1)

/*
 * The same burst as pcs_tx_frame() gives for that frame (/S/, preamble,
 * SFD, the @n octets, /T/R/ and /R/ if needed), from @octets that carry
 * the padding and FCS already.  @out must hold PCS_FRAME_OCTETS_CGS(n).
 * Returns that many.  A data run is materialised with it.
 */
size_t pcs_tx_frame_octets(const uint8_t *octets, size_t n, uint16_t *out,
                           unsigned *rd);

/*
 * What pcs_tx_frame_octets() would leave in *rd, without producing the
 * code groups (pcs_data_rd() over the data octets).
 */
void pcs_tx_frame_octets_rd(const uint8_t *octets, size_t n, unsigned *rd);

/*
 * One idle ordered set: /I1/ (K28.5 D5.6) at RD+, else /I2/ (K28.5
 * D16.2).
 */
size_t pcs_tx_idle(uint16_t *out, unsigned *rd);

/*
 * One configuration ordered set, /C1/ (K28.5 D21.5) or, if @c2, /C2/
 * (K28.5 D2.2), followed by @reg low octet first.
 */
size_t pcs_tx_config(uint16_t reg, bool c2, uint16_t *out, unsigned *rd);

/*
 * The utilization ordered set.  The idle form is preceded by /I1/ if *rd
 * is positive and always ends at RD-; the expanded form is followed by
 * /I1/ if it ends at RD+.  Percentages above 100 are sent as 100.  With
 * u->has_contention it is the contention form (the idle form preceded by
 * its extension, or the K28.2 expanded form); pressure above 1000 is sent
 * as 1000, runnable above 1023 as 1023.
 */
size_t pcs_tx_util(const PcsUtil *u, PcsUtilForm form, uint16_t *out,
                   unsigned *rd);

/*
 * The contention extension of @u alone, in the idle form: preceded by /I1/
 * if *rd is positive, ending at RD-, figures clamped as by pcs_tx_util().
 * It is what the gap after a frame carries of a sample with contention
 * figures when that gap holds only one six-set (docs/link-layer.md,
 * "Split across two gaps"); the set itself, pcs_tx_util() of @u without
 * has_contention, follows in a later gap.
 */
size_t pcs_tx_util_ext(const PcsUtil *u, uint16_t *out, unsigned *rd);

/*
 * Check value of a utilization sample: CRC-8 (x^8+x^2+x+1, init 0) over
 * cpu, irq, seq; the idle form sends its low six bits.
 */
uint8_t pcs_util_check(const PcsUtil *u);

/*
 * Check value of the contention form: the same CRC-8 over cpu, irq, seq,
 * then pressure and runnable as two octets each, most significant first.
 */
uint8_t pcs_util_cont_check(const PcsUtil *u);

#endif
