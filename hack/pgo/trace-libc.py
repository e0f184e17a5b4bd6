# gdb -q -batch -x hack/pgo/trace-libc.py --args KEEL ARGS...
#
# Print (to $TRACE_OUT, appended) the prebuilt functions a keel command
# runs, which the profile cannot name: glibc's and those of Rust's standard
# library. A one-shot breakpoint on every such function of a static,
# non-stripped keel, followed into no child. hack/pgo/libc-hot.sh drives
# it; the list orders that hot code next to keel's.
import os
import subprocess

import gdb

binary = gdb.current_progspace().filename
out = os.environ["TRACE_OUT"]

# One breakpoint per address: glibc gives one function several names.
first_name = {}
nm = subprocess.run(["nm", "-n", binary], capture_output=True, text=True, check=True)
for line in nm.stdout.splitlines():
    parts = line.split()
    # keel's own crates are profiled (legacy "_ZN" names); Rust's standard
    # library comes prebuilt, unprofiled, with v0 names ("_R").
    if len(parts) == 3 and parts[1] in "tTwWi" and not parts[2].startswith("_ZN"):
        first_name.setdefault(parts[0], parts[2])

for setting in ["pagination off", "confirm off", "breakpoint always-inserted on", "follow-fork-mode parent",
                "detach-on-fork on", "breakpoint pending off"]:
    gdb.execute("set " + setting)

hits = set()


class Once(gdb.Breakpoint):
    def stop(self):
        hits.add(self.fn)
        self.enabled = False
        return False


for addr, name in first_name.items():
    try:
        bp = Once("*0x" + addr, internal=True)
        bp.silent = True
        bp.fn = name
    except (gdb.error, RuntimeError):
        pass  # a name gdb cannot place a breakpoint on

gdb.execute("run")
while gdb.selected_inferior().pid:
    try:
        gdb.execute("continue")
    except gdb.error:
        break
with open(out, "a") as f:
    for name in sorted(hits):
        f.write(name + "\n")
