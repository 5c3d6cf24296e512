#!/usr/bin/env python3
"""trim — cutadapt-like trimming: the LTR end off the 5' end, the linker adapter off the 3' end.

    trim.py [--ltr SEQ] [--adapter SEQ] [--error-rate 0.1] [--min-overlap 3] [--min-length 25] READS.fastq OUTDIR

1. LTR (anchored 5', like cutadapt -g ^LTR): the read must start with the LTR end with at
   most error_rate x len(LTR) mismatches (rounded down), else it is dropped as `no_ltr`
   (mispriming). The LTR is removed; what follows is genome, from the integration junction.
2. Adapter (3', like cutadapt -a): the first position where the read's rest matches the
   adapter's start, over at least --min-overlap bases, with at most error_rate x overlap
   mismatches, is cut off with everything after it.
3. Reads shorter than --min-length afterwards are dropped (`too_short`; linker dimers end here).

The kept read's length is the distance from the junction to the shear site (the fragment's
genomic length), which site_analysis uses to count fragments.

OUTDIR/reads.fastq      kept reads, input order, same ids
OUTDIR/trim.tsv         key<TAB>value: error_rate, min_length, reads_in, no_ltr,
                        adapter_trimmed, too_short, reads_out, bases_in, bases_out
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qslamlib import (ADAPTER, LTR, AtomicWriter, float_arg, format_kv, int_arg, read_fastq,  # noqa: E402
                      run_main, write_atomic, write_fastq)


def mismatches(a, b):
    return sum(1 for x, y in zip(a, b) if x != y or x == "N")


def adapter_start(seq, adapter, error_rate, min_overlap):
    """Index where the adapter starts in seq, or None."""
    for i in range(len(seq) - min_overlap + 1):
        overlap = min(len(adapter), len(seq) - i)
        if mismatches(seq[i:i + overlap], adapter[:overlap]) <= int(error_rate * overlap):
            return i
    return None


def main():
    parser = argparse.ArgumentParser(description="Remove the LTR end and the linker adapter.")
    parser.add_argument("--ltr", default=LTR)
    parser.add_argument("--adapter", default=ADAPTER)
    parser.add_argument("--error-rate", default="0.1")
    parser.add_argument("--min-overlap", default="3")
    parser.add_argument("--min-length", default="25")
    parser.add_argument("reads")
    parser.add_argument("outdir")
    args = parser.parse_args()
    ltr, adapter = args.ltr.upper(), args.adapter.upper()
    error_rate = float_arg("--error-rate", args.error_rate, 0.0, 0.5)
    min_overlap = int_arg("--min-overlap", args.min_overlap, 1, len(adapter))
    min_length = int_arg("--min-length", args.min_length, 1)
    ltr_errors = int(error_rate * len(ltr))
    counts = dict.fromkeys(["reads_in", "no_ltr", "adapter_trimmed", "too_short", "reads_out", "bases_in",
                            "bases_out"], 0)
    with AtomicWriter(os.path.join(args.outdir, "reads.fastq")) as out:
        for read_id, seq, qual in read_fastq(args.reads):
            counts["reads_in"] += 1
            counts["bases_in"] += len(seq)
            if len(seq) < len(ltr) or mismatches(seq[:len(ltr)], ltr) > ltr_errors:
                counts["no_ltr"] += 1
                continue
            seq, qual = seq[len(ltr):], qual[len(ltr):]
            cut = adapter_start(seq, adapter, error_rate, min_overlap)
            if cut is not None:
                counts["adapter_trimmed"] += 1
                seq, qual = seq[:cut], qual[:cut]
            if len(seq) < min_length:
                counts["too_short"] += 1
                continue
            counts["reads_out"] += 1
            counts["bases_out"] += len(seq)
            write_fastq(out, read_id, seq, qual)
    write_atomic(os.path.join(args.outdir, "trim.tsv"), format_kv(
        [("error_rate", error_rate), ("min_length", min_length)] + list(counts.items())))
    print("trim: {reads_in} reads: {no_ltr} without the LTR, {adapter_trimmed} adapter-trimmed, "
          "{too_short} too short, {reads_out} kept".format(**counts))


if __name__ == "__main__":
    run_main("trim.py", main)
