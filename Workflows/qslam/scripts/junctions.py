#!/usr/bin/env python3
"""junctions — turns alignments into LTR-genome junctions, one per uniquely mapped read.

    junctions.py [--min-mapq 20] ALIGNED.sam OUT.tsv

A trimmed read starts at the integration junction (the first genomic base after the LTR)
and ends at the shear site. Mapped on '+', the junction is the alignment's leftmost base;
on '-', its rightmost. Unmapped reads and reads with MAPQ below --min-mapq (MAPQ 0: equally
good elsewhere, e.g. in a repeat) are left out.

OUT.tsv has a header and the columns read, umi (the id's last '_' field), contig, strand,
junction (1-based), shear (1-based), length, mapq, mismatches; sorted by contig (header
order), junction, strand, read.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qslamlib import (FLAG_REVERSE, FLAG_UNMAPPED, AtomicWriter, header_contigs, int_arg, read_sam,  # noqa: E402
                      run_main)


def main():
    parser = argparse.ArgumentParser(description="Integration junctions from alignments.")
    parser.add_argument("--min-mapq", default="20")
    parser.add_argument("sam")
    parser.add_argument("out")
    args = parser.parse_args()
    min_mapq = int_arg("--min-mapq", args.min_mapq, 0, 255)
    header, records = read_sam(args.sam)
    order = {name: i for i, (name, _) in enumerate(header_contigs(header))}
    rows = []
    for r in records:
        if r["flag"] & FLAG_UNMAPPED or r["mapq"] < min_mapq:
            continue
        length = len(r["seq"])
        first, last = r["pos"], r["pos"] + length - 1
        strand = "-" if r["flag"] & FLAG_REVERSE else "+"
        junction, shear = (first, last) if strand == "+" else (last, first)
        nm = 0
        for tag in r["line"].split("\t")[11:]:
            if tag.startswith("NM:i:"):
                nm = int(tag[5:])
        rows.append((order[r["rname"]], junction, strand, r["qname"], r["qname"].rsplit("_", 1)[-1], r["rname"],
                     shear, length, r["mapq"], nm))
    rows.sort()
    with AtomicWriter(args.out) as out:
        out.write("read\tumi\tcontig\tstrand\tjunction\tshear\tlength\tmapq\tmismatches\n")
        for _, junction, strand, read, umi, contig, shear, length, mapq, nm in rows:
            out.write("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n".format(read, umi, contig, strand, junction, shear,
                                                                 length, mapq, nm))
    print("junctions: {} of {} reads map uniquely (MAPQ >= {})".format(len(rows), len(records), min_mapq))


if __name__ == "__main__":
    run_main("junctions.py", main)
