/*
 * libFuzzer target: the inter-chassis control protocol (net/fabric.c),
 * fed control frames as anyone on a fabric link could send them, to a
 * Fabric with or without a key.
 *
 * Input: octet 0 chooses
 *   bit 0  the receiver has the key
 *   bit 1  records are edits of valid frames, not raw frames
 *   bit 2  edited frames are signed again with the key (so the parser
 *          behind the MAC is reached)
 *   bit 3  the valid frames are the keyed ones
 *   bit 4  the receiver is chassis 2 of the chain itself (same id and
 *          nonce: its own frames come back), bit 5 an impostor (same id,
 *          another nonce); else bit 6: it takes chassis 3's place (the
 *          frames towards it echo its challenges), else chassis 1's
 * then records, until the input ends:
 *   raw:   port, ms, length (2 octets, big endian), frame
 *   edits: port, ms, frame number, edit count, count x (offset (2), xor),
 *          length (2; 0: the frame's, else modulo the frame's + 64)
 * port: bits 0-1 the port (2 is down), bit 7 flips that port's link
 * first; ms: time that passes before the frame.  The Fabric ticks at its
 * deadlines in between, and its invariants are checked.
 *
 * The valid frames come from a chain of three chassis run in memory once
 * (with and without the key): every frame the middle one sent, blades of
 * two chassis and a chassis table in them; chassis 1 holds 120 blades, so
 * that rounds towards chassis 3 take two frames.  Every Fabric here draws
 * the same "random" number, so that the receiver's challenges are those
 * the chain's frames echo, and the fuzzer reaches what lies behind the
 * freshness check.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fabric.h"
#include "fuzz-target.h"

#define MS          1000000ULL
#define POOL        128
#define BIG         120     /* blades of chassis 1 */
#define KEY         "fuzz key"

/* What is sent is summed into it so that ASan checks every octet. */
static volatile uint8_t sink;

typedef struct Frame {
    size_t len;
    uint8_t f[FAB_MAX_FRAME];
} Frame;

static Frame pool[2][POOL];
static unsigned pool_n[2];

/* ---- the valid frames: a chain c1 - c2 - c3 ---- */

typedef struct Chassis {
    Fabric *fab;
    int idx;
} Chassis;

typedef struct Wire {
    int dst, port;
    Frame fr;
} Wire;

static Chassis chain[3];
static Wire wires[64];
static unsigned n_wires;
static int keyed_pool;

static void chain_send(void *opaque, unsigned port, const uint8_t *frame,
                       size_t len)
{
    Chassis *c = opaque;
    int dst = c->idx + (c->idx == 0 || port == 1 ? 1 : -1);
    Wire *w;

    if (len > FAB_MAX_FRAME) {
        abort();
    }
    if (c->idx == 1 && pool_n[keyed_pool] < POOL) {
        Frame *fr = &pool[keyed_pool][pool_n[keyed_pool]++];

        fr->len = len;
        memcpy(fr->f, frame, len);
    }
    if (n_wires == G_N_ELEMENTS(wires)) {
        return;
    }
    w = &wires[n_wires++];
    w->dst = dst;
    /* c1's port 0 and c3's port 0 face c2; c2's port 0 faces c1 */
    w->port = dst == 1 ? (c->idx == 0 ? 0 : 1) : 0;
    w->fr.len = len;
    memcpy(w->fr.f, frame, len);
}

static void chain_state(void *opaque, unsigned port, bool fwd, const char *w)
{
}

/* Not random at all: every challenge is this one (see above). */
static void same_random(void *opaque, void *buf, size_t len)
{
    memset(buf, 0x5a, len);
}

static const FabOps chain_ops = {
    .send = chain_send, .port_state = chain_state, .random = same_random,
};

static void build_pool(int keyed)
{
    FabLocalBlade b[BIG];

    keyed_pool = keyed;
    for (int i = 0; i < 3; i++) {
        FabConfig cfg;

        fab_config_init(&cfg);
        cfg.chassis_id = i + 1;
        snprintf(cfg.name, sizeof(cfg.name), "chassis-%d", i + 1);
        cfg.mac[0] = 2;
        cfg.mac[5] = i + 1;
        cfg.nonce = 0x100 + i;
        if (keyed) {
            cfg.key_len = strlen(KEY);
            memcpy(cfg.key, KEY, cfg.key_len);
        }
        chain[i].idx = i;
        chain[i].fab = fab_new(&cfg, &chain_ops, &chain[i]);
        if (!chain[i].fab) {
            abort();
        }
        fab_add_port(chain[i].fab, "a");
        if (i == 1) {
            fab_add_port(chain[i].fab, "b");
        }
        memset(b, 0, sizeof(b));
        for (int s = 0; s < BIG; s++) {
            b[s].mac[0] = 2;
            b[s].mac[4] = i + 1;
            b[s].mac[5] = s;
            b[s].slot = s;
            b[s].in_rotation = s != 2;
            b[s].cpu_pct = s % 101;
            b[s].irq_pct = 5 * (s % 3);
            b[s].age_ms = 3;
        }
        fab_set_local_at(chain[i].fab, b, i ? 3 : BIG, 0);
    }
    for (int i = 0; i < 3; i++) {
        fab_port_link(chain[i].fab, 0, true, 0);
    }
    fab_port_link(chain[1].fab, 1, true, 0);
    for (uint64_t now = 0; now < 800 * MS; now += MS) {
        for (unsigned k = 0; k < n_wires; k++) {
            fab_input(chain[wires[k].dst].fab, wires[k].port,
                      wires[k].fr.f, wires[k].fr.len, now);
        }
        n_wires = 0;
        for (int i = 0; i < 3; i++) {
            if (fab_deadline(chain[i].fab) <= now) {
                fab_tick(chain[i].fab, now);
            }
        }
    }
    for (int i = 0; i < 3; i++) {
        fab_free(chain[i].fab);
    }
}

/* ---- the receiver ---- */

static uint64_t sent;

static void rx_send(void *opaque, unsigned port, const uint8_t *frame,
                    size_t len)
{
    if (len > FAB_MAX_FRAME || len < 14 || port > 2) {
        abort();
    }
    for (size_t i = 0; i < len; i++) {
        sink += frame[i];
    }
    sent++;
}

static void rx_state(void *opaque, unsigned port, bool fwd, const char *why)
{
    Fabric *fab = *(Fabric **)opaque;

    if (port > 2 || !why || fab_port_forwarding(fab, port) != fwd) {
        abort();
    }
}

static void rx_remote(void *opaque)
{
    Fabric *fab = *(Fabric **)opaque;
    RemoteBlade r[FAB_MAX_BLADES];
    unsigned n = fab_remote_blades(fab, 0, r, FAB_MAX_BLADES);

    for (unsigned i = 0; i < n; i++) {
        if (r[i].cpu_pct > 100 || r[i].irq_pct > 100 || r[i].hops == 0 ||
            r[i].port > 2 || (r[i].mac[0] & 1) || r[i].chassis_id == 0 ||
            memchr(r[i].chassis, 0, FAB_NAME_LEN) == NULL) {
            abort();
        }
    }
}

static const FabOps rx_ops = {
    .send = rx_send, .port_state = rx_state, .remote_changed = rx_remote,
    .random = same_random,
};

/* Sign an edited frame again, if its length field leaves room. */
static void resign(uint8_t *f, size_t len)
{
    size_t plen;
    GHmac *h;
    gsize dl = 32;

    if (len < 14 + 10) {
        return;
    }
    plen = (size_t)f[14 + 8] << 8 | f[14 + 9];
    if (14 + plen + 32 != len) {
        return;
    }
    h = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)KEY, strlen(KEY));
    g_hmac_update(h, f + 14, plen);
    g_hmac_get_digest(h, f + 14 + plen, &dl);
    g_hmac_unref(h);
}

static void check(Fabric *fab, uint64_t now)
{
    RemoteBlade r[FAB_MAX_BLADES + 1];
    FabPortInfo pi;
    FabStats st;

    if (fab_remote_blades(fab, now, r, FAB_MAX_BLADES + 1) >
        FAB_MAX_BLADES) {
        abort();
    }
    for (unsigned p = 0; p < 3; p++) {
        if (!fab_port_info(fab, p, now, &pi) || !pi.state || !pi.role ||
            pi.forwarding != fab_port_forwarding(fab, p) ||
            (pi.forwarding && !pi.link)) {
            abort();
        }
    }
    if (fab_port_info(fab, 3, now, &pi)) {
        abort();
    }
    fab_stats(fab, &st);
    sink += (uint8_t)fab_root_id(fab);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    static Fabric *fab;
    FabConfig cfg;
    uint8_t mode;
    uint64_t now = 0;
    bool link[3] = { true, true, false };
    uint8_t f[FAB_MAX_FRAME + 64];

    if (!init) {
        build_pool(0);
        build_pool(1);
        if (!pool_n[0] || !pool_n[1]) {
            abort();
        }
        init = true;
    }
    if (size < 1) {
        return 0;
    }
    mode = data[0];
    data++;
    size--;

    fab_config_init(&cfg);
    cfg.chassis_id = mode & 0x30 ? 2 : mode & 0x40 ? 3 : 1;
    strcpy(cfg.name, "fuzzed");
    cfg.mac[0] = 2;
    cfg.nonce = mode & 0x10 ? 0x101 : 0x4242;
    if (mode & 1) {
        cfg.key_len = strlen(KEY);
        memcpy(cfg.key, KEY, cfg.key_len);
    }
    fab = fab_new(&cfg, &rx_ops, &fab);
    if (!fab) {
        abort();
    }
    for (unsigned p = 0; p < 3; p++) {
        fab_add_port(fab, "p");
    }
    fab_port_link(fab, 0, true, now);
    fab_port_link(fab, 1, true, now);

    while (size >= 2) {
        unsigned port = data[0] & 3, len;

        if (data[0] & 0x80 && port < 3) {
            link[port] = !link[port];
            fab_port_link(fab, port, link[port], now);
        }
        now += data[1] * MS + 1;
        data += 2;
        size -= 2;
        if (!(mode & 2)) {
            if (size < 2) {
                break;
            }
            len = MIN((size_t)(data[0] << 8 | data[1]), size - 2);
            len = MIN(len, sizeof(f));
            memcpy(f, data + 2, len);
            data += 2 + len;
            size -= 2 + len;
        } else {
            const Frame *fr;
            unsigned edits;

            if (size < 2) {
                break;
            }
            fr = &pool[!!(mode & 8)][data[0] % pool_n[!!(mode & 8)]];
            edits = data[1];
            data += 2;
            size -= 2;
            memset(f, 0xa5, sizeof(f));
            memcpy(f, fr->f, fr->len);
            for (unsigned e = 0; e < edits && size >= 3; e++) {
                f[(data[0] << 8 | data[1]) % sizeof(f)] ^= data[2];
                data += 3;
                size -= 3;
            }
            len = fr->len;
            if (size >= 2) {
                if (data[0] || data[1]) {
                    len = (data[0] << 8 | data[1]) % (fr->len + 64);
                }
                data += 2;
                size -= 2;
            }
            if (mode & 4) {
                resign(f, len);
            }
        }
        fab_input(fab, port, f, len, now);
        check(fab, now);
        if (fab_deadline(fab) <= now) {
            fab_tick(fab, now);
            if (fab_deadline(fab) <= now) {
                abort();
            }
        }
        check(fab, now);
    }
    /* let its timers run out */
    for (unsigned i = 0; i < 64; i++) {
        now = MAX(now + 1, fab_deadline(fab));
        fab_tick(fab, now);
        if (fab_deadline(fab) <= now) {
            abort();
        }
    }
    check(fab, now);
    fab_free(fab);
    fab = NULL;
    return 0;
}
