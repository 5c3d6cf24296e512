#!/usr/bin/env python3
"""call — SNV calls from a pileup: alt allele fraction >= min_af at depth >= min_depth.

    call.py [--min-depth 5] [--min-af 0.3] PILEUP.tsv OUT.tsv

At each position whose reference base is A, C, G or T and whose depth (A+C+G+T) is at least
--min-depth, the most frequent non-reference base is called when its fraction of the depth
is at least --min-af. The genotype is 1/1 when that fraction is at least 0.8, else 0/1.
QUAL is the Phred-scaled probability of seeing that many alt bases from 1 % sequencing
errors alone (binomial tail), capped at 999.

OUT.tsv has a header and the columns contig, pos, ref, alt, depth, ref_count, alt_count,
af (4 decimals), gt, qual; in pileup order.
"""

import argparse
import math
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vclib import AtomicWriter, float_arg, int_arg, read_table, run_main  # noqa: E402

ERROR = 0.01
HOM_AF = 0.8


def phred_tail(alt, depth):
    """-10 log10 P(X >= alt), X ~ Binomial(depth, ERROR), capped at 999."""
    if alt == 0:
        return 0
    logs = []
    for k in range(alt, depth + 1):
        logs.append(math.lgamma(depth + 1) - math.lgamma(k + 1) - math.lgamma(depth - k + 1)
                    + k * math.log(ERROR) + (depth - k) * math.log(1 - ERROR))
    top = max(logs)
    log_p = top + math.log(sum(math.exp(x - top) for x in logs))
    return min(999, int(round(-10 * log_p / math.log(10))))


def main():
    parser = argparse.ArgumentParser(description="Call SNVs from a pileup.")
    parser.add_argument("--min-depth", default="5")
    parser.add_argument("--min-af", default="0.3")
    parser.add_argument("pileup")
    parser.add_argument("out")
    args = parser.parse_args()
    min_depth = int_arg("--min-depth", args.min_depth, 1)
    min_af = float_arg("--min-af", args.min_af, 0.0, 1.0)
    rows = read_table(args.pileup, ["contig", "pos", "ref", "depth", "A", "C", "G", "T"])
    calls = 0
    with AtomicWriter(args.out) as out:
        out.write("contig\tpos\tref\talt\tdepth\tref_count\talt_count\taf\tgt\tqual\n")
        for row in rows:
            contig, pos, ref = row[0], row[1], row[2]
            depth = int(row[3])
            if ref not in "ACGT" or depth < min_depth or depth == 0:
                continue
            counts = dict(zip("ACGT", map(int, row[4:8])))
            alt = max((b for b in "ACGT" if b != ref), key=lambda b: (counts[b], -"ACGT".index(b)))
            af = counts[alt] / depth
            if counts[alt] == 0 or af < min_af:
                continue
            out.write("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.4f}\t{}\t{}\n".format(
                contig, pos, ref, alt, depth, counts[ref], counts[alt], af,
                "1/1" if af >= HOM_AF else "0/1", phred_tail(counts[alt], depth)))
            calls += 1
    print("call: {}: {} SNVs (min_depth {}, min_af {})".format(os.path.basename(args.pileup), calls, min_depth, min_af))


if __name__ == "__main__":
    run_main("call.py", main)
