#!/usr/bin/env python3
"""pileup — base counts at every reference position of one genome shard.

    pileup.py --shard I --shards N [--min-mapq 20] [--min-baseq 13] ALIGNED.sam REFERENCE.fa CONTIGS.tsv OUT.tsv

The genome (contigs end to end) is cut into N pieces of nearly equal length; shard I
(0-based) covers piece I. Reads with MAPQ below --min-mapq, unmapped reads and bases with a
quality below --min-baseq are not counted (like samtools mpileup -q/-Q).

OUT.tsv has a header and the columns contig, pos (1-based), ref, depth (A+C+G+T counted), A,
C, G, T, N; one line for every position of the shard, in genome order.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vclib import (AtomicWriter, FLAG_UNMAPPED, InputError, int_arg, read_contigs, read_fasta,  # noqa: E402
                   read_sam, run_main, shard_intervals)

BASES = "ACGTN"


def main():
    parser = argparse.ArgumentParser(description="Per-position base counts of one genome shard.")
    parser.add_argument("--shard", required=True)
    parser.add_argument("--shards", required=True)
    parser.add_argument("--min-mapq", default="20")
    parser.add_argument("--min-baseq", default="13")
    parser.add_argument("sam")
    parser.add_argument("reference")
    parser.add_argument("contigs")
    parser.add_argument("out")
    args = parser.parse_args()
    shards = int_arg("--shards", args.shards, 1, 10000)
    shard = int_arg("--shard", args.shard, 0, shards - 1)
    min_mapq = int_arg("--min-mapq", args.min_mapq, 0, 255)
    min_baseq = int_arg("--min-baseq", args.min_baseq, 0, 93)
    contigs = read_contigs(args.contigs)
    sequences = dict(read_fasta(args.reference))
    intervals = shard_intervals(contigs, shard, shards)
    counts = {}     # contig -> {pos: [A, C, G, T, N]}
    for name, start, end in intervals:
        counts[name] = {pos: [0, 0, 0, 0, 0] for pos in range(start, end + 1)}

    _, records = read_sam(args.sam)
    used = 0
    for r in records:
        if r["flag"] & FLAG_UNMAPPED or r["mapq"] < min_mapq or r["rname"] not in counts:
            continue
        if r["cigar"] != "{}M".format(len(r["seq"])):
            raise InputError("{}: read {} has CIGAR {}; only ungapped <n>M alignments are supported".format(
                args.sam, r["qname"], r["cigar"]))
        table = counts[r["rname"]]
        hit = False
        for offset, (base, q) in enumerate(zip(r["seq"], r["qual"])):
            cell = table.get(r["pos"] + offset)
            if cell is not None and ord(q) - 33 >= min_baseq:
                cell[BASES.index(base)] += 1
                hit = True
        used += hit

    positions = 0
    with AtomicWriter(args.out) as out:
        out.write("contig\tpos\tref\tdepth\tA\tC\tG\tT\tN\n")
        for name, start, end in intervals:
            seq = sequences[name]
            for pos in range(start, end + 1):
                a, c, g, t, n = counts[name][pos]
                out.write("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n".format(
                    name, pos, seq[pos - 1], a + c + g + t, a, c, g, t, n))
                positions += 1
    print("pileup: shard {} of {}: {} positions ({}), {} reads".format(
        shard + 1, shards, positions, ", ".join("{}:{}-{}".format(*i) for i in intervals), used))


if __name__ == "__main__":
    run_main("pileup.py", main)
