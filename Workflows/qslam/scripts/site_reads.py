#!/usr/bin/env python3
"""site_reads — joins the junctions with the PCR-duplicate counts of the umi step.

    site_reads.py JUNCTIONS.tsv DUPLICATES.tsv OUT.tsv

OUT.tsv has a header and the columns read, contig, strand, junction, length, umi, copies
(the reads the umi step collapsed into this one), in the junctions' order.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qslamlib import AtomicWriter, InputError, read_table, run_main  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description="Junctions with duplicate counts.")
    parser.add_argument("junctions")
    parser.add_argument("duplicates")
    parser.add_argument("out")
    args = parser.parse_args()
    copies = {row[0]: int(row[2]) for row in read_table(args.duplicates, ["read", "umi", "copies"])}
    rows = read_table(args.junctions, ["read", "umi", "contig", "strand", "junction", "shear", "length"])
    total = 0
    with AtomicWriter(args.out) as out:
        out.write("read\tcontig\tstrand\tjunction\tlength\tumi\tcopies\n")
        for read, umi, contig, strand, junction, _, length in (r[:7] for r in rows):
            if read not in copies:
                raise InputError("{}: read {} is not in {} (were the steps run on different data?)".format(
                    args.junctions, read, args.duplicates))
            total += copies[read]
            out.write("\t".join((read, contig, strand, junction, length, umi, str(copies[read]))) + "\n")
    print("site_reads: {} unique reads standing for {} reads".format(len(rows), total))


if __name__ == "__main__":
    run_main("site_reads.py", main)
