#!/usr/bin/env python3
"""Paired benchmark of keel against runc and crun; hack/bench.sh drives it.

Every iteration runs the same steps for each runtime back to back, in an
order that goes through every permutation, so a slow phase of this shared
machine lands on all of them and each follows each other equally often. Medians and ratios come from those pairs; peak RSS is each command's
own (wait4's ru_maxrss, which covers the processes it waited for).

The driver is a child subreaper: a container's init outlives the runtime
command that made it, and pid 1 here reaps orphans late, so the driver
reaps them itself and waits for an exit through a pidfd, never by polling.
"""

import argparse
import itertools
import ctypes
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

PR_SET_CHILD_SUBREAPER = 36
LAUNCHER = os.environ.get("BENCH_LAUNCHER", "maxrss")
LIFECYCLE = ["run", "run +seccomp", "create", "start", "state", "kill", "delete",
             "delete --force"]


class Runtime:
    def __init__(self, name, binary, work):
        self.name = name
        self.binary = binary
        self.root = os.path.join(work, "state-" + name)
        self.work = work
        self.base = None
        self.seccomp = None

    def bundle(self, kind, cid):
        """A bundle per container: each gets its own absolute cgroup path
        (an empty or relative one would put runc under the caller's own
        cgroup, which on this machine belongs to its management)."""
        path = os.path.join(self.work, f"{self.name}-{kind}-{cid}")
        if not os.path.exists(path):
            config = json.loads(json.dumps(self.base))
            config["process"]["args"] = ["/bin/sleep", "1000"] if kind == "sleep" else ["/bin/true"]
            if kind == "seccomp":
                config["linux"]["seccomp"] = self.seccomp
            config["linux"]["cgroupsPath"] = f"/keel-bench/{self.name}/{cid}"
            os.makedirs(path)
            with open(os.path.join(path, "config.json"), "w") as f:
                json.dump(config, f)
        return path

    def argv(self, *args):
        return [self.binary, "--root", self.root, *args]

    def timed(self, *args, check=True):
        """Run one command; return (seconds, peak RSS in KiB, CPU seconds).

        The command starts through the small static `maxrss` launcher
        (hack/bench.sh builds it): a child forked from this 17 MiB Python
        would carry Python's resident size in its peak, whatever it execs.
        It also times the command, so Python's own overhead stays
        out of the figures."""
        # stderr goes to a file, not a pipe: a container's init inherits
        # it and would hold a pipe open long after the command returned.
        with tempfile.TemporaryFile(dir=self.work) as err:
            proc = subprocess.Popen([LAUNCHER, *self.argv(*args)], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=err)
            out = proc.stdout.readline()
            proc.stdout.close()
            proc.wait()
            if check and proc.returncode != 0:
                err.seek(0)
                text = err.read().decode(errors="replace").strip()
                sys.exit(f"bench: {self.name} {' '.join(args)} failed: {text}")
        wall_us, rss, cpu_us = (int(x) for x in out.split())
        return wall_us / 1e6, rss, cpu_us / 1e6

    def init_pid(self, cid):
        out = subprocess.run(self.argv("state", cid), capture_output=True, check=True)
        return json.loads(out.stdout)["pid"]


def reap_all():
    """Reap every exited child (inits handed to us as subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def wait_exit(pid):
    """Block until `pid` has exited (a zombie counts), through a pidfd."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([fd], [], [])
    finally:
        os.close(fd)


def base_config(template):
    """The template's config, made the same for every runtime: no
    terminal, no resources, a network namespace."""
    with open(os.path.join(template, "config.json")) as f:
        config = json.load(f)
    config["process"]["terminal"] = False
    config["root"]["path"] = os.path.join(template, "rootfs")
    linux = config["linux"]
    linux.pop("resources", None)
    if not any(ns["type"] == "network" for ns in linux["namespaces"]):
        linux["namespaces"].append({"type": "network"})
    return config


def one_lifecycle(rt, cid, record):
    """run, then create/start/state/kill/delete, then delete --force."""
    record("run", rt.timed("run", "--bundle", rt.bundle("true", cid), cid))
    reap_all()
    # A big profile (podman's default, ~430 syscall names) compiled and
    # loaded: the difference from "run" is its cost.
    record("run +seccomp", rt.timed("run", "--bundle", rt.bundle("seccomp", cid), cid + "s"))
    reap_all()
    record("create", rt.timed("create", "--bundle", rt.bundle("sleep", cid), cid))
    pid = rt.init_pid(cid)
    record("start", rt.timed("start", cid))
    record("state", rt.timed("state", cid))
    record("kill", rt.timed("kill", cid, "KILL"))
    wait_exit(pid)
    reap_all()
    record("delete", rt.timed("delete", cid))
    rt.timed("create", "--bundle", rt.bundle("sleep", cid), cid)
    rt.timed("start", cid)
    record("delete --force", rt.timed("delete", "--force", cid))
    reap_all()


def lifecycle(runtimes, iterations):
    times = {(rt.name, op): [] for rt in runtimes for op in LIFECYCLE}
    rss = {(rt.name, op): [] for rt in runtimes for op in LIFECYCLE}
    cpu = {(rt.name, op): [] for rt in runtimes for op in LIFECYCLE}
    # Every order in turn, so that each runtime follows each other one as
    # often: the first step after another runtime's `delete --force` pays
    # for the kernel's cleanup of what it killed (a network namespace is
    # torn down after its last process is gone), and a plain rotation
    # always put crun right after runc, whose delete waits 100 ms for it.
    orders = list(itertools.permutations(runtimes))
    for i in range(iterations):
        order = orders[i % len(orders)]
        for rt in order:
            def record(op, measured, rt=rt):
                times[(rt.name, op)].append(measured[0])
                rss[(rt.name, op)].append(measured[1])
                cpu[(rt.name, op)].append(measured[2])
            one_lifecycle(rt, f"b{i}", record)
    return times, rss, cpu


def parallel(rt, count, workers):
    """Wall time of create+start of `count` containers, `workers` at a
    time, then delete --force of all of them, also `workers` at a time."""
    ids = [f"p{n}" for n in range(count)]

    def up(cid):
        rt.timed("create", "--bundle", rt.bundle("sleep", cid), cid)
        rt.timed("start", cid)

    def down(cid):
        rt.timed("delete", "--force", cid)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(up, ids))
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(down, ids))
    elapsed = time.perf_counter() - start
    reap_all()
    return elapsed


def scale(rt, counts, samples):
    """Median `list` and `state` times with N created containers."""
    rows, made = [], 0
    for n in counts:
        while made < n:
            rt.timed("create", "--bundle", rt.bundle("sleep", f"s{made}"), f"s{made}")
            made += 1
        lists = [rt.timed("list")[0] for _ in range(samples)]
        states = [rt.timed("state", "s0")[0] for _ in range(samples)]
        rows.append((n, statistics.median(lists), statistics.median(states)))
    for k in range(made):
        rt.timed("delete", "--force", f"s{k}")
    reap_all()
    return rows


def ms(seconds):
    return f"{seconds * 1000:8.2f}"


def report_lifecycle(runtimes, times, rss, cpu):
    names = [rt.name for rt in runtimes]
    table(names, "wall", times)
    print()
    print("CPU time (user+sys, with the processes each command waited for)")
    table(names, "cpu", cpu)
    print()
    print(f"{'peak RSS KiB':<16}" + "".join(f"{n:>11}" for n in names))
    for op in LIFECYCLE:
        print(f"{op:<16}" + "".join(f"{statistics.median(rss[(n, op)]):>11.0f}" for n in names))


def table(names, what, times):
    head = f"{what:<16}" + "".join(f"{n + ' ms':>11}" for n in names)
    ratios = [n for n in names if n != "keel"]
    head += "".join(f"{'keel/' + n:>11}" for n in ratios)
    print(head)
    for op in LIFECYCLE:
        med = {n: statistics.median(times[(n, op)]) for n in names}
        line = f"{op:<16}" + "".join(f"{ms(med[n]):>11}" for n in names)
        line += "".join(f"{med['keel'] / med[n]:>11.2f}" for n in ratios)
        print(line)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True)
    p.add_argument("--template", required=True)
    p.add_argument("--runtime", action="append", required=True, help="NAME=PATH")
    p.add_argument("--iterations", type=int, default=30)
    p.add_argument("--parallel", type=int, default=100, help="containers; 0 skips")
    p.add_argument("--parallel-rounds", type=int, default=3)
    p.add_argument("--scale", default="", help="e.g. 1,100,1000 (keel only)")
    p.add_argument("--seccomp", required=True,
                   help="a config.json whose linux.seccomp is the big profile")
    args = p.parse_args()

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    runtimes = [Runtime(*spec.split("=", 1), args.work) for spec in args.runtime]
    base = base_config(args.template)
    with open(args.seccomp) as f:
        profile = json.load(f)["linux"]["seccomp"]
    for rt in runtimes:
        rt.base = base
        rt.seccomp = profile

    times, rss, cpu = lifecycle(runtimes, args.iterations)
    print(f"{args.iterations} paired iterations, medians")
    report_lifecycle(runtimes, times, rss, cpu)

    if args.parallel:
        walls = {rt.name: [] for rt in runtimes}
        for r in range(args.parallel_rounds):
            for rt in runtimes[r % len(runtimes):] + runtimes[:r % len(runtimes)]:
                walls[rt.name].append(parallel(rt, args.parallel, 8))
        print()
        print(f"{args.parallel} containers, create+start then delete --force, 8 at a time "
              f"(median of {args.parallel_rounds} rounds)")
        med = {n: statistics.median(w) for n, w in walls.items()}
        for n, m in med.items():
            extra = f"  keel/{n} {med['keel'] / m:.2f}" if n != "keel" else ""
            print(f"{n:<6} {m:7.2f} s{extra}")

    if args.scale:
        keel = next(rt for rt in runtimes if rt.name == "keel")
        print()
        print(f"{'containers':>10} {'list ms':>9} {'list us/ctr':>12} {'state ms':>9}")
        for n, lst, st in scale(keel, [int(c) for c in args.scale.split(",")], 15):
            print(f"{n:>10} {ms(lst):>9} {lst * 1e6 / n:>12.1f} {ms(st):>9}")


if __name__ == "__main__":
    main()
