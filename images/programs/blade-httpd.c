/*
 * blade-httpd: the blade's keep-alive HTTP/1.1 server for balancing runs.
 *
 * It serves the work of /cgi-bin/work (busybox httpd's CGI on port 80)
 * on persistent connections: GET /cgi-bin/work?kb=N hashes N KiB of
 * zeros with MD5, as the CGI's 'head -c | md5sum' does, and answers
 * "blade=NAME kb=N seconds=S md5=HEX" with a Content-Length, keeping the
 * connection open for the next request (HTTP/1.1, or HTTP/1.0 with
 * "Connection: keep-alive").  The CGI also pays for six process starts
 * a request; this server pays only for the hashing.
 *
 * Like nginx, it runs one worker process per online CPU, each an epoll
 * loop over its own connections; the workers share the listening socket,
 * so a new connection goes to a worker that is waiting for work, not to
 * one busy with a request.  A request's CPU time is spent in a
 * long-lived worker, so under CFS a background hog competes with it as
 * it would with a real server's workers, by their weights (nice levels),
 * not as with a freshly woken CGI process.
 *
 * Everything is bounded: a request head and body of at most REQ_MAX
 * bytes; MAX_CONNS connections a worker (a full worker stops accepting,
 * and when all are full new connections wait in the listen backlog until
 * one closes); a request must arrive within HEAD_TIMEOUT_S and an idle
 * connection is closed after IDLE_TIMEOUT_S.  Malformed requests are
 * answered 400 (or 4xx/5xx as fits) and, when the framing is lost,
 * the connection is closed.  A worker that dies is started again.
 *
 * Usage: blade-httpd [-p PORT] [-w WORKERS] [-c CONNS]
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http-head.h"

#define DEFAULT_PORT 8080
#define MAX_WORKERS 64
#define MAX_CONNS 256           /* per worker, default */
#define REQ_MAX 8192            /* request head and body */
#define OUT_MAX 512             /* the largest response */
#define HEAD_TIMEOUT_S 10       /* a started request must be complete by then */
#define IDLE_TIMEOUT_S 60       /* between requests on a kept connection */
#define LINGER_S 2              /* reading what comes after a last answer */
#define KB_MAX 65536            /* as the CGI */
#define KB_DEFAULT 64

/* ---- MD5 (RFC 1321) ---------------------------------------------------- */

typedef struct {
    uint32_t h[4];
    uint64_t len;               /* bytes hashed so far */
} Md5;

static const uint32_t md5_k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee,
    0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
    0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa,
    0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
    0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
    0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05,
    0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039,
    0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
    0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

static const uint8_t md5_shift[4][4] = {
    { 7, 12, 17, 22 }, { 5, 9, 14, 20 }, { 4, 11, 16, 23 }, { 6, 10, 15, 21 },
};

static void md5_init(Md5 *m)
{
    m->h[0] = 0x67452301;
    m->h[1] = 0xefcdab89;
    m->h[2] = 0x98badcfe;
    m->h[3] = 0x10325476;
    m->len = 0;
}

static uint32_t rol32(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

/* One 64-byte block. */
static void md5_block(Md5 *m, const uint8_t *p)
{
    uint32_t w[16], a = m->h[0], b = m->h[1], c = m->h[2], d = m->h[3];
    unsigned i;

    for (i = 0; i < 16; i++) {
        w[i] = p[4 * i] | p[4 * i + 1] << 8 | p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    }
    for (i = 0; i < 64; i++) {
        uint32_t f, t;
        unsigned g;

        switch (i / 16) {
        case 0:
            f = (b & c) | (~b & d);
            g = i;
            break;
        case 1:
            f = (d & b) | (~d & c);
            g = (5 * i + 1) % 16;
            break;
        case 2:
            f = b ^ c ^ d;
            g = (3 * i + 5) % 16;
            break;
        default:
            f = c ^ (b | ~d);
            g = (7 * i) % 16;
            break;
        }
        t = d;
        d = c;
        c = b;
        b = b + rol32(a + f + md5_k[i] + w[g], md5_shift[i / 16][i % 4]);
        a = t;
    }
    m->h[0] += a;
    m->h[1] += b;
    m->h[2] += c;
    m->h[3] += d;
}

/* Whole blocks only: the server hashes KiB multiples. */
static void md5_blocks(Md5 *m, const uint8_t *p, size_t len)
{
    for (size_t off = 0; off + 64 <= len; off += 64) {
        md5_block(m, p + off);
    }
    m->len += len - len % 64;
}

static void md5_final(Md5 *m, char hex[33])
{
    uint8_t pad[64] = { 0x80 };
    uint64_t bits = m->len * 8;

    /* The message is whole blocks: the padding is one more block. */
    for (int i = 0; i < 8; i++) {
        pad[56 + i] = bits >> (8 * i);
    }
    md5_block(m, pad);
    for (int i = 0; i < 16; i++) {
        snprintf(hex + 2 * i, 3, "%02x", (m->h[i / 4] >> (8 * (i % 4))) & 0xff);
    }
}

/* ---- HTTP -------------------------------------------------------------- */

typedef struct Conn {
    int fd;                     /* -1: free */
    bool close_after;           /* close once the response is sent */
    bool draining;              /* answered and shut for writing: reading
                                   and dropping what the peer still sends,
                                   then closing */
    bool out_blocked;           /* waiting for EPOLLOUT */
    time_t since;               /* last request done, or connection opened */
    time_t started;             /* the first byte of the pending request */
    size_t in_len;
    size_t out_len, out_off;
    char in[REQ_MAX];
    char out[OUT_MAX];
} Conn;

typedef struct {
    int status;                 /* 0: a request to serve */
    const char *reason;         /* why not, for the body */
    bool head;                  /* HEAD: no body */
    bool keep_alive;
    bool fatal;                 /* framing lost: close after the answer */
    size_t length;              /* head and body, bytes of Conn.in */
    char target[256];
} Request;

static char host_name[65] = "blade";
static int max_conns = MAX_CONNS;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static time_t now_coarse(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return ts.tv_sec;
}

static bool is_tchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void reject(Request *r, int status, const char *reason, bool fatal)
{
    r->status = status;
    r->reason = reason;
    r->fatal = r->fatal || fatal;
}

/* Does the comma-separated header value hold token @tok? */
static bool has_token(const char *v, size_t len, const char *tok)
{
    size_t n = strlen(tok), i = 0;

    while (i < len) {
        size_t j;

        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            i++;
        }
        j = i;
        while (j < len && v[j] != ',' && v[j] != ' ' && v[j] != '\t') {
            j++;
        }
        if (j - i == n && !strncasecmp(v + i, tok, n)) {
            return true;
        }
        i = j;
    }
    return false;
}

/*
 * Parse the request at the start of @buf (@hlen bytes of head, @len
 * buffered).  Sets r->length when the whole request (with its body) is
 * buffered; leaves it 0 when the body is still to come.
 */
static void parse_request(const char *buf, size_t hlen, size_t len, Request *r)
{
    const char *p = buf, *end = buf + hlen, *eol, *sp1, *sp2;
    bool http11, have_host = false, conn_close = false, conn_keep = false;
    long long clen = -1;
    size_t tlen;

    memset(r, 0, sizeof(*r));
    /* RFC 9112 2.2: ignore empty lines before the request line. */
    while (p < end && (*p == '\r' || *p == '\n')) {
        p++;
    }
    eol = memchr(p, '\n', end - p);
    if (!eol) {
        reject(r, 400, "no request line", true);
        return;
    }
    sp1 = memchr(p, ' ', eol - p);
    sp2 = sp1 ? memchr(sp1 + 1, ' ', eol - sp1 - 1) : NULL;
    if (!sp1 || !sp2 || sp1 == p) {
        reject(r, 400, "malformed request line", true);
        return;
    }
    for (const char *q = p; q < sp1; q++) {
        if (!is_tchar((unsigned char)*q)) {
            reject(r, 400, "malformed method", true);
            return;
        }
    }
    tlen = sp2 - sp1 - 1;
    if (tlen == 0 || sp1[1] != '/') {
        reject(r, 400, "the target must be a path", true);
        return;
    }
    if (tlen >= sizeof(r->target)) {
        reject(r, 414, "target too long", true);
        return;
    }
    for (size_t i = 0; i < tlen; i++) {
        unsigned char c = sp1[1 + i];
        if (c <= ' ' || c >= 0x7f) {
            reject(r, 400, "bad character in the target", true);
            return;
        }
    }
    memcpy(r->target, sp1 + 1, tlen);
    r->target[tlen] = 0;
    {
        size_t vlen = eol - sp2 - 1;
        if (vlen && sp2[vlen] == '\r') {
            vlen--;
        }
        if (vlen == 8 && !memcmp(sp2 + 1, "HTTP/1.1", 8)) {
            http11 = true;
        } else if (vlen == 8 && !memcmp(sp2 + 1, "HTTP/1.0", 8)) {
            http11 = false;
        } else if (vlen == 8 && !memcmp(sp2 + 1, "HTTP/", 5) &&
                   sp2[6] >= '2' && sp2[6] <= '9') {
            reject(r, 505, "HTTP version not supported", true);
            return;
        } else {
            reject(r, 400, "malformed HTTP version", true);
            return;
        }
    }
    if (sp1 - p == 4 && !memcmp(p, "HEAD", 4)) {
        r->head = true;
    } else if (!(sp1 - p == 3 && !memcmp(p, "GET", 3))) {
        reject(r, 405, "only GET and HEAD", false);
    }

    /* Header fields. */
    for (p = eol + 1;;) {
        HttpField f;
        int got = http_next_field(&p, end, &f);

        if (got == HTTP_FIELD_END) {
            break;
        }
        if (got == HTTP_FIELD_FOLDED) {
            reject(r, 400, "obsolete line folding", true);
            return;
        }
        if (got != HTTP_FIELD_OK) {
            reject(r, 400, "malformed header field", true);
            return;
        }
        for (const char *q = f.name; q < f.name_end; q++) {
            if (!is_tchar((unsigned char)*q)) {
                reject(r, 400, "malformed header name", true);
                return;
            }
        }
        for (const char *q = f.value; q < f.value_end; q++) {
            if ((unsigned char)*q < ' ' && *q != '\t') {
                reject(r, 400, "control character in a header", true);
                return;
            }
        }
        if (http_field_is(&f, "host")) {
            if (have_host) {
                reject(r, 400, "more than one Host", true);
                return;
            }
            have_host = true;
        } else if (http_field_is(&f, "connection")) {
            size_t vlen = f.value_end - f.value;

            conn_close |= has_token(f.value, vlen, "close");
            conn_keep |= has_token(f.value, vlen, "keep-alive");
        } else if (http_field_is(&f, "content-length")) {
            long long n;

            if (!http_parse_length(&f, &n)) {
                reject(r, 400, "bad Content-Length", true);
                return;
            }
            if (clen >= 0 && clen != n) {
                reject(r, 400, "conflicting Content-Length", true);
                return;
            }
            clen = n;
        } else if (http_field_is(&f, "transfer-encoding")) {
            /* No chunked bodies: the framing cannot be followed. */
            reject(r, 501, "Transfer-Encoding not supported", true);
            return;
        }
    }
    if (http11 && !have_host) {
        reject(r, 400, "HTTP/1.1 without Host", false);
    }
    r->keep_alive = http11 ? !conn_close : (conn_keep && !conn_close);
    if (clen > (long long)(REQ_MAX - hlen)) {
        reject(r, 413, "request too large", true);
        return;
    }
    if (clen < 0) {
        clen = 0;
    }
    if (hlen + clen <= len) {
        r->length = hlen + clen;    /* the body is read and dropped */
    }
}

/* /cgi-bin/work's query, as the CGI checks it: "", or kb=0..65536. */
static int work_kb(const char *query, const char **why)
{
    long kb = 0;
    size_t n;

    if (!query || !*query) {
        return KB_DEFAULT;
    }
    if (strncmp(query, "kb=", 3)) {
        *why = "usage: /cgi-bin/work?kb=N";
        return -1;
    }
    query += 3;
    n = strlen(query);
    if (n == 0 || n > 5 || strspn(query, "0123456789") != n) {
        *why = "kb must be a number from 0 to 65536";
        return -1;
    }
    kb = strtol(query, NULL, 10);
    if (kb > KB_MAX) {
        *why = "kb must be a number from 0 to 65536";
        return -1;
    }
    return kb;
}

static void do_work(int kb, char *body, size_t size)
{
    static const uint8_t zeros[1024];
    double start = now_s();
    char hex[33];
    Md5 m;

    md5_init(&m);
    for (int i = 0; i < kb; i++) {
        md5_blocks(&m, zeros, sizeof(zeros));
    }
    md5_final(&m, hex);
    snprintf(body, size, "blade=%s kb=%d seconds=%.3f md5=%s\n",
             host_name, kb, now_s() - start, hex);
}

static const char *status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

static void respond(Conn *c, int status, bool head, bool keep,
                    const char *body)
{
    size_t blen = strlen(body);
    int n;

    n = snprintf(c->out, sizeof(c->out),
                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                 "Content-Length: %zu\r\n%sConnection: %s\r\n\r\n%s",
                 status, status_text(status), blen,
                 status == 405 ? "Allow: GET, HEAD\r\n" : "",
                 keep ? "keep-alive" : "close", head ? "" : body);
    c->out_len = n < 0 ? 0 : (size_t)n >= sizeof(c->out) ?
                 sizeof(c->out) - 1 : (size_t)n;
    c->out_off = 0;
    c->close_after = !keep;
}

/* Answer one complete request; fills c->out. */
static void serve(Conn *c, const Request *r)
{
    char body[OUT_MAX / 2], path[sizeof(r->target)], *query;
    const char *why = NULL;
    int kb;

    if (r->status) {
        snprintf(body, sizeof(body), "%s\n", r->reason);
        respond(c, r->status, r->head, r->keep_alive && !r->fatal, body);
        return;
    }
    memcpy(path, r->target, sizeof(path));
    query = strchr(path, '?');
    if (query) {
        *query++ = 0;
    }
    if (strcmp(path, "/cgi-bin/work")) {
        respond(c, 404, r->head, r->keep_alive,
                "not found: this server answers /cgi-bin/work?kb=N\n");
        return;
    }
    kb = work_kb(query, &why);
    if (kb < 0) {
        snprintf(body, sizeof(body), "%s\n", why);
        respond(c, 400, r->head, r->keep_alive, body);
        return;
    }
    do_work(kb, body, sizeof(body));
    respond(c, 200, r->head, r->keep_alive, body);
}

/* ---- the worker's event loop ------------------------------------------- */

static int epfd = -1;
static int listen_fd = -1;
static bool listening;          /* listen_fd is in this worker's epoll set */
static Conn *conns;

/* Accept new connections (or stop: the worker is full). */
static void set_listening(bool on)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

    if (on == listening) {
        return;
    }
    /*
     * Not EPOLLEXCLUSIVE: its wake-up could go to a worker that is
     * full, and the connection would wait for the next one.  Waking
     * every idle worker costs little with one worker per CPU.
     */
    if (epoll_ctl(epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listen_fd,
                  &ev) == 0) {
        listening = on;
    }
}

static void conn_close(Conn *c)
{
    close(c->fd);               /* also leaves the epoll set */
    c->fd = -1;
    set_listening(true);
}

static void want_output(Conn *c, bool on)
{
    struct epoll_event ev = {
        .events = on ? EPOLLOUT : EPOLLIN,
        .data.ptr = c,
    };

    if (c->out_blocked != on &&
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0) {
        c->out_blocked = on;
    }
}

/* Send what is pending; false if the connection was closed. */
static bool flush_out(Conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            want_output(c, true);
            return true;
        }
        if (n <= 0) {
            conn_close(c);
            return false;
        }
        c->out_off += n;
    }
    c->out_len = c->out_off = 0;
    want_output(c, false);
    if (c->close_after) {
        /*
         * A close with unread input sends a reset, which can destroy the
         * answer before the peer reads it (a request too large, say).
         * Shut down writing, drop what still comes, close on the peer's
         * end or after LINGER_S.
         */
        shutdown(c->fd, SHUT_WR);
        c->draining = true;
        c->in_len = 0;
        c->since = now_coarse();
        return false;
    }
    return true;
}

/* Serve the complete requests buffered on @c, one after the other. */
static void process(Conn *c)
{
    while (c->fd >= 0 && !c->draining && !c->out_len) {
        size_t hlen = http_head_end(c->in, c->in_len);
        Request r;

        if (!hlen) {
            if (c->in_len == sizeof(c->in)) {
                memset(&r, 0, sizeof(r));
                reject(&r, 431, "request head too large", true);
                serve(c, &r);
                flush_out(c);
            }
            return;
        }
        parse_request(c->in, hlen, c->in_len, &r);
        if (!r.length && !r.fatal) {
            return;             /* the body is still to come */
        }
        serve(c, &r);
        if (r.fatal) {
            c->in_len = 0;
        } else {
            memmove(c->in, c->in + r.length, c->in_len - r.length);
            c->in_len -= r.length;
        }
        c->since = c->started = now_coarse();
        if (!flush_out(c)) {
            return;
        }
    }
}

static void on_readable(Conn *c)
{
    /* Bounded: a peer that never stops sending is read again next turn. */
    for (int reads = 0; reads < 16; reads++) {
        ssize_t n;

        if (c->draining) {
            c->in_len = 0;      /* dropped */
        }
        if (c->in_len == sizeof(c->in)) {
            break;              /* process() answers or drains it */
        }
        n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        if (n <= 0) {
            /* The peer is gone, or only half-closed: answer what came. */
            process(c);
            if (c->fd >= 0 && !c->out_len) {
                conn_close(c);
            }
            return;
        }
        c->in_len += n;
    }
    process(c);
}

static void on_listen(void)
{
    /* A bounded batch, so that one busy moment cannot starve the rest. */
    for (int i = 0; i < 64; i++) {
        struct epoll_event ev = { .events = EPOLLIN };
        Conn *c = NULL;
        int one = 1, fd;

        for (int j = 0; j < max_conns; j++) {
            if (conns[j].fd < 0) {
                c = &conns[j];
                break;
            }
        }
        if (!c) {
            set_listening(false);       /* full: leave them to the others */
            return;
        }
        fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return;             /* EAGAIN: another worker took it, or none */
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->fd = fd;
        c->in_len = c->out_len = c->out_off = 0;
        c->close_after = c->out_blocked = c->draining = false;
        c->since = now_coarse();
        ev.data.ptr = c;
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            conn_close(c);
        }
    }
}

/* Close connections whose request is late, or idle too long. */
static void sweep(void)
{
    time_t now = now_coarse();

    for (int i = 0; i < max_conns; i++) {
        Conn *c = &conns[i];

        if (c->fd < 0) {
            continue;
        }
        if (c->in_len && now - c->started > HEAD_TIMEOUT_S && !c->out_len) {
            Request r = { 0 };
            reject(&r, 408, "request not complete in time", true);
            serve(c, &r);
            flush_out(c);
            if (c->fd >= 0 && !c->draining) {
                conn_close(c);  /* the peer does not even read */
            }
        } else if (c->draining ? now - c->since > LINGER_S :
                   now - c->since > IDLE_TIMEOUT_S) {
            conn_close(c);
        }
    }
}

static void worker(int lfd)
{
    struct epoll_event evs[64];
    time_t last_sweep = now_coarse();

    conns = calloc(max_conns, sizeof(*conns));
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || epfd < 0) {
        perror("blade-httpd: worker");
        _exit(1);
    }
    for (int i = 0; i < max_conns; i++) {
        conns[i].fd = -1;
    }
    listen_fd = lfd;
    set_listening(true);        /* data.ptr NULL: the listening socket */
    if (!listening) {
        perror("blade-httpd: epoll_ctl");
        _exit(1);
    }
    for (;;) {
        int n = epoll_wait(epfd, evs, 64, 1000);

        for (int i = 0; i < n; i++) {
            Conn *c = evs[i].data.ptr;

            if (!c) {
                on_listen();
            } else if (c->fd < 0) {
                continue;       /* closed earlier in this batch */
            } else if (c->out_blocked) {
                if (flush_out(c)) {
                    process(c); /* requests that came meanwhile */
                }
            } else {
                on_readable(c);
            }
        }
        if (now_coarse() != last_sweep) {
            last_sweep = now_coarse();
            sweep();
        }
    }
}

/* ---- the master -------------------------------------------------------- */

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

static int parse_int(const char *s, int lo, int hi, const char *what)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "blade-httpd: %s must be a number from %d to %d, "
                "got '%s'\n", what, lo, hi, s);
        exit(2);
    }
    return v;
}

/*
 * The master's stop signals are blocked across fork(): a child that took
 * one before it reset the master's handler would only set its own copy of
 * 'stopping', serve on, and leave the master waiting for it forever.
 */
static pid_t start_worker(int lfd)
{
    sigset_t stop_sigs, old;
    pid_t pid;

    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGTERM);
    sigaddset(&stop_sigs, SIGINT);
    sigprocmask(SIG_BLOCK, &stop_sigs, &old);
    pid = fork();
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        sigprocmask(SIG_SETMASK, &old, NULL);
        worker(lfd);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        perror("blade-httpd: fork");
    }
    return pid;
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr = { .sin_family = AF_INET };
    struct sigaction sa = { .sa_handler = on_term };
    pid_t pids[MAX_WORKERS];
    int port = DEFAULT_PORT, nworkers, lfd, opt, one = 1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    nworkers = cpus < 1 ? 1 : cpus > MAX_WORKERS ? MAX_WORKERS : cpus;
    while ((opt = getopt(argc, argv, "p:w:c:h")) != -1) {
        switch (opt) {
        case 'p':
            port = parse_int(optarg, 1, 65535, "PORT");
            break;
        case 'w':
            nworkers = parse_int(optarg, 1, MAX_WORKERS, "WORKERS");
            break;
        case 'c':
            max_conns = parse_int(optarg, 1, 65536, "CONNS");
            break;
        default:
            fprintf(stderr, "usage: blade-httpd [-p PORT (default %d)] "
                    "[-w WORKERS (default: one per CPU)] "
                    "[-c CONNS per worker (default %d)]\n",
                    DEFAULT_PORT, MAX_CONNS);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "blade-httpd: unexpected argument '%s'\n",
                argv[optind]);
        return 2;
    }
    if (gethostname(host_name, sizeof(host_name) - 1) < 0) {
        strcpy(host_name, "blade");
    }
    signal(SIGPIPE, SIG_IGN);

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) {
        perror("blade-httpd: socket");
        return 1;
    }
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(lfd, 1024) < 0) {
        fprintf(stderr, "blade-httpd: port %d: %s\n", port, strerror(errno));
        return 1;
    }

    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    for (int i = 0; i < nworkers; i++) {
        pids[i] = start_worker(lfd);
    }
    while (!stopping) {
        int status;
        pid_t pid = wait(&status);

        if (pid < 0) {
            if (errno == EINTR) {
                continue;
            }
            sleep(1);           /* no child: start the missing ones */
        }
        for (int i = 0; i < nworkers && !stopping; i++) {
            if (pids[i] > 0 && pids[i] != pid) {
                continue;
            }
            if (pids[i] == pid) {
                fprintf(stderr, "blade-httpd: worker %d ended (status "
                        "0x%x); starting another\n", (int)pid, status);
                sleep(1);       /* no tight loop if it keeps dying */
            }
            pids[i] = start_worker(lfd);
        }
    }
    for (int i = 0; i < nworkers; i++) {
        if (pids[i] > 0) {
            kill(pids[i], SIGTERM);
        }
    }
    while (wait(NULL) > 0 || errno == EINTR) {
    }
    return 0;
}
