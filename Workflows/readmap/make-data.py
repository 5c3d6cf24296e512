#!/usr/bin/env python3
"""Writes tiny synthetic data for the readmap workflow.

    make-data.py --out DIR [--sample S001] [--reads 300] [--length 60] [--seed 42]

DIR/reference.fa      two random contigs (chr1 3000 bp, chr2 2000 bp)
DIR/<sample>.fastq    reads sampled from both strands, Phred+33 qualities
DIR/<sample>.truth.tsv  where each read came from: read, contig, pos, strand, substitutions, tail

Reads: about 70 % are exact copies, the rest carry 1-3 substitutions (3 in about 1 % of
reads, which then do not map with the default max_mismatches of 2); about 30 % end in a
low-quality 3' tail (Phred 2-15, with errors and the odd N) that trimming removes; about
3 % are "contaminants" (random sequence, contig `*` in the truth) that must stay unmapped.
`pos` is 1-based and, as in SAM, the leftmost reference base covered by the whole read on
the forward strand, whatever the read's strand. Same arguments, same bytes.
"""

import argparse
import os
import random
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from readmaplib import InputError, check_sample, reverse_complement, run_main, write_atomic  # noqa: E402

CONTIGS = [("chr1", 3000), ("chr2", 2000)]
LINE_WIDTH = 60


def random_sequence(rng, length):
    return "".join(rng.choice("ACGT") for _ in range(length))


def substitute(rng, base):
    return rng.choice([b for b in "ACGT" if b != base])


def make_read(rng, reference, length):
    """Returns (sequence, qualities, truth fields) of one simulated read."""
    if rng.random() < 0.03:
        seq = list(random_sequence(rng, length))
        truth = ("*", "*", "*")
    else:
        total = sum(len(s) for _, s in reference)
        pick = rng.randrange(total)
        for name, contig in reference:
            if pick < len(contig):
                break
            pick -= len(contig)
        start = rng.randrange(len(contig) - length + 1)
        strand = rng.choice("+-")
        seq = contig[start:start + length]
        if strand == "-":
            seq = reverse_complement(seq)
        seq = list(seq)
        truth = (name, str(start + 1), strand)

    # Qualities fall slowly along the read, like an Illumina run.
    quals = [max(25, min(41, 38 - (8 * i) // length + rng.randint(-3, 2))) for i in range(length)]

    tail = 0
    if rng.random() < 0.30:
        tail = rng.randint(max(1, length // 12), max(1, (2 * length) // 3))
        for i in range(length - tail, length):
            quals[i] = rng.randint(2, 15)
            r = rng.random()
            if r < 0.04:
                seq[i], quals[i] = "N", 2
            elif r < 0.24:
                seq[i] = substitute(rng, seq[i])

    n_errors = rng.choice([0] * 72 + [1] * 18 + [2] * 9 + [3] * 1)
    good = length - tail
    for i in rng.sample(range(good), min(n_errors, good)):
        seq[i] = substitute(rng, seq[i])
        quals[i] = rng.randint(20, 30)
    if truth[0] == "*":
        n_errors = 0
    return "".join(seq), "".join(chr(q + 33) for q in quals), truth + (str(n_errors), str(tail))


def main():
    parser = argparse.ArgumentParser(description="Write synthetic reads and a reference for readmap.")
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    parser.add_argument("--sample", default="S001", help="sample name (default S001)")
    parser.add_argument("--reads", type=int, default=300, help="number of reads (default 300)")
    parser.add_argument("--length", type=int, default=60, help="read length (default 60)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    args = parser.parse_args()
    check_sample(args.sample)
    shortest = min(n for _, n in CONTIGS)
    if not 20 <= args.length <= shortest:
        raise InputError("--length must be between 20 and {}, got {}".format(shortest, args.length))
    if not 1 <= args.reads <= 1000000:
        raise InputError("--reads must be between 1 and 1000000, got {}".format(args.reads))

    rng = random.Random(args.seed)
    reference = [(name, random_sequence(rng, n)) for name, n in CONTIGS]
    fasta = []
    for name, seq in reference:
        fasta.append(">{} synthetic, seed {}\n".format(name, args.seed))
        fasta.extend(seq[i:i + LINE_WIDTH] + "\n" for i in range(0, len(seq), LINE_WIDTH))

    width = len(str(args.reads))
    fastq = []
    truth = ["read\tcontig\tpos\tstrand\tsubstitutions\ttail\n"]
    for i in range(args.reads):
        read_id = "{}_{:0{}d}".format(args.sample, i + 1, width)
        seq, qual, fields = make_read(rng, reference, args.length)
        fastq.append("@{}\n{}\n+\n{}\n".format(read_id, seq, qual))
        truth.append("\t".join((read_id,) + fields) + "\n")

    os.makedirs(args.out, exist_ok=True)
    write_atomic(os.path.join(args.out, "reference.fa"), "".join(fasta))
    write_atomic(os.path.join(args.out, args.sample + ".fastq"), "".join(fastq))
    write_atomic(os.path.join(args.out, args.sample + ".truth.tsv"), "".join(truth))
    print("wrote {0}/reference.fa ({1} contigs, {2} bp), {0}/{3}.fastq ({4} reads of {5} bp), "
          "{0}/{3}.truth.tsv".format(args.out, len(reference), sum(len(s) for _, s in reference),
                                     args.sample, args.reads, args.length))


if __name__ == "__main__":
    run_main("make-data.py", main)
