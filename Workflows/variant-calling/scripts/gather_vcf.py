#!/usr/bin/env python3
"""gather_vcf — joins the per-shard calls into one sorted VCF 4.2 file.

    gather_vcf.py --sample S [--min-depth 5] [--min-af 0.3] CONTIGS.tsv OUT.vcf CALLS1.tsv ...

Records are sorted by contig (reference order) and position; the header declares every
contig with its length, and the INFO (DP, AF) and FORMAT (GT, AD, DP) fields used.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vclib import AtomicWriter, InputError, check_sample, read_contigs, read_table, run_main  # noqa: E402

COLUMNS = ["contig", "pos", "ref", "alt", "depth", "ref_count", "alt_count", "af", "gt", "qual"]


def header(sample, contigs, min_depth, min_af):
    lines = ["##fileformat=VCFv4.2",
             "##source=hopper-variant-calling (toy pileup caller)",
             "##reference=reference.fa",
             "##variant_calling_params=min_depth:{},min_af:{}".format(min_depth, min_af)]
    lines += ["##contig=<ID={},length={}>".format(name, length) for name, length in contigs]
    lines += ['##FILTER=<ID=PASS,Description="All filters passed">',
              '##INFO=<ID=DP,Number=1,Type=Integer,Description="Read depth (A+C+G+T) at the site">',
              '##INFO=<ID=AF,Number=A,Type=Float,Description="Alt allele fraction">',
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
              '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Read depth of the ref and alt alleles">',
              '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + sample]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description="Gather per-shard calls into a sorted VCF.")
    parser.add_argument("--sample", required=True)
    parser.add_argument("--min-depth", default="5")
    parser.add_argument("--min-af", default="0.3")
    parser.add_argument("contigs")
    parser.add_argument("out")
    parser.add_argument("calls", nargs="+")
    args = parser.parse_args()
    check_sample(args.sample)
    contigs = read_contigs(args.contigs)
    order = {name: i for i, (name, _) in enumerate(contigs)}
    records = []
    for path in args.calls:
        for row in read_table(path, COLUMNS):
            if row[0] not in order:
                raise InputError("{}: contig {} is not in {}".format(path, row[0], args.contigs))
            records.append((order[row[0]], int(row[1]), row))
    records.sort()
    with AtomicWriter(args.out) as out:
        out.write(header(args.sample, contigs, args.min_depth, args.min_af))
        for _, _, (contig, pos, ref, alt, depth, rc, ac, af, gt, qual) in records:
            out.write("{}\t{}\t.\t{}\t{}\t{}\tPASS\tDP={};AF={}\tGT:AD:DP\t{}:{},{}:{}\n".format(
                contig, pos, ref, alt, qual, depth, af, gt, rc, ac, depth))
    print("gather_vcf: {} SNVs from {} shards -> {}".format(len(records), len(args.calls), args.out))


if __name__ == "__main__":
    run_main("gather_vcf.py", main)
