#!/usr/bin/env python3
"""qc — raw read statistics of a qsLAM-PCR run.

    qc.py [--umi-length 8] [--ltr SEQ] READS.fastq OUTDIR

OUTDIR/qc.tsv           key<TAB>value: reads, bases, mean_length, shortest, longest,
                        mean_quality, gc_percent, n_bases, ltr_reads (reads whose LTR end
                        follows the UMI with at most 2 mismatches), ltr_percent
OUTDIR/per_position.tsv position (1-based), reads, mean_quality
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qslamlib import LTR, UMI_LENGTH, format_kv, hamming, int_arg, read_fastq, run_main, write_atomic  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description="Read statistics of a qsLAM-PCR FASTQ file.")
    parser.add_argument("--umi-length", default=str(UMI_LENGTH))
    parser.add_argument("--ltr", default=LTR)
    parser.add_argument("reads")
    parser.add_argument("outdir")
    args = parser.parse_args()
    umi_length = int_arg("--umi-length", args.umi_length, 0, 32)
    ltr = args.ltr.upper()
    reads = bases = gc = acgt = n = ltr_reads = qsum = 0
    shortest, longest = None, 0
    pos_reads, pos_qual = [], []
    for _, seq, qual in read_fastq(args.reads):
        reads += 1
        bases += len(seq)
        shortest = len(seq) if shortest is None else min(shortest, len(seq))
        longest = max(longest, len(seq))
        gc += seq.count("G") + seq.count("C")
        n += seq.count("N")
        acgt += len(seq) - seq.count("N")
        if hamming(seq[umi_length:umi_length + len(ltr)], ltr) <= 2:
            ltr_reads += 1
        while len(pos_reads) < len(seq):
            pos_reads.append(0)
            pos_qual.append(0)
        for i, q in enumerate(qual):
            pos_reads[i] += 1
            pos_qual[i] += ord(q) - 33
            qsum += ord(q) - 33
    write_atomic(os.path.join(args.outdir, "qc.tsv"), format_kv([
        ("reads", reads),
        ("bases", bases),
        ("mean_length", "{:.2f}".format(bases / reads)),
        ("shortest", shortest),
        ("longest", longest),
        ("mean_quality", "{:.2f}".format(qsum / bases)),
        ("gc_percent", "{:.2f}".format(100.0 * gc / acgt if acgt else 0.0)),
        ("n_bases", n),
        ("ltr_reads", ltr_reads),
        ("ltr_percent", "{:.2f}".format(100.0 * ltr_reads / reads)),
    ]))
    write_atomic(os.path.join(args.outdir, "per_position.tsv"), "position\treads\tmean_quality\n" + "".join(
        "{}\t{}\t{:.2f}\n".format(i + 1, r, q / r) for i, (r, q) in enumerate(zip(pos_reads, pos_qual))))
    print("qc: {} reads, {} bases, {:.1f} % with the LTR".format(reads, bases, 100.0 * ltr_reads / reads))


if __name__ == "__main__":
    run_main("qc.py", main)
