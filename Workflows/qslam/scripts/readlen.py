#!/usr/bin/env python3
"""readlen — length histogram of the trimmed reads (the fragments' genomic lengths).

    readlen.py READS.fastq OUTDIR

OUTDIR/histogram.tsv    length, reads (every length from the shortest to the longest)
OUTDIR/summary.tsv      key<TAB>value: reads, shortest, longest, mean (2 decimals), median,
                        mode
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qslamlib import format_kv, read_fastq, run_main, write_atomic  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description="Read-length histogram.")
    parser.add_argument("reads")
    parser.add_argument("outdir")
    args = parser.parse_args()
    lengths = sorted(len(seq) for _, seq, _ in read_fastq(args.reads))
    hist = {}
    for n in lengths:
        hist[n] = hist.get(n, 0) + 1
    lo, hi = lengths[0], lengths[-1]
    write_atomic(os.path.join(args.outdir, "histogram.tsv"), "length\treads\n" + "".join(
        "{}\t{}\n".format(n, hist.get(n, 0)) for n in range(lo, hi + 1)))
    write_atomic(os.path.join(args.outdir, "summary.tsv"), format_kv([
        ("reads", len(lengths)),
        ("shortest", lo),
        ("longest", hi),
        ("mean", "{:.2f}".format(sum(lengths) / len(lengths))),
        ("median", lengths[len(lengths) // 2]),
        ("mode", max(sorted(hist), key=lambda n: hist[n])),
    ]))
    print("readlen: {} reads, {}-{} bp, mean {:.1f}".format(len(lengths), lo, hi, sum(lengths) / len(lengths)))


if __name__ == "__main__":
    run_main("readlen.py", main)
