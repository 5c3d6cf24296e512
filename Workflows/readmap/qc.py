#!/usr/bin/env python3
"""qc — read-level quality summary of a FASTQ file (Phred+33, plain or gzip).

    qc.py READS.fastq OUTDIR

OUTDIR/qc.tsv            key<TAB>value: reads, bases, mean_length, shortest, longest,
                         mean_quality (over all bases), gc_percent (G+C of A/C/G/T bases),
                         n_bases
OUTDIR/per_position.tsv  position (1-based), reads (covering it), mean_quality
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from readmaplib import AtomicWriter, format_kv, phred, read_fastq, run_main, write_atomic  # noqa: E402


def summarise(path):
    reads = bases = quality_sum = gc = n_bases = 0
    shortest = longest = None
    pos_count = []
    pos_quality = []
    for _, seq, qual in read_fastq(path):
        reads += 1
        length = len(seq)
        bases += length
        shortest = length if shortest is None else min(shortest, length)
        longest = length if longest is None else max(longest, length)
        gc += seq.count("G") + seq.count("C")
        n_bases += seq.count("N")
        if length > len(pos_count):
            grow = length - len(pos_count)
            pos_count.extend([0] * grow)
            pos_quality.extend([0] * grow)
        for i, q in enumerate(qual):
            score = phred(q)
            quality_sum += score
            pos_count[i] += 1
            pos_quality[i] += score
    called = bases - n_bases
    stats = [
        ("reads", reads),
        ("bases", bases),
        ("mean_length", "{:.2f}".format(bases / reads)),
        ("shortest", shortest),
        ("longest", longest),
        ("mean_quality", "{:.2f}".format(quality_sum / bases)),
        ("gc_percent", "{:.2f}".format(100.0 * gc / called if called else 0.0)),
        ("n_bases", n_bases),
    ]
    per_position = [(i + 1, pos_count[i], pos_quality[i] / pos_count[i]) for i in range(len(pos_count))]
    return stats, per_position


def main():
    parser = argparse.ArgumentParser(description="Summarise the reads of a FASTQ file.")
    parser.add_argument("reads", help="FASTQ file (Phred+33, plain or gzip)")
    parser.add_argument("outdir", help="output directory, e.g. qc/")
    args = parser.parse_args()
    stats, per_position = summarise(args.reads)
    write_atomic(os.path.join(args.outdir, "qc.tsv"), format_kv(stats))
    with AtomicWriter(os.path.join(args.outdir, "per_position.tsv")) as f:
        f.write("position\treads\tmean_quality\n")
        for position, count, mean in per_position:
            f.write("{}\t{}\t{:.2f}\n".format(position, count, mean))
    summary = dict(stats)
    print("qc: {} reads, {} bases, mean length {}, mean quality {}, GC {} %".format(
        summary["reads"], summary["bases"], summary["mean_length"], summary["mean_quality"],
        summary["gc_percent"]))


if __name__ == "__main__":
    run_main("qc.py", main)
