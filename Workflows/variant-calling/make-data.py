#!/usr/bin/env python3
"""Writes tiny synthetic data for the variant-calling workflow, with known SNVs.

    make-data.py --out DIR [--sample S001] [--seed 42] [--snvs 24] [--depth 40] [--length 80]

DIR/reference.fa        two random contigs (chr1 5000 bp, chr2 3000 bp)
DIR/<sample>.fastq      single-end reads of a diploid sample, both strands, Phred+33
DIR/<sample>.truth.vcf  the planted SNVs (VCF 4.2): PASS records are the germline SNVs
                        (GT 0/1 or 1/1) a caller should find; records with FILTER LowAF are
                        subclonal sites (about 10 % of reads) that it should not call with
                        the default min_af 0.3

The sample's two haplotypes are the reference plus the SNVs: a heterozygous SNV (about
two thirds of them) is on one haplotype, a homozygous one on both; two SNVs in three are
transitions. SNVs are at least 100 bp
apart and 60 bp away from contig ends. Each read comes from a random haplotype, position
and strand; bases have a 0.3 % substitution error rate (the erroneous bases get lower
qualities); about 2 % of reads are random contaminants. Same arguments, same bytes.
"""

import argparse
import os
import random
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts"))
from vclib import InputError, check_sample, reverse_complement, run_main, write_atomic  # noqa: E402

CONTIGS = [("chr1", 5000), ("chr2", 3000)]
LINE_WIDTH = 60
ERROR_RATE = 0.003
SUBCLONAL = 2          # LowAF sites
SUBCLONAL_FRACTION = 0.10


def random_sequence(rng, length):
    return "".join(rng.choice("ACGT") for _ in range(length))


def other_base(rng, base):
    return rng.choice([b for b in "ACGT" if b != base])


TRANSITION = {"A": "G", "G": "A", "C": "T", "T": "C"}


def snv_allele(rng, base):
    """A transition two times in three (real germline SNVs have Ts/Tv around 2)."""
    return TRANSITION[base] if rng.random() < 0.67 else rng.choice([b for b in "ACGT" if b not in (base, TRANSITION[base])])


def plant_sites(rng, reference, count):
    """[(contig number, 0-based position, ref, alt, kind)], kind het / hom / subclonal."""
    sites = []
    taken = []
    attempts = 0
    while len(sites) < count:
        attempts += 1
        if attempts > 100000:
            raise InputError("cannot place {} SNVs 100 bp apart on this reference".format(count))
        c = rng.randrange(len(reference))
        seq = reference[c][1]
        pos = rng.randrange(60, len(seq) - 60)
        if any(c == tc and abs(pos - tp) < 100 for tc, tp in taken):
            continue
        taken.append((c, pos))
        ref = seq[pos]
        sites.append((c, pos, ref, snv_allele(rng, ref)))
    kinds = []
    for i in range(count):
        if i < SUBCLONAL:
            kinds.append("subclonal")
        elif rng.random() < 0.33:
            kinds.append("hom")
        else:
            kinds.append("het")
    return sorted(s + (k,) for s, k in zip(sites, kinds))


def main():
    parser = argparse.ArgumentParser(description="Write a reference, reads with planted SNVs, and the truth VCF.")
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    parser.add_argument("--sample", default="S001", help="sample name (default S001)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--snvs", type=int, default=24, help="germline SNVs to plant (default 24)")
    parser.add_argument("--depth", type=int, default=40, help="mean read depth (default 40)")
    parser.add_argument("--length", type=int, default=80, help="read length (default 80)")
    args = parser.parse_args()
    check_sample(args.sample)
    if not 40 <= args.length <= 200:
        raise InputError("--length must be between 40 and 200, got {}".format(args.length))
    if not 1 <= args.depth <= 1000:
        raise InputError("--depth must be between 1 and 1000, got {}".format(args.depth))
    if not 0 <= args.snvs <= 60:
        raise InputError("--snvs must be between 0 and 60, got {}".format(args.snvs))

    rng = random.Random(args.seed)
    reference = [(name, random_sequence(rng, n)) for name, n in CONTIGS]
    sites = plant_sites(rng, reference, args.snvs + SUBCLONAL)

    # Haplotypes 0 and 1; subclonal alleles are applied per read.
    haplotypes = [[list(seq) for _, seq in reference] for _ in range(2)]
    for c, pos, ref, alt, kind in sites:
        if kind == "hom":
            haplotypes[0][c][pos] = alt
            haplotypes[1][c][pos] = alt
        elif kind == "het":
            haplotypes[1][c][pos] = alt
    haplotypes = [["".join(s) for s in h] for h in haplotypes]
    subclonal = {(c, pos): alt for c, pos, _, alt, kind in sites if kind == "subclonal"}

    total = sum(len(s) for _, s in reference)
    n_reads = total * args.depth // args.length
    width = len(str(n_reads))
    fastq = []
    for i in range(n_reads):
        read_id = "{}_{:0{}d}".format(args.sample, i + 1, width)
        if rng.random() < 0.02:
            seq = list(random_sequence(rng, args.length))
        else:
            pick = rng.randrange(total - len(reference) * (args.length - 1))
            for c, (_, contig) in enumerate(reference):
                room = len(contig) - args.length + 1
                if pick < room:
                    break
                pick -= room
            start = pick
            hap = rng.randrange(2)
            seq = list(haplotypes[hap][c][start:start + args.length])
            for (sc, spos), alt in subclonal.items():
                if sc == c and start <= spos < start + args.length and rng.random() < SUBCLONAL_FRACTION:
                    seq[spos - start] = alt
            if rng.random() < 0.5:
                seq = list(reverse_complement("".join(seq)))
        quals = [max(25, min(41, 38 - (6 * j) // args.length + rng.randint(-3, 2))) for j in range(args.length)]
        for j in range(args.length):
            if rng.random() < ERROR_RATE:
                seq[j] = other_base(rng, seq[j])
                quals[j] = rng.randint(15, 30)
        fastq.append("@{}\n{}\n+\n{}\n".format(read_id, "".join(seq), "".join(chr(q + 33) for q in quals)))

    fasta = []
    for name, seq in reference:
        fasta.append(">{} synthetic, seed {}\n".format(name, args.seed))
        fasta.extend(seq[i:i + LINE_WIDTH] + "\n" for i in range(0, len(seq), LINE_WIDTH))

    vcf = ["##fileformat=VCFv4.2\n",
           "##source=variant-calling/make-data.py seed={}\n".format(args.seed),
           "##reference=reference.fa\n"]
    vcf += ["##contig=<ID={},length={}>\n".format(name, len(seq)) for name, seq in reference]
    vcf += ['##FILTER=<ID=PASS,Description="All filters passed">\n',
            '##FILTER=<ID=LowAF,Description="Subclonal site in about {:.0f}% of reads; not expected to be '
            'called">\n'.format(100 * SUBCLONAL_FRACTION),
            '##INFO=<ID=KIND,Number=1,Type=String,Description="het, hom or subclonal">\n',
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n',
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{}\n".format(args.sample)]
    for c, pos, ref, alt, kind in sites:
        gt = {"het": "0/1", "hom": "1/1", "subclonal": "0/1"}[kind]
        vcf.append("{}\t{}\t.\t{}\t{}\t.\t{}\tKIND={}\tGT\t{}\n".format(
            reference[c][0], pos + 1, ref, alt, "LowAF" if kind == "subclonal" else "PASS", kind, gt))

    os.makedirs(args.out, exist_ok=True)
    write_atomic(os.path.join(args.out, "reference.fa"), "".join(fasta))
    write_atomic(os.path.join(args.out, args.sample + ".fastq"), "".join(fastq))
    write_atomic(os.path.join(args.out, args.sample + ".truth.vcf"), "".join(vcf))
    print("wrote {0}/reference.fa ({1} bp), {0}/{2}.fastq ({3} reads of {4} bp, ~{5}x), "
          "{0}/{2}.truth.vcf ({6} SNVs, {7} subclonal)".format(
              args.out, total, args.sample, n_reads, args.length, args.depth, args.snvs, SUBCLONAL))


if __name__ == "__main__":
    run_main("make-data.py", main)
