#!/usr/bin/env python3
"""merge_sam — merges chunk SAM files into one coordinate-sorted SAM.

    merge_sam.py OUT.sam IN1.sam IN2.sam ...

The inputs must have the same @SQ lines. Mapped records are sorted by contig (header
order), position and read name; unmapped records follow, by read name (as samtools sort
puts them at the end). The header says SO:coordinate.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qslamlib import (AtomicWriter, FLAG_UNMAPPED, InputError, header_contigs, read_sam, run_main,  # noqa: E402
                   sam_header)


def main():
    parser = argparse.ArgumentParser(description="Merge and coordinate-sort SAM files.")
    parser.add_argument("out")
    parser.add_argument("inputs", nargs="+")
    args = parser.parse_args()
    contigs = None
    records = []
    for path in args.inputs:
        header, recs = read_sam(path)
        these = header_contigs(header)
        if contigs is None:
            contigs = these
        elif these != contigs:
            raise InputError("{}: @SQ lines differ from those of {}".format(path, args.inputs[0]))
        records.extend(recs)
    order = {name: i for i, (name, _) in enumerate(contigs)}

    def key(r):
        if r["flag"] & FLAG_UNMAPPED:
            return (len(order), 0, r["qname"])
        return (order[r["rname"]], r["pos"], r["qname"])

    records.sort(key=key)
    with AtomicWriter(args.out) as out:
        out.write(sam_header(contigs, "coordinate", "merge_sam.py"))
        for r in records:
            out.write(r["line"] + "\n")
    print("merge_sam: {} records from {} files".format(len(records), len(args.inputs)))


if __name__ == "__main__":
    run_main("merge_sam.py", main)
