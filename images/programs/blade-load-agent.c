/*
 * blade-load-agent: hands the blade's CPU contention to the blade NIC.
 *
 * Every report interval it reads the CPU pressure "some" total from
 * /proc/pressure/cpu and procs_running from /proc/stat, and sets the
 * blade_nic driver's devlink runtime parameters cpu_pressure (the share of
 * the interval in which a runnable task waited for a CPU, permille) and
 * runnable_tasks (tasks runnable at sampling time, itself excluded) over
 * generic netlink, on every blade_nic PCI function.  The driver sends them
 * to the chassis with its next utilization report (docs/blade-nic.md 16.6).
 *
 *   blade-load-agent [-i MS] [-q]   run until SIGTERM or SIGINT
 *   blade-load-agent -s             print the parameters' values and exit
 *
 * The interval is the NIC's report interval (UTIL_CFG, which the driver
 * shows as util_cfg_interval_ms in ethtool -S), learnt at start; -i sets
 * it instead.  Each interval costs one read of each /proc file, one
 * netlink message batch and its acknowledgements: no fork, no allocation.
 * Failures (no NIC, no driver, a driver without the parameters) are said
 * once on stderr and retried with a growing delay, up to 10 s.
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <linux/devlink.h>
#include <linux/ethtool.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/sockios.h>

#define PROG "blade-load-agent"
#define DRIVER_DIR "/sys/bus/pci/drivers/blade_nic"
#define DEFAULT_INTERVAL_MS 100     /* the NIC's default util-interval */
#define MAX_INTERVAL_MS 60000       /* the NIC's largest util-interval */
#define MAX_BACKOFF_MS 10000
#define RESCAN_MS 10000             /* look for NICs again this often */
#define MAX_NICS 8
#define PSI_MAX 1000                /* cpu_pressure: permille */
#define RUNNABLE_MAX 1023           /* runnable_tasks: 10 bits */
/*
 * DEVLINK_ATTR_PARAM_TYPE takes the kernel's netlink attribute type of the
 * value (NLA_U16 for a u16 parameter), which the 6.1 uapi headers do not
 * export; later ones call it DEVLINK_VAR_ATTR_TYPE_U16, with the same value.
 */
#define PARAM_TYPE_U16 2

struct nic {
    char pci[32];       /* DEVLINK_ATTR_DEV_NAME, e.g. 0000:00:03.0 */
};

struct sample {
    struct timespec at;
    unsigned long long psi_some_us;
    unsigned procs_running;
};

static volatile sig_atomic_t stop;
static int nl = -1;                 /* generic netlink socket */
static uint16_t devlink_family;     /* 0: not resolved yet */
static uint32_t seq;
static struct nic nics[MAX_NICS];
static int n_nics;
static char last_error[256];        /* said once, until it changes */
static bool quiet;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Say a failure once: again only when it changes or after a recovery. */
static void fail(const char *fmt, ...)
{
    char msg[sizeof(last_error)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (strcmp(msg, last_error) != 0) {
        fprintf(stderr, PROG ": %s (retrying quietly)\n", msg);
        snprintf(last_error, sizeof(last_error), "%s", msg);
    }
}

static void recovered(void)
{
    if (last_error[0]) {
        fprintf(stderr, PROG ": working again\n");
        last_error[0] = '\0';
    }
}

/* ---- /proc ------------------------------------------------------------ */

/* One read of a /proc file from its start; NUL-terminated.  -1 on error. */
static ssize_t read_proc(int fd, char *buf, size_t size)
{
    ssize_t n = pread(fd, buf, size - 1, 0);

    if (n < 0) {
        return -1;
    }
    buf[n] = '\0';
    return n;
}

static bool parse_psi_some(const char *text, unsigned long long *total)
{
    const char *p = strstr(text, "some ");

    if (p != text && (!p || p[-1] != '\n')) {
        return false;
    }
    p = strstr(p, "total=");
    if (!p) {
        return false;
    }
    errno = 0;
    *total = strtoull(p + 6, NULL, 10);
    return errno == 0;
}

static bool parse_procs_running(const char *text, unsigned *running)
{
    const char *p = strstr(text, "\nprocs_running ");
    unsigned long v;

    if (!p) {
        return false;
    }
    errno = 0;
    v = strtoul(p + 15, NULL, 10);
    if (errno || v > UINT_MAX) {
        return false;
    }
    *running = v;
    return true;
}

static bool take_sample(int psi_fd, int stat_fd, struct sample *s)
{
    /* /proc/stat grows with the interrupt count: 64 KiB covers it. */
    static char buf[65536];
    ssize_t n;

    clock_gettime(CLOCK_MONOTONIC, &s->at);
    if (read_proc(psi_fd, buf, sizeof(buf)) < 0 ||
        !parse_psi_some(buf, &s->psi_some_us)) {
        fail("cannot read the CPU pressure total from /proc/pressure/cpu");
        return false;
    }
    n = read_proc(stat_fd, buf, sizeof(buf));
    if (n < 0 || (size_t)n == sizeof(buf) - 1 ||
        !parse_procs_running(buf, &s->procs_running)) {
        fail("cannot read procs_running from /proc/stat");
        return false;
    }
    return true;
}

static long long elapsed_us(const struct timespec *a, const struct timespec *b)
{
    return (b->tv_sec - a->tv_sec) * 1000000LL +
           (b->tv_nsec - a->tv_nsec) / 1000;
}

/* The figures of the interval between two samples. */
static void figures(const struct sample *prev, const struct sample *cur,
                    uint16_t *psi, uint16_t *runnable)
{
    long long dt = elapsed_us(&prev->at, &cur->at);
    unsigned long long waited = cur->psi_some_us - prev->psi_some_us;
    unsigned long long permille;

    if (cur->psi_some_us < prev->psi_some_us || dt <= 0) {
        waited = 0;
        dt = 1;
    }
    permille = (waited * 1000 + (unsigned long long)dt / 2) /
               (unsigned long long)dt;
    *psi = permille > PSI_MAX ? PSI_MAX : permille;
    /* procs_running counts this process, which is running as it reads. */
    *runnable = cur->procs_running > 1 ? cur->procs_running - 1 : 0;
    if (*runnable > RUNNABLE_MAX) {
        *runnable = RUNNABLE_MAX;
    }
}

/* ---- the NICs --------------------------------------------------------- */

static bool is_pci_name(const char *s)
{
    unsigned dom, bus, dev, fn;
    char end;

    return sscanf(s, "%x:%x:%x.%x%c", &dom, &bus, &dev, &fn, &end) == 4;
}

static int cmp_nic(const void *a, const void *b)
{
    return strcmp(((const struct nic *)a)->pci, ((const struct nic *)b)->pci);
}

/* The PCI functions bound to blade_nic, in address order. */
static int scan_nics(void)
{
    DIR *d = opendir(DRIVER_DIR);
    struct dirent *e;

    n_nics = 0;
    if (!d) {
        return -errno;
    }
    while ((e = readdir(d)) && n_nics < MAX_NICS) {
        if (is_pci_name(e->d_name) &&
            strlen(e->d_name) < sizeof(nics[0].pci)) {
            snprintf(nics[n_nics].pci, sizeof(nics[0].pci), "%s", e->d_name);
            n_nics++;
        }
    }
    closedir(d);
    qsort(nics, n_nics, sizeof(nics[0]), cmp_nic);
    return n_nics;
}

/* The network interface of a PCI function, from sysfs. */
static bool nic_ifname(const char *pci, char *name, size_t size)
{
    char path[128];
    struct dirent *e;
    bool found = false;
    DIR *d;

    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/net", pci);
    d = opendir(path);
    if (!d) {
        return false;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] != '.' && strlen(e->d_name) < size) {
            snprintf(name, size, "%s", e->d_name);
            found = true;
            break;
        }
    }
    closedir(d);
    return found;
}

/*
 * The NIC's report interval: the driver shows the device's UTIL_CFG
 * interval as util_cfg_interval_ms among its ethtool statistics.
 * -1 if it cannot be read.
 */
static long nic_interval_ms(const char *pci)
{
    struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
    struct ethtool_gstrings *strings = NULL;
    struct ethtool_stats *stats = NULL;
    struct ifreq ifr;
    long found = -1;
    uint32_t i, n;
    int fd;

    memset(&ifr, 0, sizeof(ifr));
    if (!nic_ifname(pci, ifr.ifr_name, sizeof(ifr.ifr_name))) {
        return -1;
    }
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    ifr.ifr_data = (void *)&info;
    if (ioctl(fd, SIOCETHTOOL, &ifr) < 0 || info.n_stats == 0 ||
        info.n_stats > 4096) {
        goto out;
    }
    n = info.n_stats;
    strings = calloc(1, sizeof(*strings) + (size_t)n * ETH_GSTRING_LEN);
    stats = calloc(1, sizeof(*stats) + (size_t)n * sizeof(uint64_t));
    if (!strings || !stats) {
        goto out;
    }
    strings->cmd = ETHTOOL_GSTRINGS;
    strings->string_set = ETH_SS_STATS;
    strings->len = n;
    ifr.ifr_data = (void *)strings;
    if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
        goto out;
    }
    stats->cmd = ETHTOOL_GSTATS;
    stats->n_stats = n;
    ifr.ifr_data = (void *)stats;
    if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
        goto out;
    }
    for (i = 0; i < n && i < strings->len && i < stats->n_stats; i++) {
        const char *name = (const char *)strings->data + i * ETH_GSTRING_LEN;

        if (strncmp(name, "util_cfg_interval_ms", ETH_GSTRING_LEN) == 0) {
            found = stats->data[i] > MAX_INTERVAL_MS ? -1 : (long)stats->data[i];
            break;
        }
    }
out:
    free(strings);
    free(stats);
    close(fd);
    return found;
}

/* ---- generic netlink -------------------------------------------------- */

struct msg {
    union {
        struct nlmsghdr nlh;
        char buf[1024];
    } u;
};

static struct genlmsghdr *msg_init(struct msg *m, uint16_t type, uint16_t flags,
                                   uint8_t cmd, uint8_t version)
{
    struct genlmsghdr *g;

    memset(m->u.buf, 0, NLMSG_SPACE(GENL_HDRLEN));
    m->u.nlh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
    m->u.nlh.nlmsg_type = type;
    m->u.nlh.nlmsg_flags = NLM_F_REQUEST | flags;
    m->u.nlh.nlmsg_seq = ++seq;
    g = NLMSG_DATA(&m->u.nlh);
    g->cmd = cmd;
    g->version = version;
    return g;
}

static void msg_put(struct msg *m, uint16_t type, const void *data,
                    size_t len)
{
    struct nlattr *a = (struct nlattr *)(m->u.buf +
                                         NLMSG_ALIGN(m->u.nlh.nlmsg_len));

    /* The callers put a few short attributes: far from the buffer's end. */
    a->nla_type = type;
    a->nla_len = NLA_HDRLEN + len;
    memcpy((char *)a + NLA_HDRLEN, data, len);
    memset((char *)a + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
    m->u.nlh.nlmsg_len = NLMSG_ALIGN(m->u.nlh.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static void msg_put_str(struct msg *m, uint16_t type, const char *s)
{
    msg_put(m, type, s, strlen(s) + 1);
}

static void msg_put_u8(struct msg *m, uint16_t type, uint8_t v)
{
    msg_put(m, type, &v, sizeof(v));
}

static void msg_put_u16(struct msg *m, uint16_t type, uint16_t v)
{
    msg_put(m, type, &v, sizeof(v));
}

/* The first attribute of a payload, and the next one; NULL at the end. */
static const struct nlattr *attr_next(const void *base, size_t len,
                                      const struct nlattr *a)
{
    size_t off = a ? (size_t)((const char *)a - (const char *)base) +
                     NLA_ALIGN(a->nla_len) : 0;

    if (off + NLA_HDRLEN > len) {
        return NULL;
    }
    a = (const struct nlattr *)((const char *)base + off);
    if (a->nla_len < NLA_HDRLEN || off + a->nla_len > len) {
        return NULL;
    }
    return a;
}

static const struct nlattr *attr_find(const void *base, size_t len,
                                      uint16_t type)
{
    const struct nlattr *a = NULL;

    while ((a = attr_next(base, len, a))) {
        if ((a->nla_type & NLA_TYPE_MASK) == type) {
            return a;
        }
    }
    return NULL;
}

#define ATTR_DATA(a) ((const char *)(a) + NLA_HDRLEN)
#define ATTR_LEN(a) ((size_t)(a)->nla_len - NLA_HDRLEN)

static int nl_open(void)
{
    struct sockaddr_nl local = { .nl_family = AF_NETLINK };
    /* The kernel answers at once; never wait on it for ever. */
    struct timeval timeout = { .tv_sec = 5 };
    int one = 1;

    nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    if (nl < 0) {
        return -errno;
    }
    /* Error messages from the driver's validation, without the echo. */
    setsockopt(nl, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    setsockopt(nl, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    if (bind(nl, (struct sockaddr *)&local, sizeof(local)) < 0) {
        int err = -errno;

        close(nl);
        nl = -1;
        return err;
    }
    return 0;
}

/* The kernel's error text of an acknowledgement, if it gave one. */
static const char *ack_text(const struct nlmsghdr *h)
{
    const struct nlmsgerr *e = NLMSG_DATA(h);
    const struct nlattr *msg;
    size_t off;

    if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) {
        return NULL;
    }
    off = NLMSG_HDRLEN + sizeof(*e);
    if (!(h->nlmsg_flags & NLM_F_CAPPED)) {
        off += e->msg.nlmsg_len - NLMSG_HDRLEN;
    }
    if (off >= h->nlmsg_len) {
        return NULL;
    }
    msg = attr_find((const char *)h + off, h->nlmsg_len - off,
                    NLMSGERR_ATTR_MSG);
    if (!msg || ATTR_LEN(msg) == 0 || ATTR_DATA(msg)[ATTR_LEN(msg) - 1]) {
        return NULL;
    }
    return ATTR_DATA(msg);
}

/*
 * Send @len bytes of requests, then read until the messages with sequence
 * numbers @first..@last have been answered: by an acknowledgement (or
 * error), or by a reply handed to @on_reply.  Returns 0 or the first
 * negative errno, with its text in @why.
 */
static int nl_transact(const void *req, size_t len, uint32_t first,
                       uint32_t last,
                       void (*on_reply)(const struct nlmsghdr *, void *),
                       void *opaque, char *why, size_t why_size)
{
    static char buf[16384];
    uint32_t answered = 0, want = last - first + 1;
    int result = 0;

    if (send(nl, req, len, 0) < 0) {
        snprintf(why, why_size, "netlink send: %s", strerror(errno));
        return -errno;
    }
    while (answered < want) {
        ssize_t n = recv(nl, buf, sizeof(buf), 0);
        struct nlmsghdr *h;
        size_t left;

        if (n < 0) {
            if (errno == EINTR && !stop) {
                continue;
            }
            snprintf(why, why_size, "netlink receive: %s", strerror(errno));
            return -errno;
        }
        left = n;
        for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, left);
             h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_seq < first || h->nlmsg_seq > last) {
                continue;
            }
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(h);

                if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
                    continue;
                }
                answered++;
                if (e->error && !result) {
                    const char *text = ack_text(h);

                    result = e->error;
                    snprintf(why, why_size, "%s", text ? text :
                             strerror(-e->error));
                }
            } else if (h->nlmsg_type == NLMSG_DONE) {
                answered++;
            } else if (on_reply) {
                on_reply(h, opaque);
                if (!(h->nlmsg_flags & NLM_F_MULTI)) {
                    answered++;
                }
            }
        }
    }
    return result;
}

static void family_reply(const struct nlmsghdr *h, void *opaque)
{
    size_t off = NLMSG_HDRLEN + GENL_HDRLEN;
    const struct nlattr *id;

    if (h->nlmsg_type != GENL_ID_CTRL || h->nlmsg_len < off) {
        return;
    }
    id = attr_find((const char *)h + off, h->nlmsg_len - off,
                   CTRL_ATTR_FAMILY_ID);
    if (id && ATTR_LEN(id) == sizeof(uint16_t)) {
        memcpy(opaque, ATTR_DATA(id), sizeof(uint16_t));
    }
}

static int resolve_devlink(char *why, size_t why_size)
{
    uint16_t id = 0;
    struct msg m;
    int err;

    msg_init(&m, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, 1);
    msg_put_str(&m, CTRL_ATTR_FAMILY_NAME, DEVLINK_GENL_NAME);
    err = nl_transact(&m, m.u.nlh.nlmsg_len, seq, seq, family_reply, &id,
                      why, why_size);
    if (err) {
        snprintf(why + strlen(why), why_size - strlen(why),
                 " (is devlink in this kernel?)");
        return err;
    }
    if (!id) {
        snprintf(why, why_size, "no devlink family id in the reply");
        return -ENOENT;
    }
    devlink_family = id;
    return 0;
}

static void param_msg(struct msg *m, uint8_t cmd, uint16_t flags,
                      const char *pci, const char *name)
{
    msg_init(m, devlink_family, flags, cmd, DEVLINK_GENL_VERSION);
    msg_put_str(m, DEVLINK_ATTR_BUS_NAME, "pci");
    msg_put_str(m, DEVLINK_ATTR_DEV_NAME, pci);
    msg_put_str(m, DEVLINK_ATTR_PARAM_NAME, name);
}

/*
 * Set both parameters of every NIC, in one batch of messages: one send,
 * and the acknowledgements read back.
 */
static int set_figures(uint16_t psi, uint16_t runnable, char *why,
                       size_t why_size)
{
    static char batch[MAX_NICS * 2 * sizeof(struct msg)];
    const char *names[2] = { "cpu_pressure", "runnable_tasks" };
    uint16_t values[2] = { psi, runnable };
    uint32_t first = seq + 1;
    size_t len = 0;
    int i, k;

    for (i = 0; i < n_nics; i++) {
        for (k = 0; k < 2; k++) {
            struct msg m;

            param_msg(&m, DEVLINK_CMD_PARAM_SET, NLM_F_ACK, nics[i].pci,
                      names[k]);
            msg_put_u8(&m, DEVLINK_ATTR_PARAM_TYPE, PARAM_TYPE_U16);
            msg_put_u8(&m, DEVLINK_ATTR_PARAM_VALUE_CMODE,
                       DEVLINK_PARAM_CMODE_RUNTIME);
            msg_put_u16(&m, DEVLINK_ATTR_PARAM_VALUE_DATA, values[k]);
            memcpy(batch + len, m.u.buf, m.u.nlh.nlmsg_len);
            len += NLMSG_ALIGN(m.u.nlh.nlmsg_len);
        }
    }
    return nl_transact(batch, len, first, seq, NULL, NULL, why, why_size);
}

/* A PARAM_GET reply: the runtime value of a u16 parameter. */
static void param_reply(const struct nlmsghdr *h, void *opaque)
{
    size_t off = NLMSG_HDRLEN + GENL_HDRLEN;
    const struct nlattr *p, *list, *v = NULL;
    long *out = opaque;

    if (h->nlmsg_type != devlink_family || h->nlmsg_len < off) {
        return;
    }
    p = attr_find((const char *)h + off, h->nlmsg_len - off,
                  DEVLINK_ATTR_PARAM);
    list = p ? attr_find(ATTR_DATA(p), ATTR_LEN(p),
                         DEVLINK_ATTR_PARAM_VALUES_LIST) : NULL;
    while (list && (v = attr_next(ATTR_DATA(list), ATTR_LEN(list), v))) {
        const struct nlattr *cmode, *data;
        uint16_t value;

        if ((v->nla_type & NLA_TYPE_MASK) != DEVLINK_ATTR_PARAM_VALUE) {
            continue;
        }
        cmode = attr_find(ATTR_DATA(v), ATTR_LEN(v),
                          DEVLINK_ATTR_PARAM_VALUE_CMODE);
        data = attr_find(ATTR_DATA(v), ATTR_LEN(v),
                         DEVLINK_ATTR_PARAM_VALUE_DATA);
        if (cmode && ATTR_LEN(cmode) == 1 &&
            *(const uint8_t *)ATTR_DATA(cmode) == DEVLINK_PARAM_CMODE_RUNTIME &&
            data && ATTR_LEN(data) == sizeof(value)) {
            memcpy(&value, ATTR_DATA(data), sizeof(value));
            *out = value;
        }
    }
}

/* -s: print each NIC's two parameters as the driver reports them. */
static int show(void)
{
    const char *names[2] = { "cpu_pressure", "runnable_tasks" };
    char why[256] = "";
    int i, k, err;

    if (scan_nics() <= 0) {
        fprintf(stderr, PROG ": no PCI function is bound to blade_nic\n");
        return 1;
    }
    err = resolve_devlink(why, sizeof(why));
    if (err) {
        fprintf(stderr, PROG ": %s\n", why);
        return 1;
    }
    for (i = 0; i < n_nics; i++) {
        printf("pci/%s", nics[i].pci);
        for (k = 0; k < 2; k++) {
            long value = -1;
            struct msg m;

            param_msg(&m, DEVLINK_CMD_PARAM_GET, 0, nics[i].pci, names[k]);
            err = nl_transact(&m, m.u.nlh.nlmsg_len, seq, seq, param_reply,
                              &value, why, sizeof(why));
            if (err || value < 0) {
                printf("\n");
                fprintf(stderr, PROG ": pci/%s %s: %s\n", nics[i].pci,
                        names[k], err ? why : "no runtime value");
                return 1;
            }
            printf(" %s %ld", names[k], value);
        }
        printf("\n");
    }
    return 0;
}

/* ---- main loop -------------------------------------------------------- */

/*
 * Find the NICs and, unless -i gave it, their report interval into @delay;
 * the first success is announced.  0 or a negative errno (said by fail()).
 */
static int find_nics(long interval, long *delay)
{
    static bool announced;
    long learnt;

    if (scan_nics() <= 0) {
        fail("no PCI function is bound to blade_nic (%s)", DRIVER_DIR);
        return -ENODEV;
    }
    learnt = interval ? interval : nic_interval_ms(nics[0].pci);
    if (learnt == 0) {
        fail("pci/%s sends no utilization (its util-interval is 0): "
             "nothing to hand over", nics[0].pci);
        n_nics = 0;
        return -ENODATA;
    }
    *delay = learnt > 0 ? learnt : DEFAULT_INTERVAL_MS;
    if (!announced && !quiet) {
        announced = true;
        fprintf(stderr, PROG ": %d NIC%s from pci/%s, every %ld ms%s\n",
                n_nics, n_nics == 1 ? "" : "s", nics[0].pci, *delay,
                interval ? " (-i)" : learnt > 0 ? " (the NIC's interval)" :
                " (the default: the NIC's interval is unknown)");
    }
    return 0;
}

static void add_ms(struct timespec *t, long ms)
{
    t->tv_sec += ms / 1000;
    t->tv_nsec += (ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: " PROG " [-i MS] [-q]\n"
            "       " PROG " -s\n"
            "Sets the blade_nic devlink parameters cpu_pressure and\n"
            "runnable_tasks every report interval from /proc/pressure/cpu\n"
            "and /proc/stat, until SIGTERM.\n"
            "  -i MS  the interval in ms, 1..%d (default: the NIC's\n"
            "         util_cfg_interval_ms, else %d)\n"
            "  -q     no start-up line\n"
            "  -s     print each NIC's parameters and exit\n",
            MAX_INTERVAL_MS, DEFAULT_INTERVAL_MS);
}

int main(int argc, char **argv)
{
    struct sample prev = { 0 }, cur;
    struct sigaction sa;
    long interval = 0, delay, backoff = 0, since_scan = 0;
    bool have_prev = false, show_only = false;
    struct timespec next, now;
    int psi_fd, stat_fd, opt;
    char why[256];
    char *end;

    while ((opt = getopt(argc, argv, "i:qsh")) != -1) {
        switch (opt) {
        case 'i':
            errno = 0;
            interval = strtol(optarg, &end, 10);
            if (errno || *end || interval < 1 || interval > MAX_INTERVAL_MS) {
                fprintf(stderr, PROG ": -i wants 1..%d ms, not '%s'\n",
                        MAX_INTERVAL_MS, optarg);
                return 2;
            }
            break;
        case 'q':
            quiet = true;
            break;
        case 's':
            show_only = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (nl_open() < 0) {
        fprintf(stderr, PROG ": no generic netlink socket: %s\n",
                strerror(errno));
        return 1;
    }
    if (show_only) {
        return show();
    }

    psi_fd = open("/proc/pressure/cpu", O_RDONLY | O_CLOEXEC);
    if (psi_fd < 0) {
        fprintf(stderr, PROG ": /proc/pressure/cpu: %s (the kernel needs "
                "CONFIG_PSI, and not psi=0)\n", strerror(errno));
        return 1;
    }
    stat_fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
    if (stat_fd < 0) {
        fprintf(stderr, PROG ": /proc/stat: %s\n", strerror(errno));
        return 1;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;     /* no SA_RESTART: sleeps end at once */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    delay = interval ? interval : DEFAULT_INTERVAL_MS;
    /* Say at once what it works on; the loop retries a failure. */
    find_nics(interval, &delay);
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!stop) {
        uint16_t psi, runnable;
        int err = 0;

        if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) &&
            stop) {
            break;
        }
        if (!take_sample(psi_fd, stat_fd, &cur)) {
            have_prev = false;
            err = -EIO;
            goto next;
        }
        if (!have_prev) {
            /* The first interval's figures come one interval later. */
            prev = cur;
            have_prev = true;
            goto next;
        }
        figures(&prev, &cur, &psi, &runnable);
        prev = cur;

        if (n_nics == 0 || since_scan >= RESCAN_MS) {
            since_scan = 0;
            err = find_nics(interval, &delay);
            if (err) {
                goto next;
            }
        }
        if (!devlink_family) {
            err = resolve_devlink(why, sizeof(why));
            if (err) {
                fail("%s", why);
                goto next;
            }
        }
        err = set_figures(psi, runnable, why, sizeof(why));
        if (err) {
            fail("setting cpu_pressure and runnable_tasks on pci/%s%s: %s%s",
                 nics[0].pci, n_nics > 1 ? " and others" : "", why,
                 err == -ENODEV ? " (no devlink instance: a blade_nic "
                 "driver older than its devlink parameters?)" : "");
            /* The driver may have gone: find the NICs again next time. */
            n_nics = 0;
            devlink_family = 0;
        }
next:
        if (err) {
            backoff = backoff ? backoff * 2 : delay;
            if (backoff > MAX_BACKOFF_MS) {
                backoff = MAX_BACKOFF_MS;
            }
            add_ms(&next, backoff);
            since_scan += backoff;
        } else {
            if (have_prev && n_nics) {
                recovered();
            }
            backoff = 0;
            add_ms(&next, delay);
            since_scan += delay;
        }
        /* Late by more than an interval (a stopped VM): start afresh. */
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (elapsed_us(&next, &now) > delay * 1000LL) {
            next = now;
            add_ms(&next, delay);
        }
    }
    close(nl);
    close(psi_fd);
    close(stat_fd);
    return 0;
}
