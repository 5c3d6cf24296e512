#!/usr/bin/env python3
"""runinfo.py RUN_FOLDER OUT.json — the facts of RunInfo.xml as JSON."""
import json, sys
import xml.etree.ElementTree as ET

run_folder, out = sys.argv[1], sys.argv[2]
root = ET.parse(f"{run_folder}/RunInfo.xml").getroot()
run = root.find("Run")
if run is None:
    sys.exit("RunInfo.xml has no <Run> element")
reads = [{"number": int(r.get("Number")), "cycles": int(r.get("NumCycles")), "index": r.get("IsIndexedRead") == "Y"}
         for r in run.find("Reads")]
layout = run.find("FlowcellLayout")
info = {
    "run_id": run.get("Id"),
    "flowcell": run.findtext("Flowcell"),
    "instrument": run.findtext("Instrument"),
    "lanes": int(layout.get("LaneCount")) if layout is not None else 1,
    "reads": reads,
    "total_cycles": sum(r["cycles"] for r in reads),
}
with open(out, "w") as f:
    json.dump(info, f, indent=2)
print(f"run {info['run_id']}: flowcell {info['flowcell']}, {info['lanes']} lane(s), {info['total_cycles']} cycles")
