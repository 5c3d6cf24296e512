#!/usr/bin/env python3
"""inventory.py RUN_FOLDER RUNINFO.json OUT.tsv — base-call files per lane.

Fails (exit 2) when a lane RunInfo.xml announces has fewer cycle folders than the run's
cycles, or a cycle folder without base calls: a run folder copied only in part."""
import argparse, json, os, sys

ap = argparse.ArgumentParser()
ap.add_argument("run"); ap.add_argument("runinfo"); ap.add_argument("out")
a = ap.parse_args()
info = json.load(open(a.runinfo))
base = os.path.join(a.run, "Data", "Intensities", "BaseCalls")
problems, rows = [], []
for lane in range(1, info["lanes"] + 1):
    d = os.path.join(base, f"L{lane:03d}")
    cycles = sorted(c for c in os.listdir(d) if c.startswith("C")) if os.path.isdir(d) else []
    files = nbytes = 0
    for c in cycles:
        for name in os.listdir(os.path.join(d, c)):
            if name.endswith((".bcl", ".bcl.gz", ".cbcl")):
                files += 1
                nbytes += os.path.getsize(os.path.join(d, c, name))
    rows.append((lane, len(cycles), files, nbytes))
    if len(cycles) < info["total_cycles"]:
        problems.append(f"lane {lane}: {len(cycles)} cycle folder(s), RunInfo.xml announces {info['total_cycles']}")
    elif files < len(cycles):
        problems.append(f"lane {lane}: {files} base-call file(s) in {len(cycles)} cycle folder(s)")
with open(a.out, "w") as f:
    f.write("lane\tcycles\tfiles\tbytes\n")
    for r in rows:
        f.write("\t".join(map(str, r)) + "\n")
for p in problems:
    print(p, file=sys.stderr)
print(f"{len(rows)} lane(s), {sum(r[2] for r in rows)} base-call file(s), {sum(r[3] for r in rows)} bytes")
sys.exit(2 if problems else 0)
