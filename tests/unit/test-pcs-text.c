/*
 * Code groups as text (net/pcs-text.c), the symbol capture's format:
 * every special and data code group named in both columns, the running
 * disparity of each, code groups that are not valid, and the lines of
 * bursts (the worked example of docs/link-layer.md, idles, /C/ sets, the
 * utilization set in every form, errors, cut frames) and of hostile
 * input.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcs-text.h"
#include "pcs-rx.h"

static const struct {
    uint8_t octet;
    const char *name;
} specials[12] = {
    { PCS_K28_0, "K28.0" }, { PCS_K28_1, "K28.1" }, { PCS_K28_2, "K28.2" },
    { PCS_K28_3, "K28.3" }, { PCS_K28_4, "K28.4" }, { PCS_K28_5, "K28.5" },
    { PCS_K28_6, "K28.6" }, { PCS_K28_7, "K28.7" }, { PCS_K23_7, "K23.7" },
    { PCS_K27_7, "K27.7" }, { PCS_K29_7, "K29.7" }, { PCS_K30_7, "K30.7" },
};

static void out_gstring(void *opaque, const char *text, size_t len)
{
    g_string_append_len(opaque, text, len);
}

/* The token of @cg at @rd; *rd_after the RD after it. */
static char *token(uint16_t cg, unsigned rd, unsigned flags,
                   unsigned *rd_after)
{
    char buf[PCS_TEXT_CG_MAX];
    size_t n = pcs_text_cg(cg, &rd, flags, buf);

    g_assert_cmpuint(n, ==, strlen(buf));
    g_assert_cmpuint(n, <, PCS_TEXT_CG_MAX);
    if (rd_after) {
        *rd_after = rd;
    }
    return g_strdup(buf);
}

static char *bits_of(uint16_t cg)
{
    char *s = g_malloc(11);

    for (int b = 9; b >= 0; b--) {
        s[9 - b] = '0' + ((cg >> b) & 1);
    }
    s[10] = '\0';
    return s;
}

/* All twelve specials, by name, in both columns, with their bits. */
static void test_k_names(void)
{
    for (unsigned i = 0; i < 12; i++) {
        for (unsigned rd = 0; rd < 2; rd++) {
            unsigned erd = rd, trd;
            uint16_t cg = pcs_encode(specials[i].octet, true, &erd);
            g_autofree char *want = g_strdup_printf("%s%c", specials[i].name,
                                                    rd ? '+' : '-');
            g_autofree char *b = bits_of(cg);
            g_autofree char *wantb = g_strdup_printf("%s=%s", want, b);
            g_autofree char *t = token(cg, rd, 0, &trd);
            g_autofree char *tb = token(cg, rd, PCS_TEXT_BITS, NULL);

            g_assert_cmpstr(t, ==, want);
            g_assert_cmpstr(tb, ==, wantb);
            g_assert_cmpuint(trd, ==, erd);
        }
    }
    /* as the standard prints them */
    {
        g_autofree char *a = token(0x0fa, 0, PCS_TEXT_BITS, NULL);
        g_autofree char *b = token(0x305, 1, PCS_TEXT_BITS, NULL);
        g_autofree char *s = token(0x368, 0, 0, NULL);

        g_assert_cmpstr(a, ==, "K28.5-=0011111010");
        g_assert_cmpstr(b, ==, "K28.5+=1100000101");
        g_assert_cmpstr(s, ==, "K27.7-");
    }
}

/* Every data code group: Dx.y with x the low five bits, y the high three. */
static void test_d_names(void)
{
    for (unsigned o = 0; o < 256; o++) {
        for (unsigned rd = 0; rd < 2; rd++) {
            unsigned erd = rd, trd;
            uint16_t cg = pcs_encode(o, false, &erd);
            g_autofree char *want = g_strdup_printf("D%u.%u%c", o & 31,
                                                    o >> 5, rd ? '+' : '-');
            g_autofree char *t = token(cg, rd, 0, &trd);

            g_assert_cmpstr(t, ==, want);
            g_assert_cmpuint(trd, ==, erd);
        }
    }
    {
        g_autofree char *a = token(0x2aa, 0, 0, NULL);    /* 101010 1010 */
        g_autofree char *b = token(0x2aa, 1, 0, NULL);
        g_autofree char *c = token(0x237, 0, 0, NULL);    /* 100011 0111 */

        g_assert_cmpstr(a, ==, "D21.5-");
        g_assert_cmpstr(b, ==, "D21.5+");
        g_assert_cmpstr(c, ==, "D17.7-");     /* the alternate D.x.7 */
    }
}

/*
 * Running disparity: the sign is the column the code group was taken in,
 * and RD steps as the receiver's does; /I2/ and the utilization pairs.
 */
static void test_rd(void)
{
    unsigned rd = PCS_RD_NEG, erd = PCS_RD_NEG;
    uint16_t k = pcs_encode(PCS_K28_5, true, &erd);
    uint16_t d = pcs_encode(PCS_D(16, 2), false, &erd);
    g_autofree char *a = token(k, rd, 0, &rd);
    g_autofree char *b = NULL;

    g_assert_cmpstr(a, ==, "K28.5-");
    g_assert_cmpuint(rd, ==, PCS_RD_POS);
    b = token(d, rd, 0, &rd);
    g_assert_cmpstr(b, ==, "D16.2+");
    g_assert_cmpuint(rd, ==, PCS_RD_NEG);
    g_assert_cmpuint(erd, ==, PCS_RD_NEG);
}

/*
 * Code groups that are not valid where they are: "!" and their bits, a
 * name if the other column has them, "?" if neither does; above ten
 * bits, hex.  Every one of the 1024 values in both columns.
 */
static void test_invalid(void)
{
    unsigned n_invalid = 0, n_disparity = 0;

    for (unsigned cg = 0; cg < 1024; cg++) {
        for (unsigned rd = 0; rd < 2; rd++) {
            unsigned drd = rd, trd;
            unsigned res = pcs_decode(cg, &drd);
            g_autofree char *t = token(cg, rd, 0, &trd);
            g_autofree char *b = bits_of(cg);
            char name[8];

            g_assert_cmpuint(trd, ==, drd);
            if (res & PCS_CG_INVALID) {
                g_autofree char *want = g_strdup_printf("!?%c=%s",
                                                        rd ? '+' : '-', b);

                g_assert_cmpstr(t, ==, want);
                n_invalid++;
            } else if (res & PCS_CG_DISPARITY) {
                g_autofree char *want = g_strdup_printf(
                    "!%s%c=%s", pcs_cg_name(res & 0xff, res & PCS_CG_K, name),
                    rd ? '+' : '-', b);

                g_assert_cmpstr(t, ==, want);
                n_disparity++;
            } else {
                g_assert_cmpint(t[0], !=, '!');
                g_assert_null(strchr(t, '='));
            }
        }
    }
    /* 268 valid per column; the rest either of the other or of none */
    g_assert_cmpuint(n_invalid + n_disparity, ==, 2 * (1024 - 268));
    g_assert_cmpuint(n_disparity, >, 0);
    {
        g_autofree char *z = token(0, 0, 0, NULL);
        g_autofree char *big = token(0x400, 1, 0, NULL);
        g_autofree char *dis = token(0x314, 0, 0, NULL);   /* D3.0 RD+ */

        g_assert_cmpstr(z, ==, "!?-=0000000000");
        g_assert_cmpstr(big, ==, "!?+=0x0400");
        g_assert_cmpstr(dis, ==, "!D3.0-=1100010100");
    }
}

/* The lines of a burst and, if @gap, the implied idle after it. */
static char *format(const uint16_t *cgs, size_t n, unsigned flags, bool gap)
{
    GString *s = g_string_new(NULL);
    PcsText *t = g_new(PcsText, 1);

    pcs_text_init(t, flags, out_gstring, s);
    pcs_text_burst(t, "", cgs, n);
    if (gap) {
        pcs_text_gap(t, "");
    }
    g_free(t);
    return g_string_free(s, false);
}

static const uint8_t example_frame[60] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x88, 0xb5, 'b', 'l', 'a', 'd', 'e', 'p', 'l', 'a', 'n', 'e',
};

/* The burst of docs/link-layer.md's worked example: 86 code groups. */
static size_t example_burst(uint16_t *cgs)
{
    PcsUtil u = { .cpu_pct = 42, .irq_pct = 7, .seq = 5 };
    unsigned rd = PCS_RD_NEG;
    size_t n = pcs_tx_frame(example_frame, sizeof(example_frame), cgs, &rd);

    n += pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cgs + n, &rd);
    g_assert_cmpuint(n, ==, 86);
    return n;
}

static void test_worked_example(void)
{
    uint16_t cgs[128];
    size_t n = example_burst(cgs);
    g_autofree char *text = format(cgs, n, 0, true);
    g_autofree char *full = format(cgs, n, PCS_TEXT_FULL, false);
    g_auto(GStrv) lines = NULL;
    g_auto(GStrv) tokens = NULL;

    g_assert_cmpstr(text, ==,
        "frame 74 K27.7- D21.2- D21.2- D21.2- D21.2- D21.2- D21.2- D21.6- "
        "..60.. D16.5+ D24.1- D10.3+ D19.4+ K29.7- K23.7- # 64 octets, dst "
        "ff:ff:ff:ff:ff:ff src 02:00:00:00:00:01 type 0x88b5, FCS ok\n"
        "util 12 K28.5- D13.4+ K28.5- D2.1+ K28.5- D5.0+ K28.5- D15.3+ "
        "K28.5- D1.1+ K28.5- D27.3+ # symbols 21 1 48 20 52: cpu=42 irq=7 "
        "seq=5 check=52 ok\n"
        "idle 12 K28.5- D16.2+ ..8.. K28.5- D16.2+ # /I2/ x6, implied gap\n");
    /* in full, all 74 of the frame: the table's payload among them */
    lines = g_strsplit(full, "\n", -1);
    tokens = g_strsplit(lines[0], " ", -1);
    g_assert_cmpstr(tokens[0], ==, "frame");
    g_assert_cmpstr(tokens[1], ==, "74");
    g_assert_cmpstr(tokens[2 + 22], ==, "D2.3-");     /* 'b' */
    g_assert_cmpstr(tokens[2 + 23], ==, "D12.3+");    /* 'l' */
    g_assert_cmpstr(tokens[2 + 32], ==, "D0.0+");     /* padding */
    g_assert_cmpstr(tokens[2 + 74], ==, "#");
    g_assert_true(g_str_has_prefix(lines[1], "util 12 K28.5- D13.4+"));
    g_assert_cmpstr(lines[2], ==, "");
}

/* A frame that ends at RD+ has /I1/ before the set, and the gap too. */
static void test_idles_and_config(void)
{
    uint16_t cgs[64];
    unsigned rd = PCS_RD_POS;
    size_t n = 0;
    g_autofree char *idles = NULL, *cfg = NULL;
    g_autofree char *fulli = NULL;

    for (int i = 0; i < 5; i++) {
        n += pcs_tx_idle(cgs + n, &rd);
    }
    /* a burst that starts at RD+ cannot come from a lane, but decodes */
    {
        GString *s = g_string_new(NULL);
        PcsText t;

        pcs_text_init(&t, 0, out_gstring, s);
        t.rd = PCS_RD_POS;
        pcs_text_burst(&t, "P ", cgs, n);
        t.rd = PCS_RD_POS;
        pcs_text_gap(&t, "P ");
        idles = g_string_free(s, false);
    }
    g_assert_cmpstr(idles, ==,
        "P idle 10 K28.5+ D5.6- ..6.. K28.5- D16.2+ # /I1/ x1, /I2/ x4\n"
        "P idle 12 K28.5+ D5.6- ..8.. K28.5- D16.2+ # /I1/ x1, /I2/ x5, "
        "implied gap\n");
    rd = PCS_RD_NEG;
    fulli = format(cgs + 2, 4, PCS_TEXT_FULL, false);
    g_assert_cmpstr(fulli, ==,
        "idle 4 K28.5- D16.2+ K28.5- D16.2+ # /I2/ x2\n");

    rd = PCS_RD_NEG;
    n = 0;
    for (int i = 0; i < 4; i++) {
        n += pcs_tx_config(0x00a0 | (i == 3 ? PCS_CFG_ACK : 0), i & 1,
                           cgs + n, &rd);
    }
    cfg = format(cgs, n, 0, false);
    g_assert_cmpstr(cfg, ==,
        "config 4 K28.5- D21.5+ D0.5+ D0.0- # /C1/ register 0x00a0 FD PS1\n"
        "config 4 K28.5- D2.2+ D0.5- D0.0+ # /C2/ register 0x00a0 FD PS1\n"
        "config 4 K28.5+ D21.5- D0.5- D0.0+ # /C1/ register 0x00a0 FD PS1\n"
        "config 4 K28.5+ D2.2- D0.5+ D0.2- # /C2/ register 0x40a0 FD PS1 "
        "Ack\n");
}

/* The contention form, whole, and both expanded forms. */
static void test_util_forms(void)
{
    PcsUtil u = { .cpu_pct = 42, .irq_pct = 7, .seq = 5,
                  .has_contention = true, .psi_permille = 250,
                  .runnable = 3 };
    PcsUtil plain = { .cpu_pct = 42, .irq_pct = 7, .seq = 5 };
    uint16_t cgs[PCS_UTIL_MAX_CGS];
    unsigned rd = PCS_RD_NEG;
    size_t n = pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cgs, &rd);
    g_autofree char *cont = format(cgs, n, 0, false);
    g_autofree char *x = NULL, *xc = NULL;

    g_assert_cmpstr(cont, ==,
        "util-ext 12 K28.5- D14.4+ K28.5- D22.0+ K28.5- D29.2+ K28.5- D3.0+ "
        "K28.5- D15.3+ K28.5- D4.2+ # symbols 15 40 0 48 34: pressure=250 "
        "runnable=3 check=0x22 (with the set that follows)\n"
        "util 12 K28.5- D13.4+ K28.5- D2.1+ K28.5- D5.0+ K28.5- D15.3+ "
        "K28.5- D1.1+ K28.5- D27.3+ # symbols 21 1 48 20 52: cpu=42 irq=7 "
        "seq=5 check=52 ok\n");

    rd = PCS_RD_NEG;
    n = pcs_tx_util(&plain, PCS_UTIL_FORM_EXPANDED, cgs, &rd);
    g_assert_cmpuint(n, ==, PCS_UTIL_EXPANDED_CGS);
    x = format(cgs, n, 0, false);
    g_assert_cmpstr(x, ==,
        "util-expanded 6 K28.0- D10.1- D7.0- D5.0+ D20.5- K28.4- # cpu=42 "
        "irq=7 seq=5 check=0xb4 ok\n");

    rd = PCS_RD_NEG;
    n = pcs_tx_util(&u, PCS_UTIL_FORM_EXPANDED, cgs, &rd);
    xc = format(cgs, n, 0, false);
    g_assert_cmpstr(xc, ==,
        "util-expanded 10 K28.2- D10.1+ D7.0+ D5.0- D0.0+ D26.7+ D0.0- D3.0- "
        "D2.1+ K28.4- # cpu=42 irq=7 seq=5 pressure=250 runnable=3 "
        "check=0x22 ok\n");

    /* a set whose check value is wrong, and one cut short */
    rd = PCS_RD_NEG;
    n = pcs_tx_util(&plain, PCS_UTIL_FORM_IDLE, cgs, &rd);
    {
        unsigned r = PCS_RD_POS;
        g_autofree char *bad = NULL, *cut = NULL;

        cgs[11] = pcs_encode(pcs_util_alphabet[17], false, &r);
        bad = format(cgs, n, 0, false);
        g_assert_nonnull(strstr(bad, "symbols 21 1 48 20 17: cpu=42 irq=7 "
                                     "seq=5 check=17 bad (52)\n"));
        cut = format(cgs, 7, 0, false);
        g_assert_cmpstr(cut, ==,
            "util 6 K28.5- D13.4+ K28.5- D2.1+ K28.5- D5.0+ # cut short "
            "after 2 symbols\nother 1 K28.5-\n");
    }
}

/*
 * Errors: a code group hit inside a frame stays in the summary and is
 * counted; the four invalid code groups of an injected sync loss; frames
 * cut short; a burst that ends at an odd position.
 */
static void test_errors(void)
{
    uint16_t cgs[128];
    size_t n = example_burst(cgs);
    g_autofree char *hit = NULL, *loss = NULL, *cut = NULL, *early = NULL;
    g_autofree char *odd = NULL;
    uint16_t zeros[4] = { 0 };

    cgs[40] ^= 1u << 4;     /* D0.0+ 011000 1011 -> 011001 1011 */
    hit = format(cgs, n, 0, false);
    g_assert_nonnull(strstr(hit, " D21.6- ..32.. !D6.0+=0110011011 ..27.. "
                                 "D16.5+ "));
    g_assert_nonnull(strstr(hit, "K23.7- # 64 octets, 1 bad code group\n"));

    loss = format(zeros, 4, 0, true);
    g_assert_cmpstr(loss, ==,
        "other 4 !?-=0000000000 !?-=0000000000 !?-=0000000000 "
        "!?-=0000000000 # 4 not valid\n"
        "idle 12 K28.5- D16.2+ ..8.. K28.5- D16.2+ # /I2/ x6, implied gap\n");

    n = example_burst(cgs);
    cut = format(cgs, 30, 0, false);
    g_assert_cmpstr(cut, ==,
        "frame 30 K27.7- D21.2- D21.2- D21.2- D21.2- D21.2- D21.2- D21.6- "
        "..18.. D5.3+ D16.3+ D12.3- D1.3- # 22 octets, dst ff:ff:ff:ff:ff:ff "
        "src 02:00:00:00:00:01 type 0x88b5, cut short by the end of the "
        "burst\n");
    {
        unsigned r = PCS_RD_NEG;
        uint16_t b[16];
        size_t m = 0;

        b[m++] = pcs_encode(PCS_K27_7, true, &r);
        for (int i = 0; i < 3; i++) {
            b[m++] = pcs_encode(0x55, false, &r);
        }
        m += pcs_tx_idle(b + m, &r);
        early = format(b, m, 0, false);
        g_assert_cmpstr(early, ==,
            "frame 4 K27.7- D21.2- D21.2- D21.2- # 0 octets, bad preamble, "
            "cut short by K28.5\n"
            "idle 2 K28.5- D16.2+ # /I2/ x1\n");
    }
    odd = format(cgs, 3, 0, true);
    g_assert_true(g_str_has_suffix(odd, "# /I2/ x6, implied gap, at an odd "
                                        "position\n"));
}

/* With PCS_TEXT_BITS, each token has its bits; summaries stay. */
static void test_bits(void)
{
    uint16_t cgs[128];
    size_t n = example_burst(cgs);
    g_autofree char *text = format(cgs + 74, n - 74, PCS_TEXT_BITS, false);

    g_assert_cmpstr(text, ==,
        "util 12 K28.5-=0011111010 D13.4+=1011000010 K28.5-=0011111010 "
        "D2.1+=0100101001 K28.5-=0011111010 D5.0+=1010010100 "
        "K28.5-=0011111010 D15.3+=1010001100 K28.5-=0011111010 "
        "D1.1+=1000101001 K28.5-=0011111010 D27.3+=0010011100 # symbols "
        "21 1 48 20 52: cpu=42 irq=7 seq=5 check=52 ok\n");
}

/*
 * Random bursts (any 16-bit values, spliced with real ones): every line
 * is whole, the counts add up to the burst, a full line has one token per
 * code group, and RD is the receiver's.
 */
static void test_hostile(void)
{
    GRand *rng = g_rand_new_with_seed(18);
    static uint16_t cgs[12000];
    uint16_t good[128];
    size_t ngood = example_burst(good);

    for (int round = 0; round < 400; round++) {
        size_t n = g_rand_int_range(rng, 0, round < 390 ? 300 : 12000);
        unsigned flags = g_rand_int_range(rng, 0, 4);
        unsigned rd = PCS_RD_NEG;
        size_t sum = 0;
        g_autofree char *text = NULL;
        g_auto(GStrv) lines = NULL;

        for (size_t i = 0; i < n; i++) {
            unsigned what = g_rand_int_range(rng, 0, 10);

            if (what < 3) {
                cgs[i] = g_rand_int(rng);
            } else if (what < 6) {
                cgs[i] = g_rand_int_range(rng, 0, 1024);
            } else {
                cgs[i] = good[g_rand_int_range(rng, 0, ngood)];
            }
        }
        {
            GString *s = g_string_new(NULL);
            PcsText *t = g_new(PcsText, 1);

            pcs_text_init(t, flags, out_gstring, s);
            pcs_text_burst(t, "", cgs, n);
            /* RD as a receiver has it, then back at - after the gap */
            for (size_t i = 0; i < n; i++) {
                pcs_decode(cgs[i], &rd);
            }
            g_assert_cmpuint(t->rd, ==, rd);
            pcs_text_gap(t, "");
            g_assert_cmpuint(t->rd, ==, PCS_RD_NEG);
            g_free(t);
            text = g_string_free(s, false);
        }
        g_assert_true(g_str_has_suffix(text, "\n"));
        lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l && **l; l++) {
            g_auto(GStrv) tok = g_strsplit(*l, " ", -1);
            size_t count = g_ascii_strtoull(tok[1], NULL, 10);
            size_t shown = 0;

            if (!strcmp(tok[0], "idle") && strstr(*l, "implied gap")) {
                g_assert_null(l[1][0] ? l[1] : NULL);
                continue;
            }
            sum += count;
            for (char **k = tok + 2; *k && strcmp(*k, "#"); k++) {
                if ((*k)[0] == '.') {
                    g_assert_false(flags & PCS_TEXT_FULL);
                    shown += g_ascii_strtoull(*k + 2, NULL, 10);
                } else {
                    char sign = strchr(*k, '=') ? strchr(*k, '=')[-1] :
                                (*k)[strlen(*k) - 1];

                    g_assert_true(sign == '-' || sign == '+');
                    shown++;
                }
            }
            g_assert_cmpuint(shown, ==, count);
        }
        g_assert_cmpuint(sum, ==, n);
    }
    g_rand_free(rng);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pcs-text/cg/k-names", test_k_names);
    g_test_add_func("/pcs-text/cg/d-names", test_d_names);
    g_test_add_func("/pcs-text/cg/rd", test_rd);
    g_test_add_func("/pcs-text/cg/invalid", test_invalid);
    g_test_add_func("/pcs-text/burst/worked-example", test_worked_example);
    g_test_add_func("/pcs-text/burst/idles-and-config",
                    test_idles_and_config);
    g_test_add_func("/pcs-text/burst/util-forms", test_util_forms);
    g_test_add_func("/pcs-text/burst/errors", test_errors);
    g_test_add_func("/pcs-text/burst/bits", test_bits);
    g_test_add_func("/pcs-text/burst/hostile", test_hostile);
    return g_test_run();
}
