/*  bench_proc - CPU time and peak memory of the processes under test, from
 *  /proc (Linux).
 *
 *  CPU: utime + stime of /proc/<pid>/stat (every thread of the process).
 *  For a PostgreSQL postmaster the backends are its children: the figure is
 *  the postmaster's own time, plus cutime + cstime (children it has reaped:
 *  a backend that ended during the window is counted there), plus the time
 *  of every live child. A child born during the window counts from zero.
 *  Memory: VmHWM of /proc/<pid>/status, the peak resident set since the
 *  process started (for backends it includes the shared buffers they
 *  touched, so it is not additive).
 */
#include "bench.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Fields of /proc/<pid>/stat after the command: ppid (4), utime (14),
//  stime (15), cutime (16), cstime (17). 0 or -1.
static int s_stat(pid_t pid, pid_t *ppid, uint64_t *own, uint64_t *reaped)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    //  p + 2 is field 3 (state).
    char *save = NULL;
    int field = 3;
    unsigned long long v[18] = {0};
    for (char *tok = strtok_r(p + 2, " ", &save); tok && field <= 17;
         tok = strtok_r(NULL, " ", &save), field++)
        if (field >= 4)
            v[field] = strtoull(tok, NULL, 10);
    if (field <= 17)
        return -1;
    if (ppid)
        *ppid = (pid_t) v[4];
    if (own)
        *own = v[14] + v[15];
    if (reaped)
        *reaped = v[16] + v[17];
    return 0;
}

static long s_hwm_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long kb = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

//  Ticks of p (and its children); with `stop`, also the memory figures.
static uint64_t s_sample(bench_proc_t *p, bool stop)
{
    uint64_t own = 0, reaped = 0;
    if (p->pid <= 0 || s_stat(p->pid, NULL, &own, &reaped) != 0)
        return 0;
    uint64_t total = own;
    if (stop)
        p->hwm_kb = s_hwm_kb(p->pid);
    if (!p->with_children)
        return total;
    total += reaped;
    if (stop) {
        p->children = 0;
        p->child_hwm_max_kb = 0;
    }
    DIR *d = opendir("/proc");
    if (!d)
        return total;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char) e->d_name[0]))
            continue;
        pid_t child = (pid_t) atoi(e->d_name);
        pid_t ppid = 0;
        uint64_t ticks = 0;
        if (s_stat(child, &ppid, &ticks, NULL) != 0 || ppid != p->pid)
            continue;
        total += ticks;
        if (stop) {
            p->children++;
            long kb = s_hwm_kb(child);
            if (kb > p->child_hwm_max_kb)
                p->child_hwm_max_kb = kb;
        }
    }
    closedir(d);
    return total;
}

void bench_proc_start(bench_proc_t *procs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        procs[i].ticks0 = s_sample(&procs[i], false);
        if (procs[i].with_children)
            procs[i].children0 = bench_proc_children(procs[i].pid);
    }
}

int bench_proc_children(pid_t pid)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char) e->d_name[0]))
            continue;
        pid_t ppid = 0;
        if (s_stat((pid_t) atoi(e->d_name), &ppid, NULL, NULL) == 0 && ppid == pid)
            n++;
    }
    closedir(d);
    return n;
}

void bench_proc_stop(bench_proc_t *procs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        procs[i].ticks1 = s_sample(&procs[i], true);
}

double bench_proc_cpu_s(const bench_proc_t *p)
{
    static long hz;
    if (!hz)
        hz = sysconf(_SC_CLK_TCK);
    if (p->ticks1 < p->ticks0)
        return 0;
    return (double) (p->ticks1 - p->ticks0) / (double) (hz > 0 ? hz : 100);
}
