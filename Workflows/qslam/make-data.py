#!/usr/bin/env python3
"""Writes tiny synthetic qsLAM-PCR data (vector integration sites) for the qslam workflow.

    make-data.py --out DIR [--sample S001] [--seed 42] [--sites 30] [--length 150]

DIR/reference.fa        three random contigs (chr1 20 kb, chr2 15 kb, chr3 10 kb); a 400 bp
                        segment of chr1 is repeated in chr3, so reads from it map twice
DIR/<sample>.fastq      single-end reads, Phred+33, each laid out as
                        [UMI 8][LTR end 18][genomic flank, 30-110 bp][linker adapter...]
DIR/<sample>.truth.tsv  the integration sites: contig, position, strand, fragments (distinct
                        shear lengths), umis (fragments as distinct UMI + shear length), reads,
                        mappable (no for the sites inside the repeat)

A clone is a vector integration: the LTR's last base (the CA) joins the genome at
`position` (1-based, the first genomic base), reading on `strand`. Clone sizes are skewed
(one dominant clone, a few medium, many small). Each clone yields fragments (sonication
shears the genome 30-110 bp from the junction), each fragment gets a random UMI and 1-12
PCR copies (reads). About 4 % of reads carry the junction 1-2 bp off (which site clustering
merges back), 3 % have no LTR (mispriming), 1 % are linker dimers (no genomic part), and
bases have a 0.2 % substitution error rate. Same arguments, same bytes.
"""

import argparse
import os
import random
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts"))
from qslamlib import (ADAPTER, LTR, UMI_LENGTH, InputError, check_sample, reverse_complement,  # noqa: E402
                      run_main, write_atomic)

CONTIGS = [("chr1", 20000), ("chr2", 15000), ("chr3", 10000)]
REPEAT = (0, 6000, 2, 4000, 400)     # chr1:6001-6400 is copied to chr3:4001-4400
MIN_FLANK, MAX_FLANK = 30, 110
ERROR_RATE = 0.002
LINE_WIDTH = 60
# Past the adapter a read runs into the index and P7 sequence, then dark cycles (poly-G).
AFTER_ADAPTER = "ATCTCGTATGCCGTCTTCTGCTTG" + "G" * 300


def random_sequence(rng, length):
    return "".join(rng.choice("ACGT") for _ in range(length))


def flank(reference, c, pos, strand, length):
    """`length` genomic bases read away from the junction at 0-based `pos`."""
    seq = reference[c][1]
    if strand == "+":
        return seq[pos:pos + length]
    return reverse_complement(seq[pos - length + 1:pos + 1])


def main():
    parser = argparse.ArgumentParser(description="Write a reference, qsLAM-PCR reads and the true integration sites.")
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    parser.add_argument("--sample", default="S001", help="sample name (default S001)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--sites", type=int, default=30, help="integration sites (clones), default 30")
    parser.add_argument("--length", type=int, default=150, help="read length (default 150)")
    args = parser.parse_args()
    check_sample(args.sample)
    if not 5 <= args.sites <= 500:
        raise InputError("--sites must be between 5 and 500, got {}".format(args.sites))
    if not UMI_LENGTH + len(LTR) + MAX_FLANK + 4 <= args.length <= 300:
        raise InputError("--length must be between {} and 300, got {}".format(
            UMI_LENGTH + len(LTR) + MAX_FLANK + 4, args.length))

    rng = random.Random(args.seed)
    reference = [[name, random_sequence(rng, n)] for name, n in CONTIGS]
    c1, p1, c2, p2, n = REPEAT
    reference[c2][1] = reference[c2][1][:p2] + reference[c1][1][p1:p1 + n] + reference[c2][1][p2 + n:]

    # Sites: 2 inside the repeat, the others anywhere else, >= 200 bp apart.
    sites = []
    while len(sites) < args.sites:
        if len(sites) < 2:      # one in each copy of the repeat, >= 120 bp from its ends
            c, pos = (c1, p1) if not sites else (c2, p2)
            pos += 120 + rng.randrange(n - 240)
        else:
            c = rng.randrange(len(reference))
            pos = rng.randrange(MAX_FLANK + 10, len(reference[c][1]) - MAX_FLANK - 10)
            if c == c1 and p1 - MAX_FLANK - 10 <= pos < p1 + n + MAX_FLANK + 10:
                continue
            if c == c2 and p2 - MAX_FLANK - 10 <= pos < p2 + n + MAX_FLANK + 10:
                continue
        if any(c == sc and abs(pos - sp) < 200 for sc, sp, _, _ in sites):
            continue
        sites.append((c, pos, rng.choice("+-"), len(sites) < 2))
    # Clone sizes (fragments): one dominant, a few medium, many small.
    sizes = [120] + [rng.randint(20, 40) for _ in range(4)] + [rng.randint(1, 8) for _ in range(args.sites - 5)]
    rng.shuffle(sizes)

    reads = []       # (sequence, qualities)
    truth = []
    for (c, pos, strand, repeat), size in zip(sites, sizes):
        shears, umis, n_reads = set(), set(), 0
        for _ in range(size):
            length = rng.randint(MIN_FLANK, MAX_FLANK)
            umi = random_sequence(rng, UMI_LENGTH)
            shears.add(length)
            umis.add((umi, length))
            copies = min(12, 1 + int(rng.expovariate(1 / 3.0)))
            for _ in range(copies):
                jitter = 0
                if rng.random() < 0.04:
                    jitter = rng.choice([-2, -1, 1, 2])
                p = pos + jitter if strand == "+" else pos - jitter
                genomic = flank(reference, c, p, strand, length)
                reads.append(umi + LTR + genomic + ADAPTER)
                n_reads += 1
        truth.append((reference[c][0], pos + 1, strand, len(shears), len(umis), n_reads, "no" if repeat else "yes"))
    noise = len(reads) // 25
    for _ in range(noise):                      # mispriming: genomic sequence without the LTR
        c = rng.randrange(len(reference))
        pos = rng.randrange(0, len(reference[c][1]) - 80)
        reads.append(random_sequence(rng, UMI_LENGTH) + reference[c][1][pos:pos + 80] + ADAPTER)
    for _ in range(len(reads) // 100):          # linker dimers: nothing between LTR and linker
        reads.append(random_sequence(rng, UMI_LENGTH) + LTR + ADAPTER)
    rng.shuffle(reads)

    fastq = []
    width = len(str(len(reads)))
    for i, body in enumerate(reads):
        body = (body + AFTER_ADAPTER)[:args.length]
        seq = list(body)
        quals = [max(25, min(41, 38 - (10 * j) // args.length + rng.randint(-3, 2))) for j in range(args.length)]
        for j in range(args.length):
            if rng.random() < ERROR_RATE:
                seq[j] = rng.choice([b for b in "ACGT" if b != seq[j]])
                quals[j] = rng.randint(12, 25)
        fastq.append("@{}_{:0{}d}\n{}\n+\n{}\n".format(args.sample, i + 1, width, "".join(seq),
                                                      "".join(chr(q + 33) for q in quals)))

    fasta = []
    for name, seq in reference:
        fasta.append(">{} synthetic, seed {}\n".format(name, args.seed))
        fasta.extend(seq[i:i + LINE_WIDTH] + "\n" for i in range(0, len(seq), LINE_WIDTH))
    order = {name: i for i, (name, _) in enumerate(CONTIGS)}
    truth.sort(key=lambda t: (order[t[0]], t[1], t[2]))
    lines = ["contig\tposition\tstrand\tfragments\tumis\treads\tmappable\n"]
    lines += ["\t".join(map(str, t)) + "\n" for t in truth]

    os.makedirs(args.out, exist_ok=True)
    write_atomic(os.path.join(args.out, "reference.fa"), "".join(fasta))
    write_atomic(os.path.join(args.out, args.sample + ".fastq"), "".join(fastq))
    write_atomic(os.path.join(args.out, args.sample + ".truth.tsv"), "".join(lines))
    print("wrote {0}/reference.fa ({1} bp), {0}/{2}.fastq ({3} reads of {4} bp), {0}/{2}.truth.tsv "
          "({5} sites, {6} fragments)".format(args.out, sum(len(s) for _, s in reference), args.sample,
                                              len(reads), args.length, len(truth), sum(t[4] for t in truth)))


if __name__ == "__main__":
    run_main("make-data.py", main)
