#!/usr/bin/env python3
"""mapping_stats — what became of the trimmed reads at mapping.

    mapping_stats.py [--min-mapq 20] ALIGNED.sam JUNCTIONS.tsv OUT.tsv

OUT.tsv key<TAB>value: min_mapq, reads, mapped, unmapped, multimapped (MAPQ 0), low_mapq
(other MAPQ below min_mapq), junction_reads, mapping_rate and junction_rate (4 decimals),
forward, reverse (among junction reads), contigs_hit.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qslamlib import (FLAG_UNMAPPED, format_kv, int_arg, read_sam, read_table, run_main,  # noqa: E402
                      write_atomic)


def main():
    parser = argparse.ArgumentParser(description="Mapping statistics.")
    parser.add_argument("--min-mapq", default="20")
    parser.add_argument("sam")
    parser.add_argument("junctions")
    parser.add_argument("out")
    args = parser.parse_args()
    min_mapq = int_arg("--min-mapq", args.min_mapq, 0, 255)
    _, records = read_sam(args.sam)
    junctions = read_table(args.junctions, ["read", "umi", "contig", "strand", "junction"])
    mapped = [r for r in records if not r["flag"] & FLAG_UNMAPPED]
    n = len(records)
    write_atomic(args.out, format_kv([
        ("min_mapq", min_mapq),
        ("reads", n),
        ("mapped", len(mapped)),
        ("unmapped", n - len(mapped)),
        ("multimapped", sum(1 for r in mapped if r["mapq"] == 0)),
        ("low_mapq", sum(1 for r in mapped if 0 < r["mapq"] < min_mapq)),
        ("junction_reads", len(junctions)),
        ("mapping_rate", "{:.4f}".format(len(mapped) / n if n else 0.0)),
        ("junction_rate", "{:.4f}".format(len(junctions) / n if n else 0.0)),
        ("forward", sum(1 for j in junctions if j[3] == "+")),
        ("reverse", sum(1 for j in junctions if j[3] == "-")),
        ("contigs_hit", len({j[2] for j in junctions})),
    ]))
    print("mapping_stats: {} reads, {} mapped, {} junctions".format(n, len(mapped), len(junctions)))


if __name__ == "__main__":
    run_main("mapping_stats.py", main)
