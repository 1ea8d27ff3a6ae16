/*
 * pcap capture files (the libpcap file format, nanosecond timestamps,
 * LINKTYPE_ETHERNET), readable by tcpdump, tshark and Wireshark.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADEPLANE_NET_PCAP_H
#define BLADEPLANE_NET_PCAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PCAP_SNAPLEN 65535

typedef struct PcapFile PcapFile;

/*
 * Create (or truncate) @path and write the file header.  NULL with errno
 * set on failure.
 */
PcapFile *pcap_open(const char *path);
/*
 * One frame (no FCS) captured at @time_ns since the epoch.  Returns 0 or
 * a negative errno (the file is then left as it is; later writes fail
 * too).
 */
int pcap_write(PcapFile *p, uint64_t time_ns, const uint8_t *frame,
               size_t len);
/* Push buffered records to the file, so readers see them now. */
int pcap_flush(PcapFile *p);
/* Flush and close; returns 0 or a negative errno. */
int pcap_close(PcapFile *p);

#endif
