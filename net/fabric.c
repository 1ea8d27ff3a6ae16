/*
 * The inter-chassis control protocol of the switch blades: advertisements
 * of blades and their load (a distance vector with split horizon), a
 * small spanning tree against loops, optional HMAC-SHA256 authentication.
 * The wire format and the rules are in docs/fabric-protocol.md; the
 * comments here refer to its sections.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "byteorder.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "fabric.h"

/* 03:42:50:46:41:42: group (I/G) and locally administered (U/L) bits. */
const uint8_t fab_group_mac[6] = { 0x03, 0x42, 0x50, 0x46, 0x41, 0x42 };

#define MS                  1000000ULL
#define ETH_HLEN            14
#define HDR_LEN             77      /* fixed part of the payload */
#define CHASSIS_HDR         9       /* id and name length, then the name */
#define ECHO_LEN            16      /* chassis id, challenge */
#define ENTRY_LEN           16
#define HMAC_LEN            32
#define MAX_PAYLOAD         1500
#define MAX_PARTS           16
#define MAX_COST            255
#define MAX_INTERVAL_MS     10000
#define PORT_PEERS          8       /* chassis remembered per port */
#define MAX_ROOTS           16      /* roots whose liveness is followed */
#define RECENT              4       /* our challenges echoes may name */
/*
 * Blades held from all neighbours together: in a loop-free fabric each
 * remote blade comes through one forwarding port, so a chassis holds at
 * most FAB_MAX_BLADES; the margin is for rings settling.  It bounds the
 * cost of a route computation, and so of any received frame.
 */
#define MAX_HELD            (4 * FAB_MAX_BLADES)
#define ROUTE_SLOTS         (2 * FAB_MAX_BLADES)    /* a power of 2 */
#define MAGIC               0x42504643u     /* "BPFC" */
#define TYPE_ADVERT         1
#define FLAG_AUTH           0x01
#define FLAG_DESIGNATED     0x02    /* the tree fields are an offer */
#define FLAGS_KNOWN         (FLAG_AUTH | FLAG_DESIGNATED)
#define BLADE_IN_ROTATION   0x01

/* Offsets in the payload (docs/fabric-protocol.md, "Header"). */
enum {
    O_MAGIC = 0, O_VERSION = 4, O_TYPE = 5, O_FLAGS = 6, O_TTL = 7,
    O_LENGTH = 8, O_PART = 10, O_PARTS = 11, O_ID = 12, O_NONCE = 20,
    O_SEQ = 28, O_PRIO = 36, O_PORT = 38, O_NAMELEN = 39,
    O_ROOT_PRIO = 40, O_ROOT_ID = 42, O_ROOT_COST = 50, O_ROOT_SEQ = 52,
    O_INTERVAL = 56, O_NCHASSIS = 58, O_NBLADES = 59, O_ROOT_NONCE = 60,
    O_CHALLENGE = 68, O_NECHO = 76, O_NAME = 77,
};

/* Offsets in a blade entry. */
enum {
    E_MAC = 0, E_SLOT = 6, E_FLAGS = 7, E_CPU = 8, E_IRQ = 9, E_HOPS = 10,
    E_CHASSIS = 11, E_AGE = 12,
};

typedef enum Role {
    ROLE_DISABLED,
    ROLE_ROOT,
    ROLE_DESIGNATED,
    ROLE_ALTERNATE,
    ROLE_SELF,          /* our own frames come back from another port */
    ROLE_EDGE,          /* no neighbour heard on it */
    ROLE_SILENT,        /* its neighbours are late, not yet dead */
} Role;

typedef enum PState {
    ST_DOWN,
    ST_LISTENING,
    ST_FORWARDING,
    ST_BLOCKED,
    ST_SELF,
    ST_EDGE,
    ST_SILENT,
} PState;

static const char *const state_names[] = {
    [ST_DOWN] = "link down",
    [ST_LISTENING] = "listening",
    [ST_FORWARDING] = "forwarding",
    [ST_BLOCKED] = "blocked (loop)",
    [ST_SELF] = "blocked (loop to itself)",
    [ST_EDGE] = "blocked (no neighbour)",
    [ST_SILENT] = "blocked (neighbour silent)",
};

static const char *const role_names[] = {
    [ROLE_DISABLED] = "disabled",
    [ROLE_ROOT] = "root",
    [ROLE_DESIGNATED] = "designated",
    [ROLE_ALTERNATE] = "alternate",
    [ROLE_SELF] = "backup",
    [ROLE_EDGE] = "edge",
    [ROLE_SILENT] = "silent",
};

/* A blade as learned from a neighbour, or the best route to it. */
typedef struct Blade {
    uint8_t mac[6];
    uint8_t slot;
    bool in_rotation;
    uint8_t cpu, irq;
    uint8_t hops;               /* from this chassis: 1 = the neighbour's */
    uint32_t age_ms;            /* at @at */
    uint64_t at;
    unsigned port;
    uint64_t via;               /* the neighbour that told of it */
    uint64_t chassis_id;
    char chassis[FAB_NAME_LEN];
} Blade;

/*
 * A chassis heard on a port: its challenge, replay state, and while alive,
 * its news (docs/fabric-protocol.md, "Freshness").
 */
typedef struct Peer {
    bool used;
    bool alive;                 /* a frame was taken within the dead time */
    uint64_t id;
    /*
     * Its session: the epoch of our challenge its frames are bound to (0:
     * none yet), its boot nonce then, the highest sequence taken.
     */
    uint64_t bound;
    uint64_t nonce;
    uint64_t seq;
    /* its latest challenge, echoed in our frames on this port */
    uint64_t echo;
    uint64_t echo_at;
    uint64_t heard_at;
    uint64_t dead_ns;           /* dead_intervals of its interval */
    unsigned dead_intervals;
    char name[FAB_NAME_LEN];
    uint16_t prio;
    uint8_t port_id;            /* its port number */
    /* spanning tree, as of its latest frame */
    bool designated;            /* sent from a designated port */
    uint16_t root_prio;
    uint64_t root_id;
    uint16_t root_cost;
    uint64_t root_nonce;
    uint32_t root_seq;
    /* blades of the latest complete round, and the round under way */
    Blade *blades;
    unsigned n_blades;
    bool have_blades;
    uint64_t blades_at;
    Blade *pend;
    unsigned n_pend;
    bool pend_open;
    uint8_t pend_next, pend_parts;
    uint64_t pend_seq;
    uint64_t rx_adverts;
} Peer;

typedef struct Port {
    char name[FAB_NAME_LEN];
    bool link;
    /*
     * Our challenges on this link, newest first: chal[i] is of epoch
     * epoch - i.  Peers without a session must echo one of epoch >= floor.
     */
    uint64_t chal[RECENT];
    unsigned n_chal;
    uint64_t epoch, floor;      /* never wrap, even at 1 ms intervals */
    uint64_t chal_at;
    Role role;
    Role fwd_role;              /* the role it forwards in */
    PState state;
    uint64_t listen_start, listen_until;
    uint64_t self_loop_until;
    Peer peer[PORT_PEERS];
    uint64_t rx_adverts, tx_adverts;
} Port;

/* A spanning tree priority vector (docs/fabric-protocol.md, "Loops"). */
typedef struct Vec {
    uint16_t root_prio;
    uint64_t root_id;
    uint32_t cost;
    uint16_t prio;
    uint64_t id;
    unsigned port_id;
    unsigned rx_port;
} Vec;

/* One entry of an advertisement being built. */
typedef struct TxEntry {
    const uint8_t *mac;
    uint8_t slot, flags, cpu, irq, hops;
    uint32_t age_ms;
    uint64_t chassis_id;        /* 0: this chassis */
    const char *chassis;
} TxEntry;

/* A decoded, validated frame; pointers into the received payload. */
typedef struct Adv {
    uint8_t flags, part, parts, port_id, name_len, n_chassis, n_blades;
    uint8_t n_echo;
    uint16_t length, prio, root_prio, root_cost, interval_ms;
    uint32_t root_seq;
    uint64_t id, nonce, seq, root_id, root_nonce, challenge;
    const uint8_t *name;
    const uint8_t *echoes;
    uint64_t chassis_id[256];
    const uint8_t *chassis_name[256];
    uint8_t chassis_len[256];
    const uint8_t *blades;
} Adv;

/*
 * A root as heard of (docs/fabric-protocol.md, "Stale roots"): it counts
 * while its sequence number keeps advancing.
 */
typedef struct RootSeen {
    bool used;
    uint64_t id, nonce;
    uint32_t best_seq;
    uint64_t seen_at;           /* first heard of (this nonce) */
    uint64_t inc_at;            /* its sequence last advanced; 0: never */
} RootSeen;

typedef enum RxResult {
    RX_OK,
    RX_MALFORMED,
    RX_VERSION,
    RX_UNAUTH,
    RX_BAD_AUTH,
} RxResult;

struct Fabric {
    FabConfig cfg;
    FabOps ops;
    void *opaque;
    FabStats st;
    GHmac *hmac;                /* keyed, never updated: copied per frame */
    uint64_t nonce, seq;
    /* our frames are fresh back here if numbered above seq_mark[1] */
    uint64_t seq_mark[2];
    uint64_t now;               /* latest time seen */
    uint16_t interval_ms;
    bool in_callback;

    Port port[FAB_MAX_PORTS];
    unsigned n_ports;

    FabLocalBlade local[FAB_MAX_BLADES];
    unsigned n_local;
    uint64_t local_at;

    /* the spanning tree as last computed */
    int root_port;              /* -1: this chassis is the root */
    uint16_t root_prio;
    uint64_t root_id;
    uint32_t root_cost;
    uint64_t root_nonce;
    uint32_t root_seq;          /* as the root port's neighbour relays it */
    uint32_t my_root_seq;       /* ours, while we are the root */
    uint32_t adv_root_seq;      /* in the latest advertisements */
    RootSeen roots[MAX_ROOTS];

    /*
     * Best route to each remote blade, sorted; recomputed only when a
     * table it is made from changed (routes_dirty).
     */
    Blade route[FAB_MAX_BLADES];
    unsigned n_route;
    bool routes_dirty;
    Blade scratch[FAB_MAX_BLADES];
    uint64_t hash_seed;         /* random: nobody aims for one hash chain */

    /* advertisements */
    bool started;               /* the first one went out */
    uint64_t next_adv;
    bool trigger;
    uint64_t trigger_at, last_tx;
    TxEntry tx[FAB_MAX_BLADES];
    unsigned tx_start[MAX_PARTS + 1];
    uint64_t tx_echo[PORT_PEERS][2];     /* chassis id, challenge */
    unsigned n_tx_echo;
    /*
     * The chassis table of the frame being built, and its hash; one more
     * than a frame holds, for the entry found not to fit.
     */
    uint64_t tx_ch[UINT8_MAX + 1];
    unsigned n_tx_ch;
    uint16_t tx_ch_slot[ROUTE_SLOTS];
    uint8_t buf[ETH_HLEN + MAX_PAYLOAD];
};







static uint32_t ns_to_ms_up(uint64_t ns)
{
    uint64_t ms = ns / MS + (ns % MS != 0);

    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

static uint32_t add_ms(uint32_t a, uint64_t b)
{
    return (uint64_t)a + b > UINT32_MAX ? UINT32_MAX : (uint32_t)(a + b);
}

static uint64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static bool name_ok(const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

static bool mac_unicast(const uint8_t *mac)
{
    static const uint8_t zero[6];

    return !(mac[0] & 1) && memcmp(mac, zero, 6) != 0;
}

/* A seeded 64-bit mix (splitmix64's finalizer). */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static unsigned blade_slot(const Fabric *fab, uint64_t chassis_id,
                           const uint8_t *mac)
{
    uint64_t m = (uint64_t)mac[0] << 40 | (uint64_t)mac[1] << 32 |
                 (uint64_t)mac[2] << 24 | (uint64_t)mac[3] << 16 |
                 (uint64_t)mac[4] << 8 | mac[5];

    return (unsigned)(mix64(mix64(fab->hash_seed ^ chassis_id) ^ m) &
                      (ROUTE_SLOTS - 1));
}

static int vec_cmp(const Vec *a, const Vec *b)
{
#define CMP(f) do { \
        if (a->f != b->f) { \
            return a->f < b->f ? -1 : 1; \
        } \
    } while (0)
    CMP(root_prio);
    CMP(root_id);
    CMP(cost);
    CMP(prio);
    CMP(id);
    CMP(port_id);
    CMP(rx_port);
#undef CMP
    return 0;
}

/*
 * 64 unpredictable bits, never 0: from ops->random, else the kernel's
 * generator.  Challenges must not repeat across boots, or frames recorded
 * in one could pass in another.
 */
static uint64_t random64(const Fabric *fab)
{
    uint64_t v = 0;

    while (v == 0) {
        if (fab->ops.random) {
            fab->ops.random(fab->opaque, &v, sizeof(v));
        } else if (getrandom(&v, sizeof(v), 0) != sizeof(v)) {
            /* no getrandom(): glib's generator, seeded from /dev/urandom */
            v = (uint64_t)g_random_int() << 32 | g_random_int();
        }
    }
    return v;
}

/* ---- configuration ---- */

void fab_config_init(FabConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->priority = 32768;
    cfg->interval_ns = 100 * MS;
    cfg->dead_intervals = 3;
    cfg->max_hops = 8;
}

static bool config_fix(FabConfig *c)
{
    size_t nl = strnlen(c->name, FAB_NAME_LEN);

    if (c->interval_ns == 0) {
        c->interval_ns = 100 * MS;
    }
    if (c->dead_intervals == 0) {
        c->dead_intervals = 3;
    }
    if (c->max_hops == 0) {
        c->max_hops = 8;
    }
    return c->chassis_id != 0 && c->key_len <= FAB_MAX_KEY &&
           nl < FAB_NAME_LEN && name_ok((const uint8_t *)c->name, nl) &&
           !(c->mac[0] & 1) &&
           c->interval_ns >= MS && c->interval_ns <= MAX_INTERVAL_MS * MS &&
           c->dead_intervals >= 2 && c->dead_intervals <= FAB_MAX_DEAD &&
           c->max_hops <= FAB_MAX_HOPS;
}

Fabric *fab_new(const FabConfig *cfg, const FabOps *ops, void *opaque)
{
    Fabric *fab;

    if (!cfg || !ops || !ops->send || !ops->port_state) {
        return NULL;
    }
    fab = g_new0(Fabric, 1);
    fab->cfg = *cfg;
    if (!config_fix(&fab->cfg)) {
        g_free(fab);
        return NULL;
    }
    fab->ops = *ops;
    fab->opaque = opaque;
    fab->nonce = cfg->nonce ? cfg->nonce : random64(fab);
    if (fab->cfg.key_len) {
        fab->hmac = g_hmac_new(G_CHECKSUM_SHA256, fab->cfg.key,
                               fab->cfg.key_len);
    }
    fab->hash_seed = random64(fab);
    fab->interval_ms = (uint16_t)ns_to_ms_up(fab->cfg.interval_ns);
    fab->root_port = -1;
    fab->root_prio = fab->cfg.priority;
    fab->root_id = fab->cfg.chassis_id;
    fab->root_nonce = fab->nonce;
    /* the first advertisement, a periodic one, carries 1 */
    fab->my_root_seq = fab->root_seq = 0;
    return fab;
}

static void peer_forget(Peer *pe)
{
    g_free(pe->blades);
    g_free(pe->pend);
    pe->blades = pe->pend = NULL;
    pe->n_blades = pe->n_pend = 0;
    pe->have_blades = pe->pend_open = false;
    pe->alive = false;
}

void fab_free(Fabric *fab)
{
    if (!fab) {
        return;
    }
    for (unsigned p = 0; p < fab->n_ports; p++) {
        for (unsigned i = 0; i < PORT_PEERS; i++) {
            peer_forget(&fab->port[p].peer[i]);
        }
    }
    if (fab->hmac) {
        g_hmac_unref(fab->hmac);
    }
    memset(fab->cfg.key, 0, sizeof(fab->cfg.key));
    g_free(fab);
}

int fab_add_port(Fabric *fab, const char *name)
{
    Port *pt;

    if (fab->n_ports >= FAB_MAX_PORTS) {
        return -1;
    }
    pt = &fab->port[fab->n_ports];
    memset(pt, 0, sizeof(*pt));
    g_strlcpy(pt->name, name ? name : "", sizeof(pt->name));
    pt->role = ROLE_DISABLED;
    pt->state = ST_DOWN;
    return (int)fab->n_ports++;
}

/* ---- timing helpers ---- */

static uint64_t clock_in(Fabric *fab, uint64_t now)
{
    if (now > fab->now) {
        fab->now = now;
    }
    return fab->now;
}

static void request_adv(Fabric *fab)
{
    if (!fab->trigger) {
        fab->trigger = true;
        fab->trigger_at = fab->last_tx + fab->cfg.interval_ns / 8;
    }
}

static uint64_t dead_ns(const Fabric *fab)
{
    return (uint64_t)fab->cfg.dead_intervals * fab->cfg.interval_ns;
}

/* A new challenge on @pt: the oldest of RECENT is forgotten. */
static void challenge_new(Fabric *fab, Port *pt, uint64_t now)
{
    memmove(&pt->chal[1], &pt->chal[0], sizeof(pt->chal[0]) * (RECENT - 1));
    pt->chal[0] = random64(fab);
    pt->n_chal = MIN(pt->n_chal + 1, RECENT);
    pt->epoch++;
    pt->chal_at = now;
}

/* The epoch of our challenge @c on @pt, if it is a recent one; else 0. */
static uint64_t challenge_epoch(const Port *pt, uint64_t c)
{
    for (unsigned i = 0; i < pt->n_chal; i++) {
        if (pt->chal[i] == c) {
            return pt->epoch - i;
        }
    }
    return 0;
}

static RootSeen *root_find(Fabric *fab, uint64_t id)
{
    for (unsigned i = 0; i < MAX_ROOTS; i++) {
        if (fab->roots[i].used && fab->roots[i].id == id) {
            return &fab->roots[i];
        }
    }
    return NULL;
}

static uint64_t root_expiry(const Fabric *fab, const RootSeen *r)
{
    return MAX(r->seen_at, r->inc_at) + dead_ns(fab);
}

/* Root sequence numbers wrap (after 49 days at 1 ms). */
static bool seq_after(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

/* Heard of root @id: does its sequence advance? */
static void root_note(Fabric *fab, uint64_t id, uint64_t nonce, uint32_t seq,
                      uint64_t now)
{
    RootSeen *r = root_find(fab, id);

    if (r && r->nonce == nonce) {
        if (seq_after(seq, r->best_seq)) {
            r->best_seq = seq;
            r->inc_at = now;
        }
        return;
    }
    if (r && now < root_expiry(fab, r)) {
        return;     /* another boot of a live root: stale, or too early */
    }
    if (!r) {
        /* a free entry, or the one silent the longest */
        for (unsigned i = 0; i < MAX_ROOTS; i++) {
            RootSeen *o = &fab->roots[i];

            if (!o->used) {
                r = o;
                break;
            }
            if (o->id != fab->root_id &&
                (!r || root_expiry(fab, o) < root_expiry(fab, r))) {
                r = o;
            }
        }
    }
    if (!r) {
        return;
    }
    r->used = true;
    r->id = id;
    r->nonce = nonce;
    r->best_seq = seq;
    r->seen_at = now;
    r->inc_at = 0;
}

/*
 * May @pe's tree information elect a root port?  Only what a neighbour
 * sends from a port it holds designated (as 802.1D sends configuration
 * BPDUs only there: what it sends elsewhere is its own view taken from
 * us or others), and only about a root that is alive: its sequence
 * advanced within the dead interval, and @pe is not far behind it.
 */
static bool info_valid(Fabric *fab, const Peer *pe, uint64_t now)
{
    const RootSeen *r;

    if (!pe->alive || !pe->designated) {
        return false;
    }
    r = root_find(fab, pe->root_id);
    return r && r->nonce == pe->root_nonce && now < root_expiry(fab, r) &&
           !seq_after(r->best_seq, pe->root_seq + fab->cfg.dead_intervals);
}

/* Has the root we follow shown itself alive since @since? */
static bool root_proven(Fabric *fab, uint64_t since)
{
    const RootSeen *r;

    if (fab->root_port < 0) {
        return true;
    }
    r = root_find(fab, fab->root_id);
    return r && r->nonce == fab->root_nonce && r->inc_at > since;
}

static Vec peer_vec(const Peer *pe)
{
    Vec v = {
        .root_prio = pe->root_prio, .root_id = pe->root_id,
        .cost = pe->root_cost, .prio = pe->prio, .id = pe->id,
        .port_id = pe->port_id,
    };
    return v;
}

/* ---- the spanning tree, routes, and their consequences ---- */

/* Forget neighbours gone silent, stale tables, stale loop marks. */
static bool expire(Fabric *fab, uint64_t now)
{
    bool changed = false;

    for (unsigned p = 0; p < fab->n_ports; p++) {
        Port *pt = &fab->port[p];

        if (pt->self_loop_until && pt->self_loop_until <= now) {
            pt->self_loop_until = 0;
        }
        for (unsigned i = 0; i < PORT_PEERS; i++) {
            Peer *pe = &pt->peer[i];

            if (!pe->alive) {
                continue;
            }
            if (now - pe->heard_at >= pe->dead_ns) {
                fab->routes_dirty |= pe->have_blades;
                peer_forget(pe);
                changed = true;
            } else if (pe->have_blades &&
                       now - pe->blades_at >= pe->dead_ns) {
                pe->have_blades = false;
                pe->n_blades = 0;
                fab->routes_dirty = true;
                changed = true;
            }
        }
    }
    return changed;
}

static bool port_heard(const Port *pt)
{
    for (unsigned i = 0; i < PORT_PEERS; i++) {
        if (pt->peer[i].alive) {
            return true;
        }
    }
    return false;
}

/*
 * A neighbour is late half an interval before it would be dead: on time,
 * a gap is an interval and a half at most.
 */
static uint64_t late_at(const Peer *pe)
{
    return pe->heard_at + pe->dead_ns - pe->dead_ns / pe->dead_intervals / 2;
}

/* Are all the neighbours on @pt late? */
static bool port_silent(const Port *pt, uint64_t now)
{
    for (unsigned i = 0; i < PORT_PEERS; i++) {
        if (pt->peer[i].alive && now < late_at(&pt->peer[i])) {
            return false;
        }
    }
    return true;
}

/* Roles of the ports; returns whether the root vector changed. */
static bool compute_tree(Fabric *fab, uint64_t now)
{
    Vec best = {
        .root_prio = fab->cfg.priority, .root_id = fab->cfg.chassis_id,
        .prio = fab->cfg.priority, .id = fab->cfg.chassis_id,
    };
    const Peer *via = NULL;
    int root_port = -1;
    bool changed;

    for (unsigned p = 0; p < fab->n_ports; p++) {
        Port *pt = &fab->port[p];

        if (!pt->link || pt->self_loop_until > now) {
            continue;
        }
        for (unsigned i = 0; i < PORT_PEERS; i++) {
            Peer *pe = &pt->peer[i];
            Vec v;

            if (!info_valid(fab, pe, now) ||
                pe->root_id == fab->cfg.chassis_id ||
                pe->root_cost >= MAX_COST) {
                continue;
            }
            v = peer_vec(pe);
            v.cost++;
            v.rx_port = p;
            if (vec_cmp(&v, &best) < 0) {
                best = v;
                via = pe;
                root_port = (int)p;
            }
        }
    }
    changed = fab->root_port != root_port ||
              fab->root_prio != best.root_prio ||
              fab->root_id != best.root_id || fab->root_cost != best.cost;
    fab->root_port = root_port;
    fab->root_prio = best.root_prio;
    fab->root_id = best.root_id;
    fab->root_cost = best.cost;
    fab->root_nonce = via ? via->root_nonce : fab->nonce;
    fab->root_seq = via ? via->root_seq : fab->my_root_seq;

    for (unsigned p = 0; p < fab->n_ports; p++) {
        Port *pt = &fab->port[p];
        Vec ours = {
            .root_prio = fab->root_prio, .root_id = fab->root_id,
            .cost = fab->root_cost, .prio = fab->cfg.priority,
            .id = fab->cfg.chassis_id, .port_id = p,
        };
        Role role = ROLE_DESIGNATED;

        if (!pt->link) {
            role = ROLE_DISABLED;
        } else if (pt->self_loop_until > now) {
            role = ROLE_SELF;
        } else if (!port_heard(pt)) {
            /*
             * Nothing to forward to; and were both ends of a link to
             * forward before hearing each other, a link that starts
             * carrying frames (a silent one that comes back) would close
             * a loop until the tree sees it.
             */
            role = ROLE_EDGE;
        } else if (port_silent(pt, now)) {
            /*
             * Were the link to come back with both ends forwarding on
             * what they knew before, after the tree changed elsewhere,
             * it would close a loop until the next advertisements cross.
             */
            role = ROLE_SILENT;
        } else if ((int)p == root_port) {
            role = ROLE_ROOT;
        } else {
            /*
             * Every offer counts here, even about a root gone stale: the
             * port stays blocked until that neighbour changes its mind.
             */
            for (unsigned i = 0; i < PORT_PEERS; i++) {
                Peer *pe = &pt->peer[i];
                Vec theirs;

                if (!pe->alive || !pe->designated) {
                    continue;
                }
                theirs = peer_vec(pe);
                if (vec_cmp(&theirs, &ours) < 0) {
                    role = ROLE_ALTERNATE;
                    break;
                }
            }
        }
        if (pt->role != role) {
            changed = true;
        }
        pt->role = role;
    }
    return changed;
}

/*
 * Do the neighbours on @pt agree that we are designated on it: is their
 * latest frame on it without the designated flag?  (RSTP's agreement,
 * much simplified.)  Without it both ends could forward for a moment,
 * each on an old view of the other.
 */
static bool agreed(const Port *pt)
{
    for (unsigned i = 0; i < PORT_PEERS; i++) {
        if (pt->peer[i].alive && pt->peer[i].designated) {
            return false;
        }
    }
    return true;
}

static PState next_state(Fabric *fab, Port *pt, uint64_t now)
{
    switch (pt->role) {
    case ROLE_DISABLED:
        return ST_DOWN;
    case ROLE_SELF:
        return ST_SELF;
    case ROLE_ALTERNATE:
        return ST_BLOCKED;
    case ROLE_EDGE:
        return ST_EDGE;
    case ROLE_SILENT:
        return ST_SILENT;
    default:
        break;
    }
    /*
     * A root port that becomes designated was the other end's way to
     * the root: it starts over, unless the other end already agrees.
     */
    if (pt->state == ST_FORWARDING &&
        (pt->role == pt->fwd_role || pt->role == ROLE_ROOT || agreed(pt))) {
        pt->fwd_role = pt->role;
        return ST_FORWARDING;
    }
    if (pt->state != ST_LISTENING) {
        pt->listen_start = now;
        pt->listen_until = now + 2 * fab->cfg.interval_ns;
        return ST_LISTENING;
    }
    /*
     * Two intervals; the root followed must have spoken since (a port
     * opened on stale information could close a loop); and a designated
     * port needs its neighbours' agreement.
     */
    if (now >= pt->listen_until && root_proven(fab, pt->listen_start) &&
        (pt->role == ROLE_ROOT || agreed(pt))) {
        pt->fwd_role = pt->role;
        return ST_FORWARDING;
    }
    return ST_LISTENING;
}

static int route_cmp(const void *a, const void *b)
{
    const Blade *x = a, *y = b;

    if (x->hops != y->hops) {
        return x->hops < y->hops ? -1 : 1;
    }
    if (x->chassis_id != y->chassis_id) {
        return x->chassis_id < y->chassis_id ? -1 : 1;
    }
    if (x->slot != y->slot) {
        return x->slot < y->slot ? -1 : 1;
    }
    return memcmp(x->mac, y->mac, 6);
}

static uint64_t blade_age(const Blade *b, uint64_t now)
{
    return (uint64_t)b->age_ms * MS + (now - b->at);
}

/* Is @a a better route than @b (fewest hops, then freshest)? */
static bool route_better(const Blade *a, const Blade *b, uint64_t now)
{
    uint64_t aa = blade_age(a, now), ab = blade_age(b, now);

    if (a->hops != b->hops) {
        return a->hops < b->hops;
    }
    if (aa != ab) {
        return aa < ab;
    }
    if (a->port != b->port) {
        return a->port < b->port;
    }
    return a->via < b->via;
}

/*
 * The best route to each remote blade, from the neighbours on forwarding
 * ports: one pass over the tables held (at most MAX_HELD entries), each
 * blade found through a hash of (chassis, MAC).  *@changed: anything but
 * the ages differs; *@topo: the set of blades, their routes or their
 * rotation differ (worth a triggered advertisement).
 */
static void compute_routes(Fabric *fab, uint64_t now, bool *changed,
                           bool *topo)
{
    Blade *nr = fab->scratch;
    uint16_t slot[ROUTE_SLOTS];     /* 0: free, else index in nr + 1 */
    unsigned n = 0;

    memset(slot, 0, sizeof(slot));
    fab->st.route_computations++;

    for (unsigned p = 0; p < fab->n_ports; p++) {
        Port *pt = &fab->port[p];

        if (pt->state != ST_FORWARDING) {
            continue;
        }
        for (unsigned i = 0; i < PORT_PEERS; i++) {
            Peer *pe = &pt->peer[i];

            if (!pe->alive || !pe->have_blades) {
                continue;
            }
            for (unsigned k = 0; k < pe->n_blades; k++) {
                const Blade *b = &pe->blades[k];
                unsigned h = blade_slot(fab, b->chassis_id, b->mac);

                /* at most half full: a free slot ends every probe */
                while (slot[h]) {
                    const Blade *o = &nr[slot[h] - 1];

                    if (o->chassis_id == b->chassis_id &&
                        !memcmp(o->mac, b->mac, 6)) {
                        break;
                    }
                    h = (h + 1) & (ROUTE_SLOTS - 1);
                }
                if (slot[h]) {
                    if (route_better(b, &nr[slot[h] - 1], now)) {
                        nr[slot[h] - 1] = *b;
                    }
                } else if (n < FAB_MAX_BLADES) {
                    nr[n++] = *b;
                    slot[h] = (uint16_t)n;
                } else {
                    fab->st.rx_too_many_blades++;
                }
            }
        }
    }
    qsort(nr, n, sizeof(*nr), route_cmp);

    *changed = *topo = n != fab->n_route;
    for (unsigned j = 0; j < n && !*topo; j++) {
        const Blade *a = &nr[j], *b = &fab->route[j];

        if (memcmp(a->mac, b->mac, 6) || a->chassis_id != b->chassis_id ||
            a->hops != b->hops || a->port != b->port ||
            a->in_rotation != b->in_rotation || a->slot != b->slot) {
            *changed = *topo = true;
        } else if (a->cpu != b->cpu || a->irq != b->irq ||
                   a->via != b->via || strcmp(a->chassis, b->chassis)) {
            *changed = true;
        }
    }
    memcpy(fab->route, nr, n * sizeof(*nr));
    fab->n_route = n;
}

static const char *why(const Port *pt)
{
    switch (pt->state) {
    case ST_FORWARDING:
        return pt->role == ROLE_ROOT ? "forwarding (root port)"
                                     : "forwarding (designated port)";
    case ST_LISTENING:
        return "listening (two intervals before forwarding)";
    default:
        return state_names[pt->state];
    }
}

/*
 * Bring everything up to @now: expiries, the tree, port states, routes;
 * then tell the caller what changed.
 */
static void update(Fabric *fab, uint64_t now)
{
    bool notify[FAB_MAX_PORTS] = { false };
    bool any = expire(fab, now);
    bool rchanged = false, rtopo = false;

    if (compute_tree(fab, now)) {
        any = true;
    }
    for (unsigned p = 0; p < fab->n_ports; p++) {
        Port *pt = &fab->port[p];
        PState old = pt->state;

        pt->state = next_state(fab, pt, now);
        if (pt->state == old) {
            continue;
        }
        notify[p] = true;
        any = true;
        if ((old == ST_FORWARDING) != (pt->state == ST_FORWARDING)) {
            fab->st.topology_changes++;
        }
        fab->routes_dirty = true;
        if (old == ST_FORWARDING) {
            /* what was learned through it is forgotten */
            for (unsigned i = 0; i < PORT_PEERS; i++) {
                Peer *pe = &pt->peer[i];

                pe->have_blades = pe->pend_open = false;
                pe->n_blades = pe->n_pend = 0;
            }
        }
    }
    if (fab->routes_dirty) {
        fab->routes_dirty = false;
        compute_routes(fab, now, &rchanged, &rtopo);
    }
    if (any || rtopo) {
        request_adv(fab);
    }

    fab->in_callback = true;
    for (unsigned p = 0; p < fab->n_ports; p++) {
        if (notify[p]) {
            fab->ops.port_state(fab->opaque, p,
                                fab->port[p].state == ST_FORWARDING,
                                why(&fab->port[p]));
        }
    }
    if (rchanged && fab->ops.remote_changed) {
        fab->ops.remote_changed(fab->opaque);
    }
    fab->in_callback = false;
}

/* ---- sending ---- */

/* A frame being built: its chassis table is empty. */
static void tx_chassis_reset(Fabric *fab)
{
    memset(fab->tx_ch_slot, 0, sizeof(fab->tx_ch_slot));
    fab->n_tx_ch = 0;
}

/*
 * Position of chassis @id in the chassis table of the frame being built,
 * from 1, added if new (*@added).  Found by a hash: at most 256 entries
 * (a frame's limit, and one that will not fit) in ROUTE_SLOTS.
 */
static uint8_t tx_chassis(Fabric *fab, uint64_t id, bool *added)
{
    unsigned h = (unsigned)(mix64(fab->hash_seed ^ id) & (ROUTE_SLOTS - 1));

    *added = false;
    while (fab->tx_ch_slot[h]) {
        if (fab->tx_ch[fab->tx_ch_slot[h] - 1] == id) {
            return (uint8_t)fab->tx_ch_slot[h];
        }
        h = (h + 1) & (ROUTE_SLOTS - 1);
    }
    *added = true;
    fab->tx_ch[fab->n_tx_ch++] = id;
    fab->tx_ch_slot[h] = (uint16_t)fab->n_tx_ch;
    return (uint8_t)fab->n_tx_ch;
}

/* Octets @e adds to the frame being built (its chassis noted). */
static unsigned entry_room(Fabric *fab, const TxEntry *e)
{
    bool added;

    if (!e->chassis_id) {
        return ENTRY_LEN;
    }
    tx_chassis(fab, e->chassis_id, &added);
    return ENTRY_LEN + (added ? CHASSIS_HDR + strlen(e->chassis) : 0);
}

/* The list of entries for @port: own blades, then split horizon routes. */
static unsigned tx_list(Fabric *fab, unsigned port, uint64_t now)
{
    unsigned n = 0;

    if (fab->port[port].state != ST_FORWARDING) {
        return 0;
    }
    for (unsigned i = 0; i < fab->n_local; i++) {
        const FabLocalBlade *l = &fab->local[i];
        TxEntry *e = &fab->tx[n++];

        e->mac = l->mac;
        e->slot = l->slot;
        e->flags = l->in_rotation ? BLADE_IN_ROTATION : 0;
        e->cpu = l->cpu_pct;
        e->irq = l->irq_pct;
        e->hops = 0;
        e->age_ms = add_ms(l->age_ms, ns_to_ms_up(now - fab->local_at));
        e->chassis_id = 0;
        e->chassis = fab->cfg.name;
    }
    for (unsigned i = 0; i < fab->n_route; i++) {
        const Blade *b = &fab->route[i];
        TxEntry *e;

        if (b->port == port) {
            continue;           /* split horizon */
        }
        if (n >= FAB_MAX_BLADES) {
            fab->st.tx_truncated++;
            continue;
        }
        e = &fab->tx[n++];
        e->mac = b->mac;
        e->slot = b->slot;
        e->flags = b->in_rotation ? BLADE_IN_ROTATION : 0;
        e->cpu = b->cpu;
        e->irq = b->irq;
        e->hops = b->hops;
        e->age_ms = ns_to_ms_up(blade_age(b, now));
        e->chassis_id = b->chassis_id;
        e->chassis = b->chassis;
    }
    return n;
}

static size_t encode(Fabric *fab, unsigned port, unsigned part,
                     unsigned parts, const TxEntry *first,
                     const TxEntry *end)
{
    uint8_t *f = fab->buf, *p = f + ETH_HLEN, *q;
    size_t nl = strlen(fab->cfg.name);
    size_t len;

    memcpy(f, fab_group_mac, 6);
    memcpy(f + 6, fab->cfg.mac, 6);
    stw_be_p(f + 12, FAB_ETHERTYPE);

    stl_be_p(p + O_MAGIC, MAGIC);
    p[O_VERSION] = FAB_VERSION;
    p[O_TYPE] = TYPE_ADVERT;
    p[O_FLAGS] = (fab->hmac ? FLAG_AUTH : 0) |
                 (fab->port[port].role == ROLE_DESIGNATED ||
                  fab->port[port].role == ROLE_EDGE ? FLAG_DESIGNATED : 0);
    p[O_TTL] = 1;
    p[O_PART] = (uint8_t)part;
    p[O_PARTS] = (uint8_t)parts;
    stq_be_p(p + O_ID, fab->cfg.chassis_id);
    stq_be_p(p + O_NONCE, fab->nonce);
    stq_be_p(p + O_SEQ, ++fab->seq);
    stw_be_p(p + O_PRIO, fab->cfg.priority);
    p[O_PORT] = (uint8_t)port;
    p[O_NAMELEN] = (uint8_t)nl;
    stw_be_p(p + O_ROOT_PRIO, fab->root_prio);
    stq_be_p(p + O_ROOT_ID, fab->root_id);
    stw_be_p(p + O_ROOT_COST, (uint16_t)fab->root_cost);
    stl_be_p(p + O_ROOT_SEQ, fab->root_seq);
    stw_be_p(p + O_INTERVAL, fab->interval_ms);
    stq_be_p(p + O_ROOT_NONCE, fab->root_nonce);
    stq_be_p(p + O_CHALLENGE, fab->port[port].chal[0]);
    p[O_NECHO] = (uint8_t)fab->n_tx_echo;
    memcpy(p + O_NAME, fab->cfg.name, nl);
    q = p + O_NAME + nl;
    for (unsigned i = 0; i < fab->n_tx_echo; i++, q += ECHO_LEN) {
        stq_be_p(q, fab->tx_echo[i][0]);
        stq_be_p(q + 8, fab->tx_echo[i][1]);
    }

    /* the chassis table: every holding chassis but this one, once */
    tx_chassis_reset(fab);
    for (const TxEntry *e = first; e < end; e++) {
        bool added = false;

        if (e->chassis_id) {
            tx_chassis(fab, e->chassis_id, &added);
        }
        if (added) {
            size_t cl = strlen(e->chassis);

            stq_be_p(q, e->chassis_id);
            q[8] = (uint8_t)cl;
            memcpy(q + CHASSIS_HDR, e->chassis, cl);
            q += CHASSIS_HDR + cl;
        }
    }
    for (const TxEntry *e = first; e < end; e++) {
        memcpy(q + E_MAC, e->mac, 6);
        q[E_SLOT] = e->slot;
        q[E_FLAGS] = e->flags;
        q[E_CPU] = e->cpu;
        q[E_IRQ] = e->irq;
        q[E_HOPS] = e->hops;
        if (e->chassis_id) {
            bool added;

            q[E_CHASSIS] = tx_chassis(fab, e->chassis_id, &added);
        } else {
            q[E_CHASSIS] = 0;
        }
        stl_be_p(q + E_AGE, e->age_ms);
        q += ENTRY_LEN;
    }
    p[O_NCHASSIS] = (uint8_t)fab->n_tx_ch;
    p[O_NBLADES] = (uint8_t)(end - first);
    len = q - p;
    stw_be_p(p + O_LENGTH, (uint16_t)len);
    if (fab->hmac) {
        GHmac *h = g_hmac_copy(fab->hmac);
        gsize dl = HMAC_LEN;

        g_hmac_update(h, p, len);
        g_hmac_get_digest(h, q, &dl);
        g_hmac_unref(h);
        len += HMAC_LEN;
    }
    return ETH_HLEN + len;
}

/*
 * The echo table for @port: the latest challenge of every chassis heard
 * on it within our dead interval.
 */
static void tx_echoes(Fabric *fab, unsigned port, uint64_t now)
{
    const Port *pt = &fab->port[port];

    fab->n_tx_echo = 0;
    for (unsigned i = 0; i < PORT_PEERS; i++) {
        const Peer *pe = &pt->peer[i];

        if (pe->used && pe->echo && now - pe->echo_at < dead_ns(fab)) {
            fab->tx_echo[fab->n_tx_echo][0] = pe->id;
            fab->tx_echo[fab->n_tx_echo++][1] = pe->echo;
        }
    }
}

static void advertise(Fabric *fab, unsigned port, uint64_t now)
{
    Port *pt = &fab->port[port];
    size_t fixed;
    unsigned n, parts = 0;
    size_t used;

    /* a new challenge every interval: old echoes lapse after RECENT */
    if (!pt->n_chal || now - pt->chal_at >= fab->cfg.interval_ns) {
        challenge_new(fab, pt, now);
    }
    tx_echoes(fab, port, now);
    fixed = HDR_LEN + strlen(fab->cfg.name) + ECHO_LEN * fab->n_tx_echo +
            (fab->hmac ? HMAC_LEN : 0);
    n = tx_list(fab, port, now);
    used = fixed;

    /* cut the list into frames of at most MAX_PAYLOAD octets */
    fab->tx_start[parts++] = 0;
    tx_chassis_reset(fab);
    for (unsigned i = 0; i < n; i++) {
        unsigned room = entry_room(fab, &fab->tx[i]);

        if (used + room > MAX_PAYLOAD || i - fab->tx_start[parts - 1] >=
            UINT8_MAX) {
            if (parts == MAX_PARTS) {
                fab->st.tx_truncated += n - i;
                n = i;
                break;
            }
            fab->tx_start[parts++] = i;
            used = fixed;
            tx_chassis_reset(fab);
            room = entry_room(fab, &fab->tx[i]);
        }
        used += room;
    }
    fab->tx_start[parts] = n;
    for (unsigned k = 0; k < parts; k++) {
        size_t len = encode(fab, port, k, parts,
                            &fab->tx[fab->tx_start[k]],
                            &fab->tx[fab->tx_start[k + 1]]);

        fab->st.tx_adverts++;
        fab->port[port].tx_adverts++;
        fab->ops.send(fab->opaque, port, fab->buf, len);
    }
}

/* ---- receiving ---- */

static bool auth_ok(Fabric *fab, const uint8_t *p, size_t len,
                    const uint8_t *mac)
{
    uint8_t want[HMAC_LEN];
    gsize dl = sizeof(want);
    GHmac *h = g_hmac_copy(fab->hmac);
    uint8_t diff = 0;

    g_hmac_update(h, p, len);
    g_hmac_get_digest(h, want, &dl);
    g_hmac_unref(h);
    for (size_t i = 0; i < HMAC_LEN; i++) {
        diff |= want[i] ^ mac[i];
    }
    return diff == 0;
}

/*
 * Is @id, entry @i of the frame's chassis table, in it before?  @slot:
 * ROUTE_SLOTS zeros before the first call (at most 255 entries: a free
 * slot ends every probe); a hash, so that a long table costs no more than
 * a pass over it.
 */
static bool chassis_repeated(const Fabric *fab, const Adv *a, uint16_t *slot,
                             unsigned i)
{
    unsigned h = (unsigned)(mix64(fab->hash_seed ^ a->chassis_id[i]) &
                            (ROUTE_SLOTS - 1));

    while (slot[h]) {
        if (a->chassis_id[slot[h] - 1] == a->chassis_id[i]) {
            return true;
        }
        h = (h + 1) & (ROUTE_SLOTS - 1);
    }
    slot[h] = (uint16_t)(i + 1);
    return false;
}

/*
 * Check a frame and decode it into @a.  Nothing in @fab but the key (and
 * the hash seed) is looked at: the frame alone is judged.
 */
static RxResult decode(Fabric *fab, const uint8_t *frame, size_t len,
                       Adv *a)
{
    const uint8_t *p = frame + ETH_HLEN, *q, *end;
    uint16_t slot[ROUTE_SLOTS];     /* the chassis table, hashed */
    size_t plen, trailer;
    bool root_is_sender;

    if (len >= ETH_HLEN + O_VERSION + 1 && lduw_be_p(frame + 12) ==
        FAB_ETHERTYPE && ldl_be_p(p + O_MAGIC) == MAGIC &&
        p[O_VERSION] != FAB_VERSION) {
        return RX_VERSION;
    }
    if (len < ETH_HLEN + HDR_LEN || len > ETH_HLEN + MAX_PAYLOAD ||
        memcmp(frame, fab_group_mac, 6) ||
        lduw_be_p(frame + 12) != FAB_ETHERTYPE ||
        ldl_be_p(p + O_MAGIC) != MAGIC) {
        return RX_MALFORMED;
    }
    plen = len - ETH_HLEN;
    a->flags = p[O_FLAGS];
    a->length = lduw_be_p(p + O_LENGTH);
    trailer = a->flags & FLAG_AUTH ? HMAC_LEN : 0;
    if (a->flags & ~FLAGS_KNOWN || a->length < HDR_LEN ||
        a->length + trailer != plen) {
        return RX_MALFORMED;
    }
    if (fab->hmac) {
        if (!trailer) {
            return RX_UNAUTH;
        }
        if (!auth_ok(fab, p, a->length, p + a->length)) {
            return RX_BAD_AUTH;
        }
    }

    a->part = p[O_PART];
    a->parts = p[O_PARTS];
    a->id = ldq_be_p(p + O_ID);
    a->nonce = ldq_be_p(p + O_NONCE);
    a->seq = ldq_be_p(p + O_SEQ);
    a->prio = lduw_be_p(p + O_PRIO);
    a->port_id = p[O_PORT];
    a->name_len = p[O_NAMELEN];
    a->root_prio = lduw_be_p(p + O_ROOT_PRIO);
    a->root_id = ldq_be_p(p + O_ROOT_ID);
    a->root_cost = lduw_be_p(p + O_ROOT_COST);
    a->root_seq = ldl_be_p(p + O_ROOT_SEQ);
    a->root_nonce = ldq_be_p(p + O_ROOT_NONCE);
    a->interval_ms = lduw_be_p(p + O_INTERVAL);
    a->n_chassis = p[O_NCHASSIS];
    a->n_blades = p[O_NBLADES];
    a->challenge = ldq_be_p(p + O_CHALLENGE);
    a->n_echo = p[O_NECHO];
    a->name = p + O_NAME;
    root_is_sender = a->root_id == a->id && a->root_prio == a->prio;
    if (p[O_TYPE] != TYPE_ADVERT || p[O_TTL] != 1 ||
        a->parts == 0 || a->parts > MAX_PARTS || a->part >= a->parts ||
        a->id == 0 || a->nonce == 0 || a->seq == 0 ||
        a->name_len >= FAB_NAME_LEN || a->root_id == 0 ||
        a->root_nonce == 0 || a->root_seq == 0 ||
        a->interval_ms == 0 || a->interval_ms > MAX_INTERVAL_MS ||
        a->challenge == 0 || a->n_echo > PORT_PEERS) {
        return RX_MALFORMED;
    }
    /* the root is never worse than the sender, which could pick itself */
    if (a->root_prio > a->prio ||
        (a->root_prio == a->prio && a->root_id > a->id)) {
        return RX_MALFORMED;
    }
    if (root_is_sender ? a->root_cost != 0 || a->root_nonce != a->nonce
                       : a->root_cost == 0 || a->root_cost > MAX_COST ||
                         a->root_id == a->id) {
        return RX_MALFORMED;
    }
    end = p + a->length;
    q = p + O_NAME;
    if ((size_t)(end - q) < a->name_len || !name_ok(q, a->name_len)) {
        return RX_MALFORMED;
    }
    q += a->name_len;
    if ((size_t)(end - q) < (size_t)a->n_echo * ECHO_LEN) {
        return RX_MALFORMED;
    }
    a->echoes = q;
    for (unsigned i = 0; i < a->n_echo; i++, q += ECHO_LEN) {
        uint64_t id = ldq_be_p(q);

        if (id == 0 || id == a->id || ldq_be_p(q + 8) == 0) {
            return RX_MALFORMED;
        }
        for (unsigned j = 0; j < i; j++) {
            if (ldq_be_p(a->echoes + j * ECHO_LEN) == id) {
                return RX_MALFORMED;
            }
        }
    }
    if (a->n_chassis) {
        memset(slot, 0, sizeof(slot));
    }
    for (unsigned i = 0; i < a->n_chassis; i++) {
        uint8_t cl;

        if (end - q < CHASSIS_HDR) {
            return RX_MALFORMED;
        }
        a->chassis_id[i] = ldq_be_p(q);
        cl = q[8];
        if (cl >= FAB_NAME_LEN || (size_t)(end - q - CHASSIS_HDR) < cl ||
            a->chassis_id[i] == 0 || a->chassis_id[i] == a->id ||
            !name_ok(q + CHASSIS_HDR, cl)) {
            return RX_MALFORMED;
        }
        if (chassis_repeated(fab, a, slot, i)) {
            return RX_MALFORMED;
        }
        a->chassis_len[i] = cl;
        a->chassis_name[i] = q + CHASSIS_HDR;
        q += CHASSIS_HDR + cl;
    }
    if ((size_t)(end - q) != (size_t)a->n_blades * ENTRY_LEN) {
        return RX_MALFORMED;
    }
    a->blades = q;
    for (unsigned i = 0; i < a->n_blades; i++, q += ENTRY_LEN) {
        if (!mac_unicast(q + E_MAC) || q[E_FLAGS] & ~BLADE_IN_ROTATION ||
            q[E_CPU] > 100 || q[E_IRQ] > 100 ||
            q[E_CHASSIS] > a->n_chassis || q[E_HOPS] == UINT8_MAX ||
            (q[E_CHASSIS] == 0) != (q[E_HOPS] == 0)) {
            return RX_MALFORMED;
        }
    }
    return RX_OK;
}

static Peer *peer_lookup(Port *pt, uint64_t id)
{
    for (unsigned i = 0; i < PORT_PEERS; i++) {
        if (pt->peer[i].used && pt->peer[i].id == id) {
            return &pt->peer[i];
        }
    }
    return NULL;
}

/*
 * A slot for chassis @id on @pt: a free one, else one of a chassis not
 * heard within the dead interval, those without a session first; @session
 * false: only those.  NULL if none.  Forgetting a session (its sequence
 * numbers) starts a new challenge, and frames echoing an earlier one are
 * no longer taken from chassis without a session: so the frames of the
 * forgotten one cannot come back.
 */
static Peer *peer_alloc(Fabric *fab, Port *pt, uint64_t id, bool session,
                        uint64_t now)
{
    Peer *pick = NULL;

    for (unsigned i = 0; i < PORT_PEERS; i++) {
        Peer *pe = &pt->peer[i];

        if (!pe->used) {
            pick = pe;
            break;
        }
        if (pe->alive || (pe->bound && !session)) {
            continue;
        }
        if (!pick || (!pe->bound && pick->bound) ||
            (!pe->bound == !pick->bound && pe->heard_at < pick->heard_at)) {
            pick = pe;
        }
    }
    if (!pick) {
        return NULL;
    }
    if (pick->used && pick->bound) {
        challenge_new(fab, pt, now);
        pt->floor = pt->epoch;
        request_adv(fab);
    }
    peer_forget(pick);
    memset(pick, 0, sizeof(*pick));
    pick->used = true;
    pick->id = id;
    return pick;
}

typedef enum Freshness {
    FRESH,
    NO_ECHO,        /* no echo of a recent challenge of ours */
    REPLAYED,
} Freshness;

/*
 * Freshness (docs/fabric-protocol.md): a frame must echo one of our recent
 * challenges on this link, and within a session (an echoed epoch of ours
 * and the sender's boot) sequence numbers strictly increase.  Once a
 * sender's session is bound to an epoch, no other boot of it is taken in
 * that epoch, nor anything in an earlier one.
 */
static Freshness fresh(const Fabric *fab, const Port *pt, const Peer *pe,
                       const Adv *a, uint64_t *epoch)
{
    uint64_t e = 0;

    for (unsigned i = 0; i < a->n_echo && !e; i++) {
        const uint8_t *q = a->echoes + i * ECHO_LEN;

        if (ldq_be_p(q) == fab->cfg.chassis_id) {
            e = challenge_epoch(pt, ldq_be_p(q + 8));
        }
    }
    *epoch = e;
    if (!e) {
        return NO_ECHO;
    }
    if (!pe || !pe->bound) {
        return e >= pt->floor ? FRESH : REPLAYED;
    }
    if (e < pe->bound) {
        return REPLAYED;
    }
    if (e == pe->bound && (a->nonce != pe->nonce || a->seq <= pe->seq)) {
        return REPLAYED;
    }
    return FRESH;
}

/*
 * Our own frame, come back: fresh if it carries a recent challenge of the
 * port it names and was sent in this round of advertisements or the one
 * before (a frame recorded earlier would mark a port as cabled to itself).
 */
static bool own_fresh(const Fabric *fab, const Adv *a)
{
    return a->port_id < fab->n_ports &&
           challenge_epoch(&fab->port[a->port_id], a->challenge) &&
           a->seq > fab->seq_mark[1] && a->seq <= fab->seq;
}

/*
 * How far apart two rounds may place the same report.  Its moment is its
 * age at receipt less the time of receipt; the sender rounds the age up
 * to a whole ms, and the frame's delivery varies: a round sent off the
 * ms grid would otherwise look new every time and recompute the routes.
 */
#define MOMENT_SLACK_NS (2 * MS)

/* The moment blade entry @b's figures are of (see MOMENT_SLACK_NS). */
static uint64_t blade_moment(const Blade *b)
{
    return b->at - (uint64_t)b->age_ms * MS;
}

/*
 * Do two tables say the same: the same blades, figures and routes, the
 * figures of the same moment?
 */
static bool blades_same(const Blade *a, unsigned na, const Blade *b,
                        unsigned nb)
{
    if (na != nb) {
        return false;
    }
    for (unsigned i = 0; i < na; i++) {
        const Blade *x = &a[i], *y = &b[i];
        uint64_t mx = blade_moment(x), my = blade_moment(y);

        if (memcmp(x->mac, y->mac, 6) || x->slot != y->slot ||
            x->in_rotation != y->in_rotation || x->cpu != y->cpu ||
            x->irq != y->irq || x->hops != y->hops ||
            x->chassis_id != y->chassis_id ||
            (mx > my ? mx - my : my - mx) >= MOMENT_SLACK_NS ||
            strcmp(x->chassis, y->chassis)) {
            return false;
        }
    }
    return true;
}

/* Blades held from every neighbour but @except. */
static unsigned held_elsewhere(const Fabric *fab, const Peer *except)
{
    unsigned n = 0;

    for (unsigned p = 0; p < fab->n_ports; p++) {
        for (unsigned i = 0; i < PORT_PEERS; i++) {
            const Peer *pe = &fab->port[p].peer[i];

            if (pe != except && pe->have_blades) {
                n += pe->n_blades;
            }
        }
    }
    return n;
}

static void take_blades(Fabric *fab, Port *pt, Peer *pe, const Adv *a,
                        uint64_t now)
{
    const uint8_t *q = a->blades;

    if (a->part == 0) {
        pe->pend_open = true;
        pe->n_pend = 0;
        pe->pend_parts = a->parts;
        pe->pend_next = 0;
    } else if (!pe->pend_open || a->parts != pe->pend_parts ||
               a->part != pe->pend_next || a->seq != pe->pend_seq + 1) {
        pe->pend_open = false;  /* a part was lost: wait for the next */
        return;
    }
    pe->pend_seq = a->seq;
    pe->pend_next++;
    for (unsigned i = 0; i < a->n_blades; i++, q += ENTRY_LEN) {
        unsigned c = q[E_CHASSIS];
        uint64_t cid = c ? a->chassis_id[c - 1] : a->id;
        Blade *b;

        if (q[E_HOPS] + 1u > fab->cfg.max_hops ||
            cid == fab->cfg.chassis_id) {
            continue;
        }
        if (pe->n_pend >= FAB_MAX_BLADES) {
            fab->st.rx_too_many_blades++;
            pe->pend_open = false;
            return;
        }
        if (!pe->pend) {
            pe->pend = g_new(Blade, FAB_MAX_BLADES);
        }
        b = &pe->pend[pe->n_pend++];
        memset(b, 0, sizeof(*b));
        memcpy(b->mac, q + E_MAC, 6);
        b->slot = q[E_SLOT];
        b->in_rotation = q[E_FLAGS] & BLADE_IN_ROTATION;
        b->cpu = q[E_CPU];
        b->irq = q[E_IRQ];
        b->hops = q[E_HOPS] + 1;
        b->age_ms = ldl_be_p(q + E_AGE);
        b->at = now;
        b->port = (unsigned)(pt - fab->port);
        b->via = a->id;
        b->chassis_id = cid;
        if (c) {
            memcpy(b->chassis, a->chassis_name[c - 1], a->chassis_len[c - 1]);
        } else {
            memcpy(b->chassis, a->name, a->name_len);
        }
    }
    if (pe->pend_next < pe->pend_parts) {
        return;
    }
    pe->pend_open = false;
    if (pt->state != ST_FORWARDING) {
        return;                 /* nothing is learned on other ports */
    }
    /* a complete round replaces the table */
    pe->blades_at = now;
    if (pe->have_blades && blades_same(pe->blades, pe->n_blades,
                                       pe->pend, pe->n_pend)) {
        pe->n_pend = 0;
        return;                 /* nothing new: the routes stand */
    }
    if (held_elsewhere(fab, pe) + pe->n_pend > MAX_HELD) {
        fab->st.rx_too_many_blades++;
        pe->n_pend = 0;
        return;                 /* the previous table stays until it ages */
    }
    {
        Blade *t = pe->blades;

        pe->blades = pe->pend;
        pe->pend = t;
        pe->n_blades = pe->n_pend;
        pe->n_pend = 0;
        pe->have_blades = true;
        fab->routes_dirty = true;
    }
}

void fab_input(Fabric *fab, unsigned port, const uint8_t *frame, size_t len,
               uint64_t now)
{
    Adv a;
    Port *pt;
    Peer *pe;
    bool was_alive;
    uint64_t epoch;
    Freshness fr;
    RxResult r;

    if (fab->in_callback) {
        return;
    }
    now = clock_in(fab, now);
    if (port >= fab->n_ports || !fab->port[port].link) {
        return;
    }
    pt = &fab->port[port];
    r = frame ? decode(fab, frame, len, &a) : RX_MALFORMED;
    switch (r) {
    case RX_OK:
        break;
    case RX_VERSION:
        fab->st.rx_bad_version++;
        return;
    case RX_UNAUTH:
        fab->st.rx_unauthenticated++;
        return;
    case RX_BAD_AUTH:
        fab->st.rx_bad_auth++;
        return;
    default:
        fab->st.rx_malformed++;
        return;
    }
    if (a.id == fab->cfg.chassis_id) {
        if (a.nonce != fab->nonce) {
            fab->st.rx_id_conflict++;
            return;
        }
        if (!own_fresh(fab, &a)) {
            fab->st.rx_replayed++;
            return;
        }
        fab->st.rx_own++;
        if (a.port_id != port) {
            /* two of our ports on one segment: the higher one backs up */
            Port *hi = &fab->port[MAX(port, a.port_id)];

            hi->self_loop_until = now + (uint64_t)fab->cfg.dead_intervals *
                                        fab->cfg.interval_ns;
            update(fab, now);
        }
        return;
    }
    pe = peer_lookup(pt, a.id);
    fr = fresh(fab, pt, pe, &a, &epoch);
    if (fr != FRESH) {
        if (fr == NO_ECHO) {
            fab->st.rx_no_echo++;
        } else {
            fab->st.rx_replayed++;
        }
        /*
         * A chassis we do not hear (yet) needs our challenge, and we its:
         * note it (never at the cost of a session), and answer soon.  One
         * we hear is not distracted by frames recorded earlier.
         */
        if (!pe || !pe->alive) {
            if (!pe) {
                pe = peer_alloc(fab, pt, a.id, false, now);
            }
            if (pe) {
                pe->echo = a.challenge;
                pe->echo_at = now;
            }
            request_adv(fab);
        }
        return;
    }
    if (!pe) {
        pe = peer_alloc(fab, pt, a.id, true, now);
        if (!pe) {
            fab->st.rx_no_room++;
            return;
        }
    }
    if (pe->bound != epoch || pe->nonce != a.nonce) {
        /* a new session: a round under way in the previous one is lost */
        pe->pend_open = false;
    }
    pe->bound = epoch;
    pe->nonce = a.nonce;
    pe->echo = a.challenge;
    pe->echo_at = now;
    was_alive = pe->alive;
    pe->used = pe->alive = true;
    pe->seq = a.seq;
    pe->heard_at = now;
    pe->dead_ns = (uint64_t)fab->cfg.dead_intervals * a.interval_ms * MS;
    pe->dead_intervals = fab->cfg.dead_intervals;
    memset(pe->name, 0, sizeof(pe->name));
    memcpy(pe->name, a.name, a.name_len);
    pe->prio = a.prio;
    pe->port_id = a.port_id;
    pe->designated = a.flags & FLAG_DESIGNATED;
    pe->root_prio = a.root_prio;
    pe->root_id = a.root_id;
    pe->root_cost = a.root_cost;
    pe->root_nonce = a.root_nonce;
    pe->root_seq = a.root_seq;
    pe->rx_adverts++;
    pt->rx_adverts++;
    fab->st.rx_adverts++;
    take_blades(fab, pt, pe, &a, now);
    root_note(fab, a.root_id, a.root_nonce, a.root_seq, now);
    if (!was_alive) {
        request_adv(fab);
    }
    update(fab, now);
    /* news from the root: pass it on at once, not an interval later */
    if (fab->root_port >= 0 && fab->root_seq != fab->adv_root_seq) {
        request_adv(fab);
    }
}

/* ---- the rest of the interface ---- */

void fab_port_link(Fabric *fab, unsigned port, bool up, uint64_t now)
{
    Port *pt;

    if (fab->in_callback || port >= fab->n_ports) {
        return;
    }
    now = clock_in(fab, now);
    pt = &fab->port[port];
    if (pt->link == up) {
        return;
    }
    pt->link = up;
    pt->self_loop_until = 0;
    /*
     * Whatever was recorded on the link before cannot echo the challenge
     * it gets now; while it is down, none is valid.
     */
    pt->n_chal = 0;
    if (up) {
        challenge_new(fab, pt, now);
    }
    if (!up) {
        for (unsigned i = 0; i < PORT_PEERS; i++) {
            fab->routes_dirty |= pt->peer[i].have_blades;
            peer_forget(&pt->peer[i]);
        }
    }
    request_adv(fab);
    update(fab, now);
}

static void set_local(Fabric *fab, const FabLocalBlade *blades, unsigned n,
                      uint64_t at)
{
    bool changed = false;
    unsigned k = 0;

    for (unsigned i = 0; i < n && k < FAB_MAX_BLADES; i++) {
        FabLocalBlade b = blades[i];

        if (!mac_unicast(b.mac)) {
            continue;
        }
        b.cpu_pct = MIN(b.cpu_pct, 100);
        b.irq_pct = MIN(b.irq_pct, 100);
        b.in_rotation = !!b.in_rotation;
        if (k >= fab->n_local || memcmp(fab->local[k].mac, b.mac, 6) ||
            fab->local[k].in_rotation != b.in_rotation ||
            fab->local[k].slot != b.slot) {
            changed = true;
        }
        fab->local[k++] = b;
    }
    if (k != fab->n_local) {
        changed = true;
    }
    fab->n_local = k;
    fab->local_at = at;
    if (changed) {
        request_adv(fab);
    }
}

void fab_set_local(Fabric *fab, const FabLocalBlade *blades, unsigned n)
{
    if (!fab->in_callback) {
        set_local(fab, blades, n, fab->now);
    }
}

void fab_set_local_at(Fabric *fab, const FabLocalBlade *blades, unsigned n,
                      uint64_t now)
{
    if (!fab->in_callback) {
        set_local(fab, blades, n, clock_in(fab, now));
    }
}

void fab_tick(Fabric *fab, uint64_t now)
{
    bool periodic, send;

    if (fab->in_callback) {
        return;
    }
    now = clock_in(fab, now);
    periodic = now >= fab->next_adv;
    if (periodic && fab->root_port < 0 && ++fab->my_root_seq == 0) {
        fab->my_root_seq = 1;   /* the root's heartbeat; never 0 */
    }
    update(fab, now);
    send = periodic || (fab->trigger && now >= fab->trigger_at);
    if (!send) {
        return;
    }
    fab->seq_mark[1] = fab->seq_mark[0];
    fab->seq_mark[0] = fab->seq;
    for (unsigned p = 0; p < fab->n_ports; p++) {
        if (fab->port[p].link) {
            advertise(fab, p, now);
        }
    }
    fab->trigger = false;
    fab->last_tx = now;
    fab->adv_root_seq = fab->root_seq;
    if (fab->root_port < 0) {
        /* the root keeps a steady period, unless it fell behind */
        if (periodic) {
            fab->next_adv += fab->cfg.interval_ns;
        }
        if (!fab->started || fab->next_adv <= now) {
            fab->next_adv = now + fab->cfg.interval_ns;
        }
    } else {
        /*
         * The others pass the root's advertisements on as they come; on
         * their own only when those stop.
         */
        fab->next_adv = now + fab->cfg.interval_ns + fab->cfg.interval_ns / 2;
    }
    fab->started = true;
}

uint64_t fab_deadline(const Fabric *fab)
{
    uint64_t d = fab->next_adv;

    if (fab->trigger) {
        d = min64(d, fab->trigger_at);
    }
    for (unsigned p = 0; p < fab->n_ports; p++) {
        const Port *pt = &fab->port[p];

        /* past it, the root has yet to speak: fab_input() will see */
        if (pt->state == ST_LISTENING && pt->listen_until > fab->now) {
            d = min64(d, pt->listen_until);
        }
        if (pt->self_loop_until) {
            d = min64(d, pt->self_loop_until);
        }
        for (unsigned i = 0; i < PORT_PEERS; i++) {
            const Peer *pe = &pt->peer[i];

            if (!pe->alive) {
                continue;
            }
            d = min64(d, pe->heard_at + pe->dead_ns);
            if (late_at(pe) > fab->now) {
                d = min64(d, late_at(pe));
            }
            if (pe->have_blades) {
                d = min64(d, pe->blades_at + pe->dead_ns);
            }
        }
    }
    for (unsigned i = 0; i < MAX_ROOTS; i++) {
        const RootSeen *r = &fab->roots[i];

        if (r->used && root_expiry(fab, r) > fab->now) {
            d = min64(d, root_expiry(fab, r));
        }
    }
    return d;
}

bool fab_port_forwarding(const Fabric *fab, unsigned port)
{
    return port < fab->n_ports && fab->port[port].state == ST_FORWARDING;
}

bool fab_port_info(const Fabric *fab, unsigned port, uint64_t now,
                   FabPortInfo *pi)
{
    const Port *pt;
    const Peer *best = NULL;
    Vec bv;

    if (port >= fab->n_ports) {
        return false;
    }
    pt = &fab->port[port];
    memset(pi, 0, sizeof(*pi));
    g_strlcpy(pi->name, pt->name, sizeof(pi->name));
    pi->link = pt->link;
    pi->forwarding = pt->state == ST_FORWARDING;
    pi->state = state_names[pt->state];
    pi->role = role_names[pt->role];
    for (unsigned i = 0; i < PORT_PEERS; i++) {
        const Peer *pe = &pt->peer[i];
        Vec v;

        if (!pe->alive) {
            continue;
        }
        pi->neighbours++;
        v = peer_vec(pe);
        if (!best || vec_cmp(&v, &bv) < 0) {
            best = pe;
            bv = v;
        }
    }
    if (best) {
        pi->neighbour = true;
        pi->neighbour_id = best->id;
        g_strlcpy(pi->neighbour_name, best->name, sizeof(pi->neighbour_name));
        pi->heard_age_ns = now > best->heard_at ? now - best->heard_at : 0;
    }
    pi->rx_adverts = pt->rx_adverts;
    pi->tx_adverts = pt->tx_adverts;
    return true;
}

/* fab_remote_blades() copies a whole name */
_Static_assert(FAB_NAME_LEN == REMOTE_BLADE_NAME_LEN, "chassis name length");

unsigned fab_remote_blades(const Fabric *fab, uint64_t now,
                           RemoteBlade *out, unsigned max)
{
    unsigned n = MIN(max, fab->n_route);

    for (unsigned i = 0; i < n; i++) {
        const Blade *b = &fab->route[i];
        RemoteBlade *r = &out[i];

        memset(r, 0, sizeof(*r));
        memcpy(r->mac, b->mac, 6);
        r->slot = b->slot;
        r->in_rotation = b->in_rotation;
        r->cpu_pct = b->cpu;
        r->irq_pct = b->irq;
        r->age_ns = (uint64_t)b->age_ms * MS + (now > b->at ? now - b->at : 0);
        r->hops = b->hops;
        r->port = b->port;
        r->chassis_id = b->chassis_id;
        memcpy(r->chassis, b->chassis, sizeof(r->chassis));
    }
    return n;
}

void fab_stats(const Fabric *fab, FabStats *st)
{
    *st = fab->st;
}

uint64_t fab_root_id(const Fabric *fab)
{
    return fab->root_id;
}

uint64_t fab_nonce(const Fabric *fab)
{
    return fab->nonce;
}
