#!/usr/bin/env python3
"""prepare_reference — validates the reference and writes the workspace's copy of it.

    prepare_reference.py REFERENCE.fa OUT.fa OUT_CONTIGS.tsv

OUT.fa is the reference upper-cased in 60-column lines; OUT_CONTIGS.tsv has the columns
contig, length (like the first two columns of a .fai index), in FASTA order.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qslamlib import InputError, read_fasta, run_main, write_atomic  # noqa: E402

NAME_OK = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-|:")


def main():
    parser = argparse.ArgumentParser(description="Validate and copy the reference; write contig lengths.")
    parser.add_argument("reference")
    parser.add_argument("fasta_out")
    parser.add_argument("contigs_out")
    args = parser.parse_args()
    contigs = read_fasta(args.reference)
    for name, _ in contigs:
        if set(name) - NAME_OK:
            raise InputError("{}: contig name {!r} has characters VCF does not allow".format(args.reference, name))
    fasta = []
    for name, seq in contigs:
        fasta.append(">{}\n".format(name))
        fasta.extend(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60))
    write_atomic(args.fasta_out, "".join(fasta))
    write_atomic(args.contigs_out, "contig\tlength\n" + "".join(
        "{}\t{}\n".format(name, len(seq)) for name, seq in contigs))
    print("prepare_reference: {} contigs, {} bp".format(len(contigs), sum(len(s) for _, s in contigs)))


if __name__ == "__main__":
    run_main("prepare_reference.py", main)
