#!/usr/bin/env python3
"""map_reads — maps a chunk of trimmed reads (genomic flanks): ungapped, both strands, seed and verify.

    map_reads.py [--max-mismatches 2] READS.fastq REFERENCE.fa CONTIGS.tsv OUT.sam

Each read and its reverse complement are cut into max_mismatches + 1 seeds of k bases
(k = length // (max_mismatches + 1), at most 12); by the pigeonhole principle every
placement with at most max_mismatches substitutions has an exact seed hit in the k-mer
index, and each candidate is verified base by base. The best placement wins (fewest
mismatches, then contig order, position, '+' before '-'); MAPQ is 0 when another placement
is as good (a repeat). OUT.sam is SAM 1.6 (unsorted) with CIGAR <len>M and an NM tag; an
unmapped read has FLAG 4. Reads stay in input order. Reads shorter than
8 x (max_mismatches + 1) bases (seeds under 8 bases) stay unmapped.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qslamlib import (AtomicWriter, Reference, align_read, int_arg, read_contigs, read_fasta,  # noqa: E402
                   read_fastq, run_main, sam_header, sam_record)


def main():
    parser = argparse.ArgumentParser(description="Map reads (ungapped, both strands) and write SAM.")
    parser.add_argument("--max-mismatches", default="2")
    parser.add_argument("reads")
    parser.add_argument("reference")
    parser.add_argument("contigs")
    parser.add_argument("out")
    args = parser.parse_args()
    max_mm = int_arg("--max-mismatches", args.max_mismatches, 0, 8)
    contigs = read_contigs(args.contigs)
    reference = Reference(read_fasta(args.reference))
    reads = mapped = 0
    with AtomicWriter(args.out) as out:
        out.write(sam_header(contigs, "unsorted", "map_reads.py"))
        for read_id, seq, qual in read_fastq(args.reads, allow_empty=True):
            reads += 1
            hit = align_read(seq, reference, max_mm)
            mapped += hit is not None
            out.write(sam_record(read_id, seq, qual, hit, reference.names))
    print("map_reads: {}: {} of {} reads mapped".format(os.path.basename(args.reads), mapped, reads))


if __name__ == "__main__":
    run_main("map_reads.py", main)
