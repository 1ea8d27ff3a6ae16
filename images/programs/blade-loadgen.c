/*
 * blade-loadgen: the client blade's load generator for balancing runs.
 *
 * In virtual time a chassis cannot take traffic from the host, so the
 * balancing bench runs its load inside a blade, the client blade, which
 * sends to the services' VIPs (the TARGETs, one for each balancing policy
 * under test) through the switch.  Its clock (CLOCK_MONOTONIC) is then the
 * virtual clock, and its per-request log the same on every run.
 *
 * Optionally it first waits until -W blades answer on TARGET 1, or on
 * the -A addresses (each blade's own: those probes reach the blades
 * directly, and no service counts them among its flows), and -S seconds
 * more (until the switch has every blade in rotation), and measures
 * the capacity of TARGET -K (default 1) with a closed loop (-c); then it
 * runs -n rounds.  In round k the targets are taken in turn starting at
 * target k mod T; each gets a warm-up phase (-w seconds, not logged) and a
 * measured phase (-m seconds): connections arriving as a Poisson process
 * (seeded: every target of a round gets the same arrivals), each carrying
 * -r HTTP/1.1 GETs of -p, the last with "Connection: close".  A phase
 * ends when its arrivals are over and its connections have finished or
 * timed out.  The log of every measured request is kept in memory and
 * printed after the last round, so that printing does not load the CPU
 * while it is measured.
 *
 * One process, one epoll loop over non-blocking sockets, and a timerfd
 * for the arrivals and timeouts.  Everything from the peer is bounded and
 * checked: an answer of at most ANSWER_MAX bytes with a Content-Length,
 * status 200 and "blade=NAME" in its body, or the connection fails with
 * a one-word reason; at most MAX_CONNS connections at a time (arrivals
 * beyond them fail as "toomany"); each connection must be done within -t
 * seconds of its arrival.  The arrivals depend only on the seed: the
 * random numbers are splitmix64's, not the C library's.
 *
 * Usage: blade-loadgen -h
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "http-head.h"

#define DEFAULT_PORT 8080
#define MAX_TARGETS 64
#define MAX_CONNS 4096          /* open at a time */
#define MAX_BLADES 4096         /* distinct blade names */
#define NAME_MAX_LEN 63         /* of a blade name */
#define PATH_MAX_LEN 1024
#define OUT_MAX (PATH_MAX_LEN + 128)
#define ANSWER_MAX 65536        /* an answer's head and body */
#define IN_START 2048           /* first size of a connection's buffer */
#define WAIT_GAP_NS 20000000LL  /* -W: one probe every 20 ms */
#define WAIT_TIMEOUT_NS 200000000LL
#define CLOSING_NS 1000000000LL /* the server's close after the last answer */
#define RETRY_NS 20000000LL     /* capacity: reopen a failed slot after */
#define NS 1000000000LL

static const char usage_text[] =
"usage: blade-loadgen [-p PATH] [-r REQS] [-s SEED] [-W BLADES] [-T WAIT_S]\n"
"                     [-A ADDR]... [-S SETTLE_S]\n"
"                     [-c CAP_S] [-C CONNS] [-K N] [-f FRACTION | -R RATE]\n"
"                     [-n ROUNDS] [-w WARMUP_S] [-m MEASURE_S]\n"
"                     [-t TIMEOUT_S] [-L MAX_LOG] TARGET...\n"
"TARGET: IPv4[:PORT] (default port 8080); one per balancing policy under\n"
"test (each a VIP of its own).\n"
"  -p PATH      request path (default /cgi-bin/work?kb=64)\n"
"  -r REQS      requests per connection, the last with Connection: close\n"
"               (default 8)\n"
"  -s SEED      arrivals' seed (default 1): round k uses SEED+1000k for\n"
"               its warm-ups and SEED+1000k+1 for its measured phases\n"
"  -W BLADES    first wait until BLADES distinct blades answer on TARGET 1\n"
"               (default 0: do not wait)\n"
"  -T WAIT_S    give -W up after WAIT_S seconds, exit 1 (default 120)\n"
"  -A ADDR      -W probes ADDR (IPv4[:PORT]) instead of TARGET 1; repeat it\n"
"               for each blade, at the blade's own address: the probes then\n"
"               go to the blades directly, not through a service, and count\n"
"               among no service's flows.  The addresses are probed in\n"
"               turn, one a blade answered on not again (needs -W)\n"
"  -S SETTLE_S  once -W is done, wait SETTLE_S seconds more (default 0;\n"
"               needs -W): a blade answers on its own address as soon as\n"
"               its link is up, but the switch puts it in rotation only\n"
"               with its first utilization report, an interval later\n"
"  -c CAP_S     measure TARGET N's capacity with a closed loop of CAP_S\n"
"               seconds (default 0: do not)\n"
"  -C CONNS     the closed loop's connections (default 4)\n"
"  -K N         the TARGET whose capacity -c measures (default 1)\n"
"  -f FRACTION  open-loop request rate = FRACTION x capacity (needs -c)\n"
"  -R RATE      open-loop request rate in requests/s\n"
"  -n ROUNDS    rounds (default 1; 0: only -W and -c)\n"
"  -w WARMUP_S  each target's warm-up phase, not logged (default 1)\n"
"  -m MEASURE_S each target's measured phase (default 5)\n"
"  -t TIMEOUT_S a connection must be done this long after its arrival\n"
"               (default 30), or it fails as 'timeout'\n"
"  -L MAX_LOG   requests kept in the log (default 1000000); beyond them\n"
"               they are counted as log_dropped\n"
"Output, after the last round (times in ns since the program started):\n"
"  phase TARGET ROUND START_NS   (each measured phase, then its lines)\n"
"  req TARGET ROUND CONN REQ BLADE DUE_NS START_NS END_NS\n"
"  fail TARGET ROUND CONN REASON\n"
"  loadgen-done: requests N failed N log_dropped N\n"
"Exit 0 when all ran, 1 on bad usage or when -W gave up, 2 when nothing\n"
"was answered.\n";

/* ---- options ----------------------------------------------------------- */

typedef struct {
    struct sockaddr_in addr;
    char host[32];              /* for the Host header: a.b.c.d:port */
} Target;

static const char *req_path = "/cgi-bin/work?kb=64";
static long reqs_per_conn = 8;
static uint64_t seed = 1;
static long wait_blades;
static double wait_s = 120;
static double settle_s;         /* -S */
static double cap_s;
static long cap_conns = 4;
static int cap_target;          /* -K, from 0 */
static double fraction, rate_opt;
static long rounds = 1;
static double warmup_s = 1, measure_s = 5, timeout_s = 30;
static long max_log = 1000000;
static Target targets[MAX_TARGETS];
static int ntargets;
static Target probes[MAX_TARGETS];      /* -A */
static int nprobes;

/* ---- time and random numbers ------------------------------------------- */

static struct timespec t0;

/* Nanoseconds since the program started. */
static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)(ts.tv_sec - t0.tv_sec) * NS + (ts.tv_nsec - t0.tv_nsec);
}

typedef struct {
    uint64_t s;
} Rng;

static uint64_t splitmix64(Rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* An exponential gap in seconds for @rate events a second. */
static double exp_gap(Rng *r, double rate)
{
    double u = (splitmix64(r) >> 11) * (1.0 / 9007199254740992.0);

    return -log1p(-u) / rate;   /* u in [0, 1): finite */
}

/* ---- blade names ------------------------------------------------------- */

static char blade_names[MAX_BLADES][NAME_MAX_LEN + 1];
static int nblades;

/* The index of @name (@len bytes), added if new; -1 if the table is full. */
static int blade_index(const char *name, size_t len)
{
    for (int i = 0; i < nblades; i++) {
        if (strlen(blade_names[i]) == len &&
            !memcmp(blade_names[i], name, len)) {
            return i;
        }
    }
    if (nblades == MAX_BLADES) {
        return -1;
    }
    memcpy(blade_names[nblades], name, len);
    blade_names[nblades][len] = 0;
    return nblades++;
}

/* ---- the log ----------------------------------------------------------- */

/* Failure reasons; a fail's reason >= 100 is an HTTP status (httpNNN). */
enum {
    F_REFUSED, F_RESET, F_TIMEOUT, F_UNREACH, F_CLOSED, F_BADHTTP,
    F_NOLENGTH, F_TOOLARGE, F_NOBLADE, F_TOOMANY, F_SOCKET, F_ERROR,
};
static const char *const reason_names[] = {
    [F_REFUSED] = "refused", [F_RESET] = "reset", [F_TIMEOUT] = "timeout",
    [F_UNREACH] = "unreachable", [F_CLOSED] = "closed",
    [F_BADHTTP] = "badhttp", [F_NOLENGTH] = "nolength",
    [F_TOOLARGE] = "toolarge", [F_NOBLADE] = "noblade",
    [F_TOOMANY] = "toomany", [F_SOCKET] = "socket", [F_ERROR] = "error",
};

#define FAIL_MARK UINT32_MAX

typedef struct {
    int64_t due, start, end;
    uint32_t conn;
    uint32_t req;               /* for a fail: its reason */
    uint32_t blade;             /* FAIL_MARK: a failed connection */
} Entry;

typedef struct {
    int target, round;
    int64_t start;
    size_t first;               /* its first entry */
} PhaseRec;

static Entry *entries;
static size_t nentries, entries_cap;
static PhaseRec *phase_recs;
static size_t nphase_recs;
static unsigned long long n_requests, n_failed, n_dropped;
static unsigned long long n_answered_all;   /* in every phase, for exit 2 */

static void log_entry(const Entry *e)
{
    if (nentries == entries_cap) {
        size_t cap = entries_cap ? entries_cap * 2 : 4096;
        Entry *p;

        if (cap > (size_t)max_log) {
            cap = max_log;
        }
        p = cap > entries_cap ? realloc(entries, cap * sizeof(*p)) : NULL;
        if (!p) {
            n_dropped++;
            return;
        }
        entries = p;
        entries_cap = cap;
    }
    entries[nentries++] = *e;
}

/* ---- connections ------------------------------------------------------- */

/*
 * C_CLOSING: the last answer is in; waiting for the server's end of the
 * connection before closing it, so that the server closes first and the
 * TIME_WAIT state (and its port) is the server's, not this client's.
 */
enum { C_FREE, C_CONNECTING, C_SENDING, C_READING, C_CLOSING };

typedef struct {
    int fd;
    int state;
    const Target *to;
    int slot;                   /* capacity: its closed-loop slot; -W: its
                                   -A address, -1 for TARGET 1 */
    uint32_t id;
    long req;                   /* the current request */
    long reqs;                  /* requests it carries */
    int64_t due, start, deadline;
    size_t out_len, out_off;
    char out[OUT_MAX];
    char *in;
    size_t in_len, in_cap;
} Conn;

static Conn conns[MAX_CONNS];
static int free_list[MAX_CONNS], nfree;
static int nactive;
static int64_t min_deadline = INT64_MAX;
static int epfd, timer_fd;

/* What the connections are for. */
enum { A_WAIT, A_CAPACITY, A_PHASE };

typedef struct {
    int kind;
    int target, round;
    bool measured;
    /* A_WAIT */
    int64_t next_probe, give_up;
    bool seen[MAX_BLADES];
    int nseen;
    int probe;                  /* the -A address to try next */
    bool probe_done[MAX_TARGETS];   /* a blade answered on it */
    /* A_CAPACITY */
    int64_t end;
    int64_t *slot_next;         /* INT64_MAX: its connection is open */
    unsigned long long answered;
    /* A_PHASE */
    Rng rng;
    double conn_rate, offset;   /* connections/s; the next arrival, in s */
    int64_t start;
    bool arrivals_over;
    uint32_t next_id;
} Activity;

static Activity act;

static void on_answer(Conn *c, int blade, int64_t end)
{
    n_answered_all++;
    switch (act.kind) {
    case A_WAIT:
        if (!act.seen[blade]) {
            act.seen[blade] = true;
            act.nseen++;
        }
        if (c->slot >= 0) {
            act.probe_done[c->slot] = true;
        }
        break;
    case A_CAPACITY:
        if (end <= act.end) {
            act.answered++;
        }
        break;
    case A_PHASE:
        if (act.measured) {
            Entry e = {
                .due = c->due, .start = c->start, .end = end, .conn = c->id,
                .req = c->req, .blade = blade,
            };
            n_requests++;
            log_entry(&e);
        }
        break;
    }
}

/* A connection is over: @reason < 0 when it carried all its requests. */
static void on_done(Conn *c, int reason, int64_t now)
{
    switch (act.kind) {
    case A_CAPACITY:
        act.slot_next[c->slot] = reason < 0 ? now : now + RETRY_NS;
        break;
    case A_PHASE:
        if (act.measured && reason >= 0) {
            Entry e = { .conn = c->id, .req = reason, .blade = FAIL_MARK };
            n_failed++;
            log_entry(&e);
        }
        break;
    }
}

static void conn_end(Conn *c, int reason, int64_t now)
{
    if (c->fd >= 0) {
        close(c->fd);           /* also leaves the epoll set */
    }
    c->fd = -1;
    c->state = C_FREE;
    if (c->in_cap > IN_START) {
        free(c->in);            /* a large answer's buffer is not kept */
        c->in = NULL;
        c->in_cap = 0;
    }
    free_list[nfree++] = c - conns;
    nactive--;
    on_done(c, reason, now);
}

static int errno_reason(int err)
{
    switch (err) {
    case ECONNREFUSED:
        return F_REFUSED;
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
        return F_RESET;
    case ETIMEDOUT:
        return F_TIMEOUT;
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
        return F_UNREACH;
    default:
        return F_ERROR;
    }
}

static void set_events(Conn *c, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = c };

    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void prepare_request(Conn *c)
{
    int n = snprintf(c->out, sizeof(c->out),
                     "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", req_path,
                     c->to->host,
                     c->req == c->reqs - 1 ? "Connection: close\r\n" : "");

    /* The path's length is checked: it fits. */
    c->out_len = n < 0 ? 0 : (size_t)n;
    c->out_off = 0;
    c->in_len = 0;
}

/* Send what is pending of the request; false if the connection ended. */
static bool send_request(Conn *c, int64_t now)
{
    if (c->out_off == 0 && c->req > 0) {
        c->start = now;         /* the first's start is its due time */
    }
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (c->state != C_SENDING) {
                c->state = C_SENDING;
                set_events(c, EPOLLOUT);
            }
            return true;
        }
        if (n <= 0) {
            conn_end(c, n < 0 ? errno_reason(errno) : F_RESET, now);
            return false;
        }
        c->out_off += n;
    }
    if (c->state != C_READING) {
        c->state = C_READING;
        set_events(c, EPOLLIN);
    }
    return true;
}

/* Open a connection to @to; false if there was no room for it. */
static bool conn_open(const Target *to, uint32_t id, long reqs, int64_t due,
                      int64_t timeout, int slot, int64_t now)
{
    struct epoll_event ev = { .events = EPOLLOUT };
    int one = 1, fd, r;
    Conn *c;

    if (!nfree) {
        return false;
    }
    c = &conns[free_list[--nfree]];
    nactive++;
    c->to = to;
    c->id = id;
    c->slot = slot;
    c->req = 0;
    c->reqs = reqs;
    c->due = c->start = due;
    c->deadline = due + timeout;
    c->in_len = 0;
    c->state = C_CONNECTING;
    if (c->deadline < min_deadline) {
        min_deadline = c->deadline;
    }
    prepare_request(c);
    c->fd = fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        0);
    if (fd < 0) {
        conn_end(c, F_SOCKET, now);
        return true;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ev.data.ptr = c;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        conn_end(c, F_SOCKET, now);
        return true;
    }
    r = connect(fd, (const struct sockaddr *)&to->addr, sizeof(to->addr));
    if (r < 0 && errno != EINPROGRESS) {
        conn_end(c, errno_reason(errno), now);
    } else if (r == 0) {
        send_request(c, now);
    }
    return true;
}

static void on_connected(Conn *c, int64_t now)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        err = errno;
    }
    if (err) {
        conn_end(c, errno_reason(err), now);
        return;
    }
    send_request(c, now);
}

/*
 * Check the answer's head (@hlen bytes of @buf): 0 and its body's length
 * in @clen, or the failure reason.
 */
static int parse_head(const char *buf, size_t hlen, size_t *clen)
{
    const char *p = buf, *end = buf + hlen, *eol;
    long long len = -1;
    int status;

    eol = memchr(p, '\n', end - p);
    if (!eol || eol - p < 12 || memcmp(p, "HTTP/1.", 7) ||
        (p[7] != '0' && p[7] != '1') || p[8] != ' ' ||
        p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
        p[11] < '0' || p[11] > '9' || (eol - p > 12 && p[12] != ' ' &&
                                       p[12] != '\r')) {
        return F_BADHTTP;
    }
    status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (status != 200) {
        return status;          /* >= 100: httpNNN */
    }
    for (p = eol + 1;;) {
        HttpField f;
        int got = http_next_field(&p, end, &f);
        long long n;

        if (got == HTTP_FIELD_END) {
            break;
        }
        if (got != HTTP_FIELD_OK) {
            return F_BADHTTP;
        }
        if (http_field_is(&f, "content-length")) {
            if (!http_parse_length(&f, &n) || (len >= 0 && len != n)) {
                return F_BADHTTP;
            }
            len = n;
        } else if (http_field_is(&f, "transfer-encoding")) {
            return F_BADHTTP;   /* a 200 must have a Content-Length */
        }
    }
    if (len < 0) {
        return F_NOLENGTH;
    }
    if (len > (long long)(ANSWER_MAX - hlen)) {
        return F_TOOLARGE;
    }
    *clen = len;
    return 0;
}

/* The blade of the body "blade=NAME ...": its index, or -1. */
static int body_blade(const char *body, size_t len)
{
    for (size_t i = 0; i + 6 <= len; i++) {
        size_t j;

        if ((i && body[i - 1] != ' ' && body[i - 1] != '\n' &&
             body[i - 1] != '\t') || memcmp(body + i, "blade=", 6)) {
            continue;
        }
        j = i + 6;
        while (j < len && body[j] > ' ' && body[j] < 0x7f) {
            j++;
        }
        if (j < len && body[j] != ' ' && body[j] != '\n' &&
            body[j] != '\r' && body[j] != '\t') {
            return -1;          /* a control or non-ASCII byte */
        }
        if (j == i + 6 || j - i - 6 > NAME_MAX_LEN) {
            return -1;
        }
        return blade_index(body + i + 6, j - i - 6);
    }
    return -1;
}

/* What is buffered: a complete answer?  False if the connection ended. */
static bool check_answer(Conn *c, int64_t now)
{
    size_t hlen = http_head_end(c->in, c->in_len), clen = 0;
    int reason, blade;

    if (!hlen) {
        if (c->in_len >= ANSWER_MAX) {
            conn_end(c, F_TOOLARGE, now);
            return false;
        }
        return true;
    }
    reason = parse_head(c->in, hlen, &clen);
    if (reason) {
        conn_end(c, reason, now);
        return false;
    }
    if (c->in_len < hlen + clen) {
        return true;
    }
    if (c->in_len > hlen + clen) {
        conn_end(c, F_BADHTTP, now);    /* more than was asked for */
        return false;
    }
    blade = body_blade(c->in + hlen, clen);
    if (blade < 0) {
        conn_end(c, F_NOBLADE, now);
        return false;
    }
    on_answer(c, blade, now);
    if (++c->req == c->reqs) {
        c->state = C_CLOSING;
        c->in_len = 0;
        if (c->deadline > now + CLOSING_NS) {
            c->deadline = now + CLOSING_NS;
            if (c->deadline < min_deadline) {
                min_deadline = c->deadline;
            }
        }
        return false;
    }
    prepare_request(c);
    return send_request(c, now);
}

static void on_readable(Conn *c, int64_t now)
{
    /* Bounded: a peer that never stops sending is read again next turn. */
    for (int reads = 0; reads < 16; reads++) {
        ssize_t n;

        if (c->in_len == c->in_cap) {
            size_t cap = c->in_cap ? c->in_cap * 2 : IN_START;
            char *p;

            if (c->in_cap >= ANSWER_MAX) {
                conn_end(c, F_TOOLARGE, now);
                return;
            }
            p = realloc(c->in, cap);
            if (!p) {
                conn_end(c, F_ERROR, now);
                return;
            }
            c->in = p;
            c->in_cap = cap;
        }
        n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (c->state == C_CLOSING) {
            if (n <= 0) {
                conn_end(c, -1, now);   /* all its requests were answered */
                return;
            }
            continue;           /* whatever follows the last answer: dropped */
        }
        if (n <= 0) {
            conn_end(c, n < 0 ? errno_reason(errno) : F_CLOSED, now);
            return;
        }
        c->in_len += n;
        if (!check_answer(c, now) || c->state != C_READING) {
            return;
        }
    }
}

/* Fail connections past their deadline; find the next deadline. */
static void sweep(int64_t now)
{
    min_deadline = INT64_MAX;
    for (int i = 0; i < MAX_CONNS; i++) {
        Conn *c = &conns[i];

        if (c->state == C_FREE) {
            continue;
        }
        if (c->deadline <= now) {
            conn_end(c, c->state == C_CLOSING ? -1 : F_TIMEOUT, now);
        } else if (c->deadline < min_deadline) {
            min_deadline = c->deadline;
        }
    }
}

/* ---- the activities ---------------------------------------------------- */

/*
 * The -A address -W probes next: the next one in turn that no blade has
 * answered on yet; when every one has, all of them again.  -1 without -A:
 * TARGET 1.
 */
static int next_probe(void)
{
    int i;

    if (!nprobes) {
        return -1;
    }
    for (int k = 0; k < nprobes; k++) {
        i = (act.probe + k) % nprobes;
        if (!act.probe_done[i]) {
            act.probe = i + 1;
            return i;
        }
    }
    /* A blade answered on each, and still too few blades. */
    memset(act.probe_done, 0, sizeof(act.probe_done));
    i = act.probe % nprobes;
    act.probe = i + 1;
    return i;
}

/* Start what is due; returns when the next thing is due (INT64_MAX: none). */
static int64_t tick(int64_t now)
{
    int64_t next = INT64_MAX;

    switch (act.kind) {
    case A_WAIT:
        if (!nactive && now >= act.next_probe) {
            int i = next_probe();

            conn_open(i < 0 ? &targets[0] : &probes[i], 0, 1, now,
                      WAIT_TIMEOUT_NS, i, now);
            act.next_probe = now + WAIT_GAP_NS;
        }
        /* A probe open: its deadline (200 ms) comes before anything. */
        if (!nactive) {
            next = act.next_probe < act.give_up ? act.next_probe :
                   act.give_up;
        }
        break;
    case A_CAPACITY:
        for (long i = 0; i < cap_conns && now < act.end; i++) {
            if (act.slot_next[i] <= now) {
                act.slot_next[i] = INT64_MAX;
                if (!conn_open(&targets[cap_target], 0, reqs_per_conn, now,
                               (int64_t)(timeout_s * NS), i, now)) {
                    act.slot_next[i] = now + RETRY_NS;
                }
            }
        }
        for (long i = 0; i < cap_conns && now < act.end; i++) {
            if (act.slot_next[i] < next) {
                next = act.slot_next[i];
            }
        }
        break;
    case A_PHASE:
        while (!act.arrivals_over) {
            int64_t due = act.start + (int64_t)(act.offset * NS);

            if (due > now) {
                next = due;
                break;
            }
            if (!conn_open(&targets[act.target], act.next_id, reqs_per_conn,
                           due, (int64_t)(timeout_s * NS), 0, now) &&
                act.measured) {
                Entry e = { .conn = act.next_id, .req = F_TOOMANY,
                            .blade = FAIL_MARK };
                n_failed++;
                log_entry(&e);
            }
            act.next_id++;
            act.offset += exp_gap(&act.rng, act.conn_rate);
            act.arrivals_over = act.offset > (act.measured ? measure_s :
                                              warmup_s);
        }
        break;
    }
    return next < min_deadline ? next : min_deadline;
}

static bool finished(int64_t now)
{
    switch (act.kind) {
    case A_WAIT:
        return act.nseen >= wait_blades || (now >= act.give_up && !nactive);
    case A_CAPACITY:
        return now >= act.end && !nactive;
    default:
        return act.arrivals_over && !nactive;
    }
}

static void arm_timer(int64_t when)
{
    struct itimerspec its = { 0 };

    if (when != INT64_MAX) {
        int64_t abs_ns = (int64_t)t0.tv_sec * NS + t0.tv_nsec + when;

        its.it_value.tv_sec = abs_ns / NS;
        its.it_value.tv_nsec = abs_ns % NS;
        if (!its.it_value.tv_sec && !its.it_value.tv_nsec) {
            its.it_value.tv_nsec = 1;   /* zero would disarm it */
        }
    }
    timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Close what is still open, without counting it (-W's last probe). */
static void abandon_all(void)
{
    for (int i = 0; i < MAX_CONNS; i++) {
        Conn *c = &conns[i];

        if (c->state != C_FREE) {
            close(c->fd);
            c->fd = -1;
            c->state = C_FREE;
            free_list[nfree++] = i;
            nactive--;
        }
    }
    min_deadline = INT64_MAX;
}

/* Run the current activity to its end. */
static void run(void)
{
    struct epoll_event evs[64];

    for (;;) {
        int64_t now = now_ns(), next;
        int n;

        if (now >= min_deadline) {
            sweep(now);
        }
        next = tick(now);
        if (finished(now)) {
            abandon_all();
            return;
        }
        /* Something already due: only look at the sockets. */
        if (next > now) {
            arm_timer(next);
        }
        n = epoll_wait(epfd, evs, 64, next > now ? -1 : 0);
        if (n < 0 && errno != EINTR) {
            perror("blade-loadgen: epoll_wait");
            exit(1);
        }
        now = now_ns();
        for (int i = 0; i < n; i++) {
            Conn *c = evs[i].data.ptr;

            if (!c) {
                uint64_t ticks;

                if (read(timer_fd, &ticks, sizeof(ticks)) < 0) {
                    /* EAGAIN: already read */
                }
                continue;
            }
            if (c->state == C_FREE) {
                continue;       /* ended earlier in this batch */
            }
            if (c->state == C_CONNECTING) {
                on_connected(c, now);
            } else if (c->state == C_SENDING) {
                send_request(c, now);
            } else {
                on_readable(c, now);
            }
        }
    }
}

static void run_wait(void)
{
    memset(&act, 0, sizeof(act));
    act.kind = A_WAIT;
    act.give_up = now_ns() + (int64_t)(wait_s * NS);
    run();
    if (act.nseen < wait_blades) {
        fprintf(stderr, "blade-loadgen: -W %ld: %d blade%s answered on ",
                wait_blades, act.nseen, act.nseen == 1 ? "" : "s");
        for (int i = 0; i < (nprobes ? nprobes : 1); i++) {
            fprintf(stderr, "%s%s", i ? "," : "",
                    nprobes ? probes[i].host : targets[0].host);
        }
        fprintf(stderr, " in %g s:", wait_s);
        for (int i = 0; i < nblades; i++) {
            fprintf(stderr, " %s", blade_names[i]);
        }
        fprintf(stderr, "%s\n", nblades ? "" : " none");
        exit(1);
    }
    printf("loadgen-ready: %d blades at %.3f s\n", act.nseen,
           now_ns() / 1e9);
    fflush(stdout);
    if (settle_s > 0) {
        int64_t ns = (int64_t)(settle_s * NS);
        struct timespec ts = { .tv_sec = ns / NS, .tv_nsec = ns % NS };

        while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR) {
            /* the rest of it */
        }
    }
}

static double run_capacity(void)
{
    static int64_t slots[MAX_CONNS];

    memset(&act, 0, sizeof(act));
    act.kind = A_CAPACITY;
    act.slot_next = slots;
    for (long i = 0; i < cap_conns; i++) {
        slots[i] = 0;
    }
    act.end = now_ns() + (int64_t)(cap_s * NS);
    run();
    printf("capacity_rps: %.2f\n", act.answered / cap_s);
    fflush(stdout);
    return act.answered / cap_s;
}

static void run_phase(int target, int round, bool measured, double rate)
{
    memset(&act, 0, sizeof(act));
    act.kind = A_PHASE;
    act.target = target;
    act.round = round;
    act.measured = measured;
    act.rng.s = seed + 1000ULL * round + (measured ? 1 : 0);
    act.conn_rate = rate / reqs_per_conn;
    act.start = now_ns();
    act.offset = exp_gap(&act.rng, act.conn_rate);
    act.arrivals_over = act.offset > (measured ? measure_s : warmup_s);
    if (measured) {
        PhaseRec *p = &phase_recs[nphase_recs++];

        p->target = target;
        p->round = round;
        p->start = act.start;
        p->first = nentries;
    }
    run();
}

/* ---- output ------------------------------------------------------------ */

static void print_log(void)
{
    for (size_t p = 0; p < nphase_recs; p++) {
        const PhaseRec *ph = &phase_recs[p];
        size_t last = p + 1 < nphase_recs ? phase_recs[p + 1].first : nentries;

        printf("phase %d %d %lld\n", ph->target, ph->round,
               (long long)ph->start);
        for (size_t i = ph->first; i < last; i++) {
            const Entry *e = &entries[i];

            if (e->blade != FAIL_MARK) {
                printf("req %d %d %u %u %s %lld %lld %lld\n", ph->target,
                       ph->round, e->conn, e->req, blade_names[e->blade],
                       (long long)e->due, (long long)e->start,
                       (long long)e->end);
            } else if (e->req >= 100) {
                printf("fail %d %d %u http%u\n", ph->target, ph->round,
                       e->conn, e->req);
            } else {
                printf("fail %d %d %u %s\n", ph->target, ph->round, e->conn,
                       reason_names[e->req]);
            }
        }
    }
    printf("loadgen-done: requests %llu failed %llu log_dropped %llu\n",
           n_requests, n_failed, n_dropped);
    if (fflush(stdout) || ferror(stdout)) {
        perror("blade-loadgen: writing the log");
        exit(1);
    }
}

/* ---- arguments --------------------------------------------------------- */

/* A bad argument: one line, exit 1. */
static void __attribute__((format(printf, 1, 2), noreturn))
bad(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "blade-loadgen: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (-h for usage)\n");
    exit(1);
}

static long parse_long(const char *s, long lo, long hi, const char *opt)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        bad("%s needs a whole number from %ld to %ld, got '%s'", opt, lo, hi,
            s);
    }
    return v;
}

/* A number in (lo, hi], or [lo, hi] when @lo_ok. */
static double parse_double(const char *s, double lo, bool lo_ok, double hi,
                           const char *opt)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v > hi ||
        (lo_ok ? v < lo : v <= lo)) {
        bad("%s needs a number %s %g to %g, got '%s'", opt,
            lo_ok ? "from" : "above", lo, hi, s);
    }
    return v;
}

/* @s, IPv4[:PORT], into @t; @what names it in an error. */
static void parse_target(const char *s, Target *t, const char *what)
{
    char ip[20];
    const char *colon = strchr(s, ':');
    size_t len = colon ? (size_t)(colon - s) : strlen(s);
    long port = DEFAULT_PORT;

    memset(t, 0, sizeof(*t));
    t->addr.sin_family = AF_INET;
    if (len >= sizeof(ip)) {
        bad("bad %s '%s': not IPv4[:PORT]", what, s);
    }
    memcpy(ip, s, len);
    ip[len] = 0;
    if (inet_pton(AF_INET, ip, &t->addr.sin_addr) != 1) {
        bad("bad %s '%s': not IPv4[:PORT]", what, s);
    }
    if (colon) {
        char *end;

        errno = 0;
        port = strtol(colon + 1, &end, 10);
        if (errno || end == colon + 1 || *end || port < 1 || port > 65535) {
            bad("bad %s '%s': the port must be from 1 to 65535", what, s);
        }
    }
    t->addr.sin_port = htons(port);
    snprintf(t->host, sizeof(t->host), "%s:%ld", ip, port);
}

static void parse_args(int argc, char **argv)
{
    char *end;
    int opt;

    while ((opt = getopt(argc, argv,
                         ":p:r:s:W:T:A:S:c:C:K:f:R:n:w:m:t:L:h")) != -1) {
        switch (opt) {
        case 'p':
            req_path = optarg;
            if (optarg[0] != '/' || strlen(optarg) > PATH_MAX_LEN) {
                bad("-p needs a path that starts with / (at most 1024 "
                    "bytes), got '%s'", optarg);
            }
            for (const char *q = optarg; *q; q++) {
                if (*q <= ' ' || *q >= 0x7f) {
                    bad("-p: the path '%s' has a space, control or non-ASCII "
                        "byte", optarg);
                }
            }
            break;
        case 'r':
            reqs_per_conn = parse_long(optarg, 1, 100000, "-r");
            break;
        case 's':
            errno = 0;
            seed = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-') {
                bad("-s needs a whole number from 0 to 2^64-1, got '%s'",
                    optarg);
            }
            break;
        case 'W':
            wait_blades = parse_long(optarg, 0, MAX_BLADES, "-W");
            break;
        case 'T':
            wait_s = parse_double(optarg, 0, false, 86400, "-T");
            break;
        case 'S':
            settle_s = parse_double(optarg, 0, true, 86400, "-S");
            break;
        case 'A':
            if (nprobes == MAX_TARGETS) {
                bad("at most 64 -A addresses");
            }
            parse_target(optarg, &probes[nprobes++], "-A address");
            break;
        case 'c':
            cap_s = parse_double(optarg, 0, true, 86400, "-c");
            break;
        case 'C':
            cap_conns = parse_long(optarg, 1, MAX_CONNS, "-C");
            break;
        case 'K':
            cap_target = parse_long(optarg, 1, MAX_TARGETS, "-K") - 1;
            break;
        case 'f':
            fraction = parse_double(optarg, 0, false, 1000, "-f");
            break;
        case 'R':
            rate_opt = parse_double(optarg, 0, false, 1e7, "-R");
            break;
        case 'n':
            rounds = parse_long(optarg, 0, 1000, "-n");
            break;
        case 'w':
            warmup_s = parse_double(optarg, 0, true, 86400, "-w");
            break;
        case 'm':
            measure_s = parse_double(optarg, 0, false, 86400, "-m");
            break;
        case 't':
            timeout_s = parse_double(optarg, 0, false, 86400, "-t");
            break;
        case 'L':
            max_log = parse_long(optarg, 0, 100000000, "-L");
            break;
        case 'h':
            fputs(usage_text, stdout);
            exit(0);
        case ':':
            bad("option -%c needs a value", optopt);
            break;
        default:
            bad("unknown option -%c", optopt);
        }
    }
    if (optind == argc) {
        bad("no TARGET");
    }
    if (fraction && rate_opt) {
        bad("-f and -R exclude each other");
    }
    if (fraction && !cap_s) {
        bad("-f needs -c");
    }
    if (nprobes && !wait_blades) {
        bad("-A needs -W");
    }
    if (settle_s && !wait_blades) {
        bad("-S needs -W");
    }
    if (rounds && !fraction && !rate_opt) {
        bad("give -f FRACTION or -R RATE (or -n 0)");
    }
    if (argc - optind > MAX_TARGETS) {
        bad("at most 64 TARGETs");
    }
    if (cap_target >= argc - optind) {
        bad("-K %d is past the last TARGET (%d)", cap_target + 1,
            argc - optind);
    }
    for (int i = optind; i < argc; i++) {
        parse_target(argv[i], &targets[ntargets++], "TARGET");
    }
}

int main(int argc, char **argv)
{
    static char outbuf[1 << 16];
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    double rate;
    bool tried = false;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
    parse_args(argc, argv);
    rate = rate_opt;
    signal(SIGPIPE, SIG_IGN);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (epfd < 0 || timer_fd < 0 ||
        epoll_ctl(epfd, EPOLL_CTL_ADD, timer_fd, &ev) < 0) {
        perror("blade-loadgen: epoll");
        return 1;
    }
    for (int i = 0; i < MAX_CONNS; i++) {
        conns[i].fd = -1;
        free_list[nfree++] = MAX_CONNS - 1 - i;
    }
    phase_recs = calloc((size_t)rounds * ntargets + 1, sizeof(*phase_recs));
    if (!phase_recs) {
        perror("blade-loadgen");
        return 1;
    }

    if (wait_blades) {
        run_wait();
        tried = true;
    }
    if (cap_s) {
        double cap = run_capacity();

        tried = true;
        if (fraction) {
            rate = fraction * cap;
        }
    }
    if (rounds) {
        printf("rate_rps: %.2f\n", rate);
        fflush(stdout);
        if (rate <= 0) {
            fprintf(stderr, "blade-loadgen: the capacity is 0 (nothing was "
                    "answered on %s): no rate for -f\n",
                    targets[cap_target].host);
            return 2;
        }
        tried = true;
    }
    for (long k = 0; k < rounds; k++) {
        for (int j = 0; j < ntargets; j++) {
            int t = (k + j) % ntargets;

            if (warmup_s > 0) {
                run_phase(t, k, false, rate);
            }
            run_phase(t, k, true, rate);
        }
    }
    print_log();
    return tried && !n_answered_all ? 2 : 0;
}
