#!/usr/bin/env python3
"""flagstat — alignment counts of a SAM file (like samtools flagstat, key<TAB>value).

    flagstat.py [--min-mapq 20] ALIGNED.sam OUT.tsv

Keys: reads, mapped, unmapped, mapping_rate (4 decimals), forward, reverse, mapq0
(mapped, but placed equally well elsewhere), mapq_pass (mapped with MAPQ >= --min-mapq),
mismatches (sum of NM), mismatch_rate (per aligned base, 5 decimals).
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vclib import (FLAG_REVERSE, FLAG_UNMAPPED, format_kv, int_arg, read_sam, run_main,  # noqa: E402
                   write_atomic)


def main():
    parser = argparse.ArgumentParser(description="Count alignments.")
    parser.add_argument("--min-mapq", default="20")
    parser.add_argument("sam")
    parser.add_argument("out")
    args = parser.parse_args()
    min_mapq = int_arg("--min-mapq", args.min_mapq, 0, 255)
    _, records = read_sam(args.sam)
    mapped = [r for r in records if not r["flag"] & FLAG_UNMAPPED]
    reverse = sum(1 for r in mapped if r["flag"] & FLAG_REVERSE)
    nm = 0
    for r in mapped:
        for tag in r["line"].split("\t")[11:]:
            if tag.startswith("NM:i:"):
                nm += int(tag[5:])
    bases = sum(len(r["seq"]) for r in mapped)
    write_atomic(args.out, format_kv([
        ("reads", len(records)),
        ("mapped", len(mapped)),
        ("unmapped", len(records) - len(mapped)),
        ("mapping_rate", "{:.4f}".format(len(mapped) / len(records) if records else 0.0)),
        ("forward", len(mapped) - reverse),
        ("reverse", reverse),
        ("mapq0", sum(1 for r in mapped if r["mapq"] == 0)),
        ("mapq_pass", sum(1 for r in mapped if r["mapq"] >= min_mapq)),
        ("mismatches", nm),
        ("mismatch_rate", "{:.5f}".format(nm / bases if bases else 0.0)),
    ]))
    print("flagstat: {} of {} reads mapped".format(len(mapped), len(records)))


if __name__ == "__main__":
    run_main("flagstat.py", main)
