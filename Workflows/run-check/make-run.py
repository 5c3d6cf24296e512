#!/usr/bin/env python3
"""Writes a small synthetic Illumina-style run folder, as a sequencer exports it.

  make-run.py --out spool/data/illumina --run 241122_A00123_0042_AHTESTXXXX [--lanes 2] [--cycles 4]
              [--stage copying|rta|complete]

--stage copying: RunInfo.xml and base calls only (the copy is still going on);
        rta:     plus RTAComplete.txt (base calling done, copy not finished);
        complete: plus CopyComplete.txt (the default).
Prints the run folder's path.
"""
import argparse, os, random

ap = argparse.ArgumentParser()
ap.add_argument("--out", required=True)
ap.add_argument("--run", default="241122_A00123_0042_AHTESTXXXX")
ap.add_argument("--lanes", type=int, default=2)
ap.add_argument("--cycles", type=int, default=4)
ap.add_argument("--stage", choices=["copying", "rta", "complete"], default="complete")
a = ap.parse_args()

run = os.path.join(a.out, a.run)
flowcell = a.run.rsplit("_", 1)[-1][1:]
os.makedirs(run, exist_ok=True)
reads = a.cycles // 2
with open(os.path.join(run, "RunInfo.xml"), "w") as f:
    f.write(f"""<?xml version="1.0"?>
<RunInfo Version="6">
  <Run Id="{a.run}" Number="42">
    <Flowcell>{flowcell}</Flowcell>
    <Instrument>A00123</Instrument>
    <Date>11/22/2026 9:00:00 AM</Date>
    <Reads>
      <Read Number="1" NumCycles="{reads}" IsIndexedRead="N"/>
      <Read Number="2" NumCycles="{a.cycles - reads}" IsIndexedRead="N"/>
    </Reads>
    <FlowcellLayout LaneCount="{a.lanes}" SurfaceCount="2" SwathCount="1" TileCount="2"/>
  </Run>
</RunInfo>
""")
rng = random.Random(a.run)
for lane in range(1, a.lanes + 1):
    for cycle in range(1, a.cycles + 1):
        d = os.path.join(run, "Data", "Intensities", "BaseCalls", f"L{lane:03d}", f"C{cycle}.1")
        os.makedirs(d, exist_ok=True)
        for surface in (1, 2):
            with open(os.path.join(d, f"L{lane:03d}_{surface}.cbcl"), "wb") as f:
                f.write(bytes(rng.randrange(256) for _ in range(512)))
if a.stage in ("rta", "complete"):
    with open(os.path.join(run, "RTAComplete.txt"), "w") as f:
        f.write("RTA 3.4.4 completed on 11/22/2026 10:00:00 AM\n")
if a.stage == "complete":
    with open(os.path.join(run, "CopyComplete.txt"), "w") as f:
        f.write("")
print(run)
