#!/usr/bin/env python3
# Generate net/pcs-tables.c, the 8b/10b tables of IEEE 802.3 clause 36,
# from the 5b/6b and 3b/4b sub-block tables (36.2.4, Tables 36-1a..e).
# Run: python3 net/gen-pcs-tables.py > net/pcs-tables.c
#
# SPDX-License-Identifier: GPL-2.0-or-later

# 5b/6b: abcdei for RD- (Table 36-1a..e, column "Current RD -").
SIX_B = [
    '100111', '011101', '101101', '110001', '110101', '101001', '011001',
    '111000', '111001', '100101', '010101', '110100', '001101', '101100',
    '011100', '010111', '011011', '100011', '010011', '110010', '001011',
    '101010', '011010', '111010', '110011', '100110', '010110', '110110',
    '001110', '101110', '011110', '101011',
]
K28_6B = '001111'
# 3b/4b: fghj for data (RD-, RD+), index y; .7 primary.
FOUR_B_D = [('1011', '0100'), ('1001', '1001'), ('0101', '0101'),
            ('1100', '0011'), ('1101', '0010'), ('1010', '1010'),
            ('0110', '0110'), ('1110', '0001')]
A7 = ('0111', '1000')
FOUR_B_K = [('1011', '0100'), ('0110', '1001'), ('1010', '0101'),
            ('1100', '0011'), ('1101', '0010'), ('0101', '1010'),
            ('1001', '0110'), ('0111', '1000')]
K_CODES = [0x1C, 0x3C, 0x5C, 0x7C, 0x9C, 0xBC, 0xDC, 0xFC,
           0xF7, 0xFB, 0xFD, 0xFE]


def inv(s):
    return ''.join('1' if c == '0' else '0' for c in s)


def six(x, rd):
    s = K28_6B if x is None else SIX_B[x]
    if rd == 0:
        return s
    if s.count('1') != 3 or s in ('111000',):
        return inv(s)
    return s


def rd_after(bits, rd):
    """Running disparity after a sub-block (36.2.4.3)."""
    ones = bits.count('1')
    if ones * 2 > len(bits):
        return 1
    if ones * 2 < len(bits):
        return 0
    if bits in ('000111', '0011'):
        return 1
    if bits in ('111000', '1100'):
        return 0
    return rd


def encode(byte, is_k, rd):
    x, y = byte & 31, byte >> 5
    s6 = six(None if (is_k and x == 28) else x, rd)
    rd6 = rd_after(s6, rd)
    if is_k:
        s4 = FOUR_B_K[y][rd6]
    elif y == 7 and ((rd6 == 0 and x in (17, 18, 20)) or
                     (rd6 == 1 and x in (11, 13, 14))):
        s4 = A7[rd6]
    else:
        s4 = FOUR_B_D[y][rd6]
    code = int(s6 + s4, 2)
    return code, rd_after(s4, rd6)


def check_simd_model(enc, enc6, enc4, dec6, dec4):
    """The AVX2 kernels' per-octet arithmetic (pcs-codec.c), on the tables
    above, against the encoder for every octet, code group and RD."""
    valid = {}
    for rd in (0, 1):
        for b in range(256):
            code, flip = enc[rd][b] & 0x3ff, enc[rd][b] >> 15
            x, y = b & 31, b >> 5
            c6 = enc6[32 * rd + x]
            c4 = enc4[16 * ((rd ^ c6 >> 7) & 1) + y]
            if (c6 & c4) & 0x40:
                c4 ^= 9
            assert (c6 & 0x3f) << 4 | (c4 & 15) == code
            assert (enc6[x] ^ enc4[y]) >> 7 == flip
            valid[code, rd] = (b, rd ^ flip)
    for code in range(1024):
        s6, s4 = code >> 4, code & 15
        p, c4 = dec6[s6], dec4[1][s4]
        t = c4 & dec4[2][s6 & 15]
        ok = p & dec4[4 if p & 0x80 else 3][t]
        for rd in (0, 1):
            got = None
            if ok & (0x20 if rd else 0x40):
                got = ((p & 31) | dec4[0][s4], rd ^ (p ^ c4) >> 7)
            assert got == valid.get((code, rd))


def check_bulk_model(enc, dec, encf, decf):
    """The portable bulk codec's arithmetic (pcs-codec.c) on its tables:
    single steps and pairs of octets from either RD against the encoder,
    single code groups and each half of a pair against the decoding
    table."""
    m64 = (1 << 64) - 1

    def start(rd):
        return 6 + 32 * rd

    for rd in (0, 1):
        for b in range(256):
            s = (start(rd) + encf[0][b]) & m64
            assert (encf[0][b] >> (s & 63)) & 0xffff == enc[rd][b] & 0x3ff
            assert (s >> 5) & 1 == rd ^ enc[rd][b] >> 15
        for b0 in range(256):
            a = encf[0][b0]
            c = (start(rd) + a) & 63
            rd1 = rd ^ enc[rd][b0] >> 15
            for b1 in range(256):
                m = a ^ encf[1][b1]
                v = m >> c
                assert v & 0xffff == enc[rd][b0] & 0x3ff
                assert (v >> 16) & 0xffff == enc[rd1][b1] & 0x3ff
                assert ((start(rd) + m) >> 5) & 1 == rd1 ^ enc[rd1][b1] >> 15
    for code in range(1024):
        d = dec[code]
        is_data = d & 0x600 and not d & 0x100
        for rd in (0, 1):
            ok = bool(is_data and d & (0x200 << rd))
            octet = d & 0xff if ok else 0
            # the first of a pair, or a single step
            s = (start(rd) + decf[0][code]) & m64
            v = decf[0][code] >> (s & 63)
            assert (s >> 5) & 1 == rd ^ (d >> 11) & 1
            assert v & 0x1ffff == (octet | (not ok) << 16) or \
                (not ok and v & 0x10000)
            # the second of a pair, picked by the count before it
            v = decf[1][code] >> start(rd)
            assert v & 0x3ff00 == (octet << 8 | (not ok) << 17) or \
                (not ok and v & 0x20000)
            assert (decf[1][code] & 63) == (decf[0][code] & 63)
            # neither has bits below its fields but the flip
            assert (decf[0][code] | decf[1][code]) & 31 == 0


def main():
    enc = [[0] * 256 for _ in range(2)]
    enck = [[0] * 256 for _ in range(2)]
    dec = [0] * 1024
    for rd in (0, 1):
        for b in range(256):
            code, rdo = encode(b, False, rd)
            enc[rd][b] = code | ((rd != rdo) << 15)
            dec[code] |= b | (1 << (9 + rd))
        for b in K_CODES:
            code, rdo = encode(b, True, rd)
            enck[rd][b] = code | ((rd != rdo) << 15) | (1 << 14)
            assert dec[code] & 0x600 == 0 or dec[code] & 0x1ff == 0x100 | b
            dec[code] |= b | 0x100 | (1 << (9 + rd))
    for code in range(1024):
        bits = format(code, '010b')
        if bits.count('1') != 5:
            dec[code] |= 1 << 11
        for rd in (0, 1):
            rdo = rd_after(bits[6:], rd_after(bits[:6], rd))
            dec[code] |= rdo << (12 + rd)
        if bits[:7] in ('0011111', '1100000'):
            dec[code] |= 1 << 14

    out = []
    out.append('/*\n * 8b/10b code-group tables of IEEE 802.3 clause 36, '
               'generated by\n * net/gen-pcs-tables.py from the 5b/6b and '
               '3b/4b sub-block tables.\n * Do not edit; see pcs-codec.h '
               'for the entry layout.\n *\n'
               ' * SPDX-License-Identifier: GPL-2.0-or-later\n */\n')
    out.append('#include "fcs.h"\n#include "pcs-codec.h"\n')

    def table(name, vals, per=8):
        lines = []
        for i in range(0, len(vals), per):
            lines.append('    ' + ', '.join('0x%04x' % v
                                           for v in vals[i:i + per]) + ',')
        return '\n'.join(lines)

    out.append('const uint16_t pcs_enc_data[2][256] = {')
    for rd in (0, 1):
        out.append('    {\n' + table('', enc[rd]).replace('\n    ', '\n        ')
                   .replace('    0x', '        0x', 1) + '\n    },')
    out.append('};\n')
    out.append('const uint16_t pcs_enc_ctrl[2][256] = {')
    for rd in (0, 1):
        out.append('    {\n' + table('', enck[rd]).replace('\n    ', '\n        ')
                   .replace('    0x', '        0x', 1) + '\n    },')
    out.append('};\n')
    out.append('const uint16_t pcs_dec_tab[1024] = {')
    out.append(table('', dec))
    out.append('};\n')

    # Bulk codec tables of the portable code, one 64-bit load per octet or
    # code group, laid out for a shift count that holds RD in bit 5 (see
    # pcs-codec.h): bit 5 is set on unbalanced code groups and bits 0-4
    # are clear, so that adding an entry to the count steps RD (a carry out
    # of bit 5 is never looked at), and each entry has a field at bit 6
    # for RD- and one at bit 38 for RD+.  Table 0 places them by the RD
    # after the code group, where the count stands once the entry is
    # added; table 1 by the RD before it and one result higher (16 bits
    # for a code group, 8 for an octet), so that the second of a pair is
    # picked by the same count as the first and the XOR of the two entries
    # holds both results.  check_bulk_model() runs the C arithmetic on them.
    def fields(lo, hi, at):
        return lo << at | hi << (at + 32)

    encf = [[0] * 256 for _ in range(2)]
    for b in range(256):
        flip = enc[0][b] >> 15
        code = [enc[rd][b] & 0x3ff for rd in (0, 1)]
        # the field for RD- after is read when it was RD- ^ flip before
        encf[0][b] = flip << 5 | fields(code[flip], code[1 - flip], 6)
        encf[1][b] = flip << 5 | fields(code[0], code[1], 22)
    decf = [[0] * 1024 for _ in range(2)]
    for code in range(1024):
        d = dec[code]
        flip = (d >> 11) & 1
        is_data = d & 0x600 and not d & 0x100
        octet = d & 0xff if is_data else 0
        bad = [int(not (is_data and d & (0x200 << rd))) for rd in (0, 1)]
        decf[0][code] = flip << 5 | fields(octet | bad[flip] << 16,
                                           octet | bad[1 - flip] << 16, 6)
        decf[1][code] = flip << 5 | fields(octet << 8 | bad[0] << 17,
                                           octet << 8 | bad[1] << 17, 6)
    check_bulk_model(enc, dec, encf, decf)

    def table64(vals):
        return '\n'.join('    ' + ', '.join('0x%016xULL' % v
                                             for v in vals[i:i + 2]) + ','
                         for i in range(0, len(vals), 2))

    def table64x2(name, rows):
        out.append('const uint64_t %s[2][%d] = {' % (name, len(rows[0])))
        for r in rows:
            out.append('    {\n' + table64(r).replace('\n    ', '\n        ')
                       .replace('    0x', '        0x', 1) + '\n    },')
        out.append('};\n')
    table64x2('pcs_enc_bulk', encf)
    table64x2('pcs_dec_bulk', decf)

    # 16-entry byte tables of the AVX2 kernels (one pshufb look-up each;
    # the layouts are in pcs-codec.h).  check_simd_model() runs the
    # kernels' arithmetic on them against encode() for every octet, code
    # group and RD before they are written out.
    a7_neg, a7_pos = (17, 18, 20), (11, 13, 14)
    unb6 = [int(SIX_B[x].count('1') != 3) for x in range(32)]
    unb4 = [int(FOUR_B_D[y][0].count('1') != 2) for y in range(8)]
    enc6 = [int(six(x, rd), 2) | (x in (a7_pos if rd else a7_neg)) << 6 |
            unb6[x] << 7 for rd in (0, 1) for x in range(32)]
    enc4 = [int(FOUR_B_D[y][rd6], 2) | (y == 7) << 6 | unb4[y] << 7
            if y < 8 else 0 for rd6 in (0, 1) for y in range(16)]
    dec6 = [0] * 64
    for x in range(32):
        for rd in (0, 1):
            dec6[int(six(x, rd), 2)] |= x | 1 << (6 - rd) | unb6[x] << 7
    dec4, ctx4 = [0] * 16, [0] * 16
    for y in range(8):
        for rd6 in (0, 1):
            s = int(FOUR_B_D[y][rd6], 2)
            dec4[s] = y << 5
            ctx4[s] |= (3 if y != 7 else 1) << (2 * rd6) | unb4[y] << 7
    for rd6 in (0, 1):
        s = int(A7[rd6], 2)
        dec4[s] = 7 << 5
        ctx4[s] |= 2 << (2 * rd6) | 1 << 7
    ei = [(2 if n & 3 == 3 else 1) | (8 if n & 3 == 0 else 4)
          for n in range(16)]
    # by the contexts both match: bit 6 if the 4b sub-block is valid at
    # RD- after the 6b one, bit 5 at RD+; then the same swapped
    ok4 = [bool(t & 3) << 6 | bool(t & 12) << 5 for t in range(16)]
    ok4_swapped = [bool(t & 12) << 6 | bool(t & 3) << 5 for t in range(16)]
    dec4 = [dec4, ctx4, ei, ok4, ok4_swapped]
    check_simd_model(enc, enc6, enc4, dec6, dec4)

    def table8(name, rows):
        out.append('const uint8_t %s[%d][16] = {' % (name, len(rows)))
        for r in rows:
            out.append('    {')
            for i in range(0, 16, 8):
                out.append('        ' + ', '.join('0x%02x' % v
                                                  for v in r[i:i + 8]) + ',')
            out.append('    },')
        out.append('};\n')
    table8('pcs_simd_enc6', [enc6[k:k + 16] for k in range(0, 64, 16)])
    table8('pcs_simd_enc4', [enc4[:16], enc4[16:]])
    table8('pcs_simd_dec6', [dec6[k:k + 16] for k in range(0, 64, 16)])
    table8('pcs_simd_dec4', dec4)

    # CRC-32 (reflected 0xEDB88320) slicing-by-8 tables for fcs.c
    crc = [[0] * 256 for _ in range(8)]
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ (0xEDB88320 if c & 1 else 0)
        crc[0][n] = c
    for n in range(256):
        c = crc[0][n]
        for k in range(1, 8):
            c = crc[0][c & 0xff] ^ (c >> 8)
            crc[k][n] = c
    out.append('const uint32_t eth_crc32_tab[8][256] = {')
    for k in range(8):
        out.append('    {')
        for i in range(0, 256, 6):
            out.append('        ' + ', '.join('0x%08x' % v
                                              for v in crc[k][i:i + 6]) + ',')
        out.append('    },')
    out.append('};\n')

    # Utilization ordered set alphabet: unbalanced data code groups (so
    # K28.5 Dx.y returns RD to negative like /I2/), excluding D2.2 and
    # D21.5 (configuration) and D16.2 (/I2/).  The first 64 carry six bits
    # each; the next one marks the start of the set, the one after it the
    # start of the contention extension.
    elig = [b for b in range(256) if enc[0][b] & 0x8000 and
            b not in (0x42, 0xB5, 0x50)]
    alpha, marker, cont_marker = elig[:64], elig[64], elig[65]
    inv_tab = [0xff] * 256
    for i, b in enumerate(alpha):
        inv_tab[b] = i
    out.append('const uint8_t pcs_util_marker = 0x%02x;\n' % marker)
    out.append('const uint8_t pcs_util_cont_marker = 0x%02x;\n' %
               cont_marker)
    out.append('const uint8_t pcs_util_alphabet[64] = {')
    out.append(table('', alpha).replace('0x00', '0x'))
    out.append('};\n')
    out.append('const uint8_t pcs_util_symbol[256] = {')
    out.append(table('', inv_tab).replace('0x00', '0x'))
    out.append('};')
    print('\n'.join(out))


main()
