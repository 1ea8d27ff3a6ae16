/*
 * pcap capture files (see pcap.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "byteorder.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pcap.h"

#define PCAP_MAGIC_NS       0xa1b23c4du
#define PCAP_LINKTYPE_ETH   1

struct PcapFile {
    FILE *f;
    int err;
};



PcapFile *pcap_open(const char *path)
{
    uint8_t hdr[24];
    PcapFile *p = calloc(1, sizeof(*p));

    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    p->f = fopen(path, "wb");
    if (!p->f) {
        free(p);
        return NULL;
    }
    stl_he_p(hdr, PCAP_MAGIC_NS);
    stw_he_p(hdr + 4, 2);              /* version 2.4 */
    stw_he_p(hdr + 6, 4);
    stl_he_p(hdr + 8, 0);              /* thiszone */
    stl_he_p(hdr + 12, 0);             /* sigfigs */
    stl_he_p(hdr + 16, PCAP_SNAPLEN);
    stl_he_p(hdr + 20, PCAP_LINKTYPE_ETH);
    if (fwrite(hdr, sizeof(hdr), 1, p->f) != 1 || fflush(p->f)) {
        int e = errno ? errno : EIO;

        fclose(p->f);
        free(p);
        errno = e;
        return NULL;
    }
    return p;
}

int pcap_write(PcapFile *p, uint64_t time_ns, const uint8_t *frame,
               size_t len)
{
    uint8_t rec[16];
    size_t cap = len > PCAP_SNAPLEN ? PCAP_SNAPLEN : len;

    if (p->err) {
        return p->err;
    }
    stl_he_p(rec, (uint32_t)(time_ns / 1000000000u));
    stl_he_p(rec + 4, (uint32_t)(time_ns % 1000000000u));
    stl_he_p(rec + 8, (uint32_t)cap);
    stl_he_p(rec + 12, (uint32_t)len);
    if (fwrite(rec, sizeof(rec), 1, p->f) != 1 ||
        (cap && fwrite(frame, cap, 1, p->f) != 1)) {
        p->err = errno ? -errno : -EIO;
    }
    return p->err;
}

int pcap_flush(PcapFile *p)
{
    if (!p->err && fflush(p->f)) {
        p->err = errno ? -errno : -EIO;
    }
    return p->err;
}

int pcap_close(PcapFile *p)
{
    int err;

    if (!p) {
        return 0;
    }
    err = p->err;
    if (fclose(p->f) && !err) {
        err = errno ? -errno : -EIO;
    }
    free(p);
    return err;
}
