/*
 * 8b/10b code groups as text: the symbol capture's format
 * (docs/link-layer.md, "Symbol capture").
 *
 * A burst of code groups becomes one line per ordered set or run: a
 * frame from /S/ to /T/R/, a run of idles, a configuration set, a
 * utilization set (or its contention extension, or an expanded set), and
 * whatever fits none of these.  Each line is
 *
 *   PREFIX KIND COUNT TOKEN... [# NOTE]
 *
 * where COUNT is how many code groups the line stands for and each TOKEN
 * one code group: its name and the running disparity it was taken at,
 * "K28.5-" or "D16.2+"; "!" before a code group that is not valid there
 * ("!D3.0+=1100011011": valid only in the other column, "!?-=0011110110":
 * in neither), always with its ten bits after "=" (every token has them
 * with PCS_TEXT_BITS); "..N.." for N code groups left out (frames and
 * idle runs are summarised unless PCS_TEXT_FULL).
 *
 * The running disparity is tracked as a receiver tracks it
 * (pcs_decode()), across bursts and the implied idle between them.
 * Plain C, no allocation: every piece of text goes to the caller's
 * output function.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADEPLANE_NET_PCS_TEXT_H
#define BLADEPLANE_NET_PCS_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "pcs-codec.h"
#include "pcs-tx.h"

#define PCS_TEXT_FULL   0x1u    /* every code group, nothing left out */
#define PCS_TEXT_BITS   0x2u    /* every token with its ten bits */

/* Longest token of pcs_text_cg(), with its NUL ("!D31.7+=0011111111"). */
#define PCS_TEXT_CG_MAX 24

/* Receives the text, in pieces; lines end with '\n'. */
typedef void PcsTextOut(void *opaque, const char *text, size_t len);

typedef struct PcsText {
    unsigned flags;             /* PCS_TEXT_* */
    unsigned rd;                /* RD the next code group is taken at */
    bool odd;                   /* the last burst ended at an odd position */
    PcsTextOut *out;
    void *opaque;
    const char *prefix;         /* of the lines being written */
    uint8_t octets[ETH_MAX_FRAME];  /* a frame's, for its note */
} PcsText;

/* One direction of a lane, starting at RD-. */
void pcs_text_init(PcsText *t, unsigned flags, PcsTextOut *out,
                   void *opaque);

/*
 * The token of @cg taken at *rd into @buf (PCS_TEXT_CG_MAX octets), with
 * its ten bits if @flags has PCS_TEXT_BITS or it is not valid at *rd;
 * *rd steps as pcs_decode() steps it.  Returns the token's length.
 */
size_t pcs_text_cg(uint16_t cg, unsigned *rd, unsigned flags, char *buf);

/* The lines of a burst of @n code groups, each starting with @prefix. */
void pcs_text_burst(PcsText *t, const char *prefix, const uint16_t *cgs,
                    size_t n);

/*
 * The line of the implied idle after a burst (PCS_GAP_IDLE_SETS idle
 * sets: /I1/ first if RD is positive, then /I2/), which leaves RD
 * negative.
 */
void pcs_text_gap(PcsText *t, const char *prefix);

#endif
