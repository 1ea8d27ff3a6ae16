/*
 * bladeplane blade NIC: utilization.  The figures the guest writes to
 * UTIL and UTIL_CONT, the host's own measure of the VM's vCPU threads
 * (CPU time, run-queue wait), which of them goes on the lane, and
 * when.  blade-nic-internal.h has the layout of the device's files.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "hw/core/cpu.h"
#include "blade-nic-internal.h"
#include "trace.h"

/* Guest figures count as fresh for this many utilization intervals. */
#define BLADE_NIC_UTIL_FRESH_INTERVALS 3
#define BLADE_NIC_HOST_MAX_THREADS 64

/*
 * A new sample: @cont is its UTIL_CONT-format contention figures with
 * BLADE_NIC_CONT_TX_VALID, or 0 for a sample without them.
 */
static void blade_nic_send_util(BladeNicState *s, unsigned cpu, unsigned irq,
                                uint32_t cont, bool host)
{
    unsigned psi = cont & BLADE_NIC_CONT_PSI_MASK;
    unsigned runnable = (cont & BLADE_NIC_CONT_RUN_MASK) >>
                        BLADE_NIC_CONT_RUN_SHIFT;

    cpu = MIN(cpu, 100);
    irq = MIN(irq, 100);
    s->util_tx = cpu | irq << 8 | (host ? BLADE_NIC_UTIL_TX_HOST : 0);
    s->util_cont_tx = 0;
    trace_blade_nic_util_set(cpu, irq, host);
    if (cont & BLADE_NIC_CONT_TX_VALID) {
        psi = MIN(psi, BLADE_NIC_CONT_PSI_MAX);
        s->util_cont_tx = psi | runnable << BLADE_NIC_CONT_RUN_SHIFT |
                          BLADE_NIC_CONT_TX_VALID |
                          (host ? BLADE_NIC_CONT_TX_HOST : 0);
        trace_blade_nic_util_contention(psi, runnable, host);
    }
    if (!s->lane) {
        return;
    }
    if (cont & BLADE_NIC_CONT_TX_VALID) {
        lane_set_util_contention(s->lane, cpu, irq, psi, runnable, vnow());
    } else {
        lane_set_util(s->lane, cpu, irq, vnow());
    }
    s->util_sets_at_set = lane_stats(s->lane)->tx_util_sets;
}

/*
 * The host-side contention figures of the VM's vCPU threads since the
 * previous call, in UTIL_CONT format with BLADE_NIC_CONT_TX_VALID (0 if
 * /proc cannot tell, or on the first call): pressure is the run-queue
 * wait (schedstat's second field) over the elapsed time, per vCPU thread,
 * in permille, at most 1000; runnable counts vCPU threads in state R.
 */
static uint32_t blade_nic_host_contention(BladeNicState *s)
{
    int seen[BLADE_NIC_HOST_MAX_THREADS];
    int nseen = 0, i;
    unsigned running = 0;
    uint64_t wait_ns = 0;
    int64_t real_ns;
    uint32_t v = 0;
    bool ok = true;
    CPUState *cpu;

    CPU_FOREACH(cpu) {
        g_autofree char *path = NULL, *text = NULL;
        const char *end;
        uint64_t cpu_ns, wait;
        bool dup = false;

        if (!cpu->created || cpu->thread_id <= 0) {
            continue;
        }
        for (i = 0; i < nseen; i++) {
            dup |= seen[i] == cpu->thread_id;
        }
        if (dup || nseen == BLADE_NIC_HOST_MAX_THREADS) {
            continue;
        }
        seen[nseen++] = cpu->thread_id;
        path = g_strdup_printf("/proc/self/task/%d/schedstat", cpu->thread_id);
        if (!g_file_get_contents(path, &text, NULL, NULL) ||
            qemu_strtou64(text, &end, 10, &cpu_ns) < 0 ||
            qemu_strtou64(end, &end, 10, &wait) < 0) {
            ok = false;
            break;
        }
        wait_ns += wait;
        g_clear_pointer(&text, g_free);
        g_clear_pointer(&path, g_free);
        /* the state follows the command name, which may hold spaces */
        path = g_strdup_printf("/proc/self/task/%d/stat", cpu->thread_id);
        if (g_file_get_contents(path, &text, NULL, NULL)) {
            end = strrchr(text, ')');
            if (end && end[1] == ' ' && end[2] == 'R') {
                running++;
            }
        }
    }
    real_ns = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    if (ok && nseen && s->host_last_wait_real_ns &&
        real_ns > s->host_last_wait_real_ns &&
        wait_ns >= s->host_last_wait_ns) {
        uint64_t permille = (wait_ns - s->host_last_wait_ns) * 1000 /
                            (uint64_t)(real_ns - s->host_last_wait_real_ns) /
                            nseen;

        v = MIN(permille, BLADE_NIC_CONT_PSI_MAX) |
            MIN(running, 1023) << BLADE_NIC_CONT_RUN_SHIFT |
            BLADE_NIC_CONT_TX_VALID;
    }
    s->host_last_wait_ns = ok ? wait_ns : 0;
    s->host_last_wait_real_ns = ok ? real_ns : 0;
    return v;
}

/*
 * Busy fraction of the VM's vCPU threads since the previous sample, from
 * their thread CPU clocks (a halted vCPU sleeps and does not count).
 */
static unsigned blade_nic_host_cpu_pct(BladeNicState *s)
{
    pthread_t seen[BLADE_NIC_HOST_MAX_THREADS];
    int nseen = 0, ncpus = 0, i;
    int64_t cpu_ns = 0, real_ns, dcpu, dreal;
    CPUState *cpu;
    unsigned pct = 0;

    CPU_FOREACH(cpu) {
        clockid_t cid;
        struct timespec ts;
        bool dup = false;

        ncpus++;
        if (!cpu->thread) {
            continue;
        }
        for (i = 0; i < nseen; i++) {
            if (pthread_equal(seen[i], cpu->thread->thread)) {
                dup = true;
            }
        }
        if (dup || nseen == BLADE_NIC_HOST_MAX_THREADS) {
            continue;
        }
        seen[nseen++] = cpu->thread->thread;
        if (pthread_getcpuclockid(cpu->thread->thread, &cid) == 0 &&
            clock_gettime(cid, &ts) == 0) {
            cpu_ns += ts.tv_sec * NANOSECONDS_PER_SECOND + ts.tv_nsec;
        }
    }
    real_ns = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    dcpu = cpu_ns - s->host_last_cpu_ns;
    dreal = real_ns - s->host_last_real_ns;
    if (s->host_last_real_ns && dreal > 0 && dcpu > 0 && ncpus > 0) {
        pct = MIN(100, dcpu * 100 / dreal / ncpus);
    }
    s->host_last_cpu_ns = cpu_ns;
    s->host_last_real_ns = real_ns;
    return pct;
}

static bool blade_nic_guest_util_fresh(BladeNicState *s)
{
    int64_t window = (int64_t)s->util_interval_ms * SCALE_MS *
                     BLADE_NIC_UTIL_FRESH_INTERVALS;

    return s->util_written_ns >= 0 && vnow() - s->util_written_ns < window;
}

void blade_nic_util_tick(void *opaque)
{
    BladeNicState *s = opaque;
    unsigned pct;
    uint32_t cont;
    bool was;

    if (!blade_nic_take_due(s)) {
        return;
    }
    pct = blade_nic_host_cpu_pct(s);
    cont = blade_nic_host_contention(s);
    was = guard_enter(s);

    s->util_host = pct;
    trace_blade_nic_util_host(pct);
    if (s->util_source == BLADE_NIC_UTIL_SRC_HOST ||
        (s->util_source == BLADE_NIC_UTIL_SRC_AUTO &&
         !blade_nic_guest_util_fresh(s))) {
        blade_nic_send_util(s, pct, 0, cont, true);
        blade_nic_lane_sync(s);
    }
    timer_mod(s->util_timer, vnow() + (int64_t)s->util_interval_ms * SCALE_MS);
    guard_leave(s, was);
}

void blade_nic_util_write(BladeNicState *s, uint32_t val)
{
    uint32_t cont = s->util_cont_armed ?
                    s->util_cont | BLADE_NIC_CONT_TX_VALID : 0;

    s->util_reg = MIN(val & 0xff, 100) | MIN((val >> 8) & 0xff, 100) << 8;
    s->util_written_ns = vnow();
    /* UTIL_CONT arms its figures for this one sample only */
    s->util_cont_armed = false;
    if (s->util_source != BLADE_NIC_UTIL_SRC_HOST) {
        blade_nic_send_util(s, s->util_reg & 0xff, s->util_reg >> 8, cont,
                            false);
    }
}

void blade_nic_util_cont_write(BladeNicState *s, hwaddr addr,
                               uint32_t val)
{
    unsigned psi = val & BLADE_NIC_CONT_PSI_MASK;

    if (psi > BLADE_NIC_CONT_PSI_MAX) {
        blade_nic_bad(s, "CPU pressure above 1000 permille (clamped)", addr,
                      val);
        psi = BLADE_NIC_CONT_PSI_MAX;
    }
    s->util_cont = psi | (val & BLADE_NIC_CONT_RUN_MASK);
    s->util_cont_armed = true;
}

uint32_t blade_nic_util_tx_read(BladeNicState *s)
{
    uint32_t v = s->util_tx;

    if (s->lane &&
        lane_stats(s->lane)->tx_util_sets > s->util_sets_at_set) {
        v |= BLADE_NIC_UTIL_TX_VALID;
    }
    return v;
}

