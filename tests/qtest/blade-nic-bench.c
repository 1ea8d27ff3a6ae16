/*
 * blade-nic benchmark: frames through the device from qtest-driven rings
 * to the lane and back.  The program is the driver (through qtest) and
 * the chassis (a lane server that echoes every frame back to the NIC).
 * Prints "name: value" lines; it is a benchmark, not a test.
 *
 * Per run (frame size, pcs, moderation): the TX ring holds 1024
 * descriptors all pointing at one frame; the driver loop advances
 * TX_TAIL in batches, returns RX descriptors, services the interrupt
 * causes and steps QEMU's virtual clock with wall time (so moderation
 * intervals pass as they would in a running VM).  A frame counts when
 * the chassis has echoed it and the NIC has written it to the RX ring.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include "qemu/bswap.h"
#include "libqos/pci-pc.h"
#include "hw/pci/pci_regs.h"
#include "libqos/blade-nic-harness.h"

#define RING 1024
#define BATCH 256

typedef struct Echo {
    NicHarness *h;
    uint8_t nic_mac[6];
    uint64_t echoed, echo_drops;
} Echo;

static Echo echo;

static void echo_frame(void *opaque, const uint8_t *f, size_t len)
{
    uint8_t buf[ETH_MAX_FRAME];

    memcpy(buf, f, len);
    memcpy(buf, echo.nic_mac, 6);
    if (lane_send_frame(echo.h->srv, buf, len, nh_now(echo.h)) == 0) {
        echo.echoed++;
    } else {
        echo.echo_drops++;
    }
}

static const LaneOps echo_ops = {
    .rx_frame = echo_frame,
};

typedef struct Result {
    double mpps, gbps, irq_per_frame, mmio_per_frame, mmio_model, drops;
} Result;

static Result run(bool raw, unsigned len, unsigned itr_us, double seconds)
{
    NicHarness h;
    uint64_t buf, frames = 0, t0, t_last, rx_tail, mmio0, irqs;
    uint64_t doorbells = 0;
    uint8_t f[1514];
    const uint8_t peer[6] = { 0x02, 0, 0, 0, 0, 0x99 };
    Result r;
    unsigned i;
    LaneConfig cfg;
    g_autofree char *props = g_strdup_printf(",speed=0,pcs=%s,"
                                             "util-interval=0",
                                             raw ? "raw" : "8b10b");

    nh_start_full(&h, true, true, raw, props, NULL);
    /* the chassis end echoes: replace the harness's server */
    lane_free(h.srv);
    lane_config_init(&cfg, LANE_ROLE_SERVER, h.path);
    cfg.pcs = raw ? LANE_PCS_RAW : LANE_PCS_8B10B;
    cfg.speed_mbps = 0;
    cfg.util_interval_ns = 0;
    cfg.tx_queue_bytes = 1024 * 1024;
    h.srv = lane_new(&cfg, &echo_ops, &h, nh_now(&h), NULL);
    g_assert_nonnull(h.srv);
    echo.h = &h;
    echo.echoed = echo.echo_drops = 0;
    qtest_clock_step(h.qts, 200 * 1000 * 1000);   /* reconnect */
    nh_link_up(&h);
    nh_mac(&h, echo.nic_mac);

    /* rings: every TX descriptor sends the same frame */
    h.nic.tx_size = RING;
    h.nic.rx_size = RING;
    h.nic.tx_ring = guest_alloc(&h.alloc, RING * BLADE_NIC_DESC_SIZE);
    h.nic.rx_ring = guest_alloc(&h.alloc, RING * BLADE_NIC_DESC_SIZE);
    h.nic.rx_bufs = guest_alloc(&h.alloc, RING * QBLADE_NIC_BUF_SIZE);
    buf = guest_alloc(&h.alloc, sizeof(f));
    nh_make_frame(f, len, peer, echo.nic_mac, 1);
    qtest_memwrite(h.qts, buf, f, len);
    for (i = 0; i < RING; i++) {
        nh_desc(&h, h.nic.tx_ring, i, buf, len, BLADE_NIC_DFLAG_EOP);
        nh_desc(&h, h.nic.rx_ring, i, h.nic.rx_bufs + i * QBLADE_NIC_BUF_SIZE,
                QBLADE_NIC_BUF_SIZE, 0);
    }
    nh_wr(&h, BLADE_NIC_REG_TX_BASE_LO, (uint32_t)h.nic.tx_ring);
    nh_wr(&h, BLADE_NIC_REG_TX_BASE_HI, h.nic.tx_ring >> 32);
    nh_wr(&h, BLADE_NIC_REG_TX_SIZE, RING);
    nh_wr(&h, BLADE_NIC_REG_RX_BASE_LO, (uint32_t)h.nic.rx_ring);
    nh_wr(&h, BLADE_NIC_REG_RX_BASE_HI, h.nic.rx_ring >> 32);
    nh_wr(&h, BLADE_NIC_REG_RX_SIZE, RING);
    qpci_msix_enable(h.nic.dev);
    for (i = 0; i < 3; i++) {
        nh_wr(&h, BLADE_NIC_REG_ITR_RX + 4 * i, itr_us);
    }
    nh_wr(&h, BLADE_NIC_REG_IER, 0xff);
    nh_wr(&h, BLADE_NIC_REG_CTRL, BLADE_NIC_CTRL_TXEN | BLADE_NIC_CTRL_RXEN);
    rx_tail = RING - 1;
    nh_wr(&h, BLADE_NIC_REG_RX_TAIL, rx_tail);

    mmio0 = h.nic.mmio_ops;
    t0 = t_last = nh_now(&h);
    h.nic.tx_tail = 0;
    while (nh_now(&h) - t0 < seconds * 1e9) {
        uint32_t tx_head, rx_head, icr;
        uint64_t now;

        /* "interrupt handler": causes, then the rings */
        icr = nh_rd(&h, BLADE_NIC_REG_ICR);
        if (icr) {
            nh_wr(&h, BLADE_NIC_REG_ICR, icr);
        }
        tx_head = nh_rd(&h, BLADE_NIC_REG_TX_HEAD);
        if ((tx_head - h.nic.tx_tail - 1) % RING >= BATCH) {
            h.nic.tx_tail = (h.nic.tx_tail + BATCH) % RING;
            nh_wr(&h, BLADE_NIC_REG_TX_TAIL, h.nic.tx_tail);
            doorbells++;
        }
        nh_pump(&h, 0);
        rx_head = nh_rd(&h, BLADE_NIC_REG_RX_HEAD);
        frames += (rx_head - (rx_tail + 1)) % RING;
        if (rx_head != (rx_tail + 1) % RING) {
            rx_tail = (rx_head + RING - 1) % RING;
            nh_wr(&h, BLADE_NIC_REG_RX_TAIL, rx_tail);
            doorbells++;
        }
        nh_pump(&h, 0);
        /* the virtual clock follows wall time, as in a running VM */
        now = nh_now(&h);
        qtest_clock_step(h.qts, now - t_last);
        t_last = now;
    }
    r.mpps = frames / ((nh_now(&h) - t0) / 1e9) / 1e6;
    r.gbps = r.mpps * 1e6 * (len + 4) * 8 / 1e9;
    r.mmio_per_frame = frames ? (double)(h.nic.mmio_ops - mmio0) / frames : 0;
    irqs = nh_stat(&h, BLADE_NIC_STAT_IRQ_RX) +
           nh_stat(&h, BLADE_NIC_STAT_IRQ_TX) +
           nh_stat(&h, BLADE_NIC_STAT_IRQ_MISC);
    r.irq_per_frame = frames ? (double)irqs / frames : 0;
    /*
     * An interrupt-driven driver: per MSI-X message one handler run of
     * four register accesses (ICR read, ICR write-1-to-clear, HEAD read,
     * TAIL write), plus the doorbells.
     */
    r.mmio_model = frames ? (4.0 * irqs + doorbells) / frames : 0;
    r.drops = nh_stat(&h, BLADE_NIC_STAT_RX_NOBUF) + echo.echo_drops;
    nh_stop(&h);
    return r;
}

int main(int argc, char **argv)
{
    static const unsigned sizes[] = { 60, 1514 };
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    Result r;
    unsigned i, raw;

    if (!g_getenv("QTEST_QEMU_BINARY")) {
        g_setenv("QTEST_QEMU_BINARY", "./qemu-system-x86_64", true);
    }
    /* Frame sizes are on-the-wire sizes including the 4-octet FCS. */
    printf("# blade-nic echo through the lane, %.1f s per run, unpaced; "
           "Gb/s counts frame octets with FCS\n", seconds);
    for (raw = 0; raw < 2; raw++) {
        for (i = 0; i < G_N_ELEMENTS(sizes); i++) {
            const char *pcs = raw ? "raw" : "8b10b";
            unsigned wire = sizes[i] + 4;

            r = run(raw, sizes[i], 0, seconds);
            printf("nic_%u_%s_Mpps: %.3f\n", wire, pcs, r.mpps);
            printf("nic_%u_%s_Gbps: %.3f\n", wire, pcs, r.gbps);
            printf("nic_%u_%s_drops: %.0f\n", wire, pcs, r.drops);
            if (!raw && wire == 64) {
                printf("nic_64_Mpps: %.3f\n", r.mpps);
            }
            if (!raw && wire == 1518) {
                printf("nic_1518_Gbps: %.3f\n", r.gbps);
            }
            fflush(stdout);
        }
    }
    /* interrupt moderation: off, and 50 us on every vector */
    /*
     * irq_per_frame: MSI-X messages the device sent per frame (measured).
     * mmio_per_frame: register accesses per frame of an interrupt-driven
     * driver (4 per message plus doorbells; see run()).  polled: what
     * this program's batched polling loop actually issued.
     */
    r = run(false, 60, 0, seconds);
    printf("nic_64_irq_per_frame_mod_off: %.3f\n", r.irq_per_frame);
    printf("nic_64_mmio_per_frame_mod_off: %.3f\n", r.mmio_model);
    printf("nic_64_mmio_per_frame_polled: %.3f\n", r.mmio_per_frame);
    r = run(false, 60, 50, seconds);
    printf("nic_64_irq_per_frame_mod_50us: %.3f\n", r.irq_per_frame);
    printf("nic_64_mmio_per_frame_mod_50us: %.3f\n", r.mmio_model);
    printf("nic_64_Mpps_mod_50us: %.3f\n", r.mpps);
    return 0;
}
