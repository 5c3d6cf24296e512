#!/usr/bin/env python3
"""align — ungapped read mapping with up to N substitutions, both strands.

    align.py [--max-mismatches 2] READS.fastq REFERENCE.fa OUTDIR

For each read, the read and its reverse complement are cut into max_mismatches + 1
non-overlapping seeds of k bases (k = read length // (max_mismatches + 1), at most 12);
by the pigeonhole principle one seed of any placement with at most max_mismatches
substitutions matches exactly, so looking the seeds up in a k-mer index of the reference
and verifying every candidate finds all such placements. The best placement wins (fewest
mismatches, then contig order, position, '+' before '-'). An N in the read or in the
reference counts as a mismatch. No indels, no soft clipping: a toy for tiny data.

OUTDIR/alignments.tsv  read, contig, pos (1-based leftmost reference base, as in SAM),
                       strand, mismatches; one line per read in input order; an unmapped
                       read has `*` in the other four columns
OUTDIR/stats.tsv       key<TAB>value: max_mismatches, reads, mapped, unmapped, mapping_rate
                       (mapped / reads, 4 decimals), forward, reverse
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from readmaplib import (AtomicWriter, format_kv, int_arg, read_fasta, read_fastq,  # noqa: E402
                        reverse_complement, run_main, write_atomic)

MAX_SEED = 12
ACGT = frozenset("ACGT")


class Reference(object):
    def __init__(self, contigs):
        self.names = [name for name, _ in contigs]
        self.seqs = [seq for _, seq in contigs]
        self._indexes = {}

    def index(self, k):
        """k-mer -> [(contig number, 0-based start)], built on first use for each k."""
        found = self._indexes.get(k)
        if found is None:
            found = {}
            for c, seq in enumerate(self.seqs):
                for start in range(len(seq) - k + 1):
                    kmer = seq[start:start + k]
                    if set(kmer) <= ACGT:
                        found.setdefault(kmer, []).append((c, start))
            self._indexes[k] = found
        return found


def mismatches(read, ref, start, limit):
    """Substitutions between read and ref[start:], or limit + 1 once over the limit.
    An N on either side is a mismatch."""
    count = 0
    for a, b in zip(read, ref[start:start + len(read)]):
        if a != b or a == "N":
            count += 1
            if count > limit:
                break
    return count


def candidates(read, reference, max_mm):
    """(contig, start) placements that may hold read with at most max_mm substitutions."""
    length = len(read)
    k = min(MAX_SEED, length // (max_mm + 1))
    if k == 0:  # read shorter than max_mm + 1: every placement qualifies
        return {(c, s) for c, seq in enumerate(reference.seqs) for s in range(len(seq) - length + 1)}
    index = reference.index(k)
    found = set()
    for i in range(max_mm + 1):
        offset = i * k
        for c, start in index.get(read[offset:offset + k], ()):
            start -= offset
            if 0 <= start <= len(reference.seqs[c]) - length:
                found.add((c, start))
    return found


def best_placement(read, reference, max_mm):
    """(mismatches, contig number, 0-based start, strand) of the best placement, or None."""
    best = None
    for strand, seq in (("+", read), ("-", reverse_complement(read))):
        for c, start in candidates(seq, reference, max_mm):
            mm = mismatches(seq, reference.seqs[c], start, max_mm)
            if mm <= max_mm:
                hit = (mm, c, start, strand)
                if best is None or hit < best:
                    best = hit
    return best


def main():
    parser = argparse.ArgumentParser(description="Map reads to a reference (ungapped, both strands).")
    parser.add_argument("--max-mismatches", default="2", help="substitutions allowed per read (default 2)")
    parser.add_argument("reads", help="FASTQ file (Phred+33, plain or gzip)")
    parser.add_argument("reference", help="FASTA file (plain or gzip)")
    parser.add_argument("outdir", help="output directory, e.g. aligned/")
    args = parser.parse_args()
    max_mm = int_arg("--max-mismatches", args.max_mismatches, 0, 10)
    reference = Reference(read_fasta(args.reference))

    reads = mapped = forward = 0
    with AtomicWriter(os.path.join(args.outdir, "alignments.tsv")) as out:
        out.write("read\tcontig\tpos\tstrand\tmismatches\n")
        for read_id, seq, _ in read_fastq(args.reads, allow_empty=True):
            reads += 1
            hit = best_placement(seq, reference, max_mm)
            if hit is None:
                out.write("{}\t*\t*\t*\t*\n".format(read_id))
                continue
            mm, c, start, strand = hit
            mapped += 1
            forward += strand == "+"
            out.write("{}\t{}\t{}\t{}\t{}\n".format(read_id, reference.names[c], start + 1, strand, mm))
    rate = mapped / reads if reads else 0.0
    write_atomic(os.path.join(args.outdir, "stats.tsv"), format_kv([
        ("max_mismatches", max_mm),
        ("reads", reads),
        ("mapped", mapped),
        ("unmapped", reads - mapped),
        ("mapping_rate", "{:.4f}".format(rate)),
        ("forward", forward),
        ("reverse", mapped - forward),
    ]))
    print("align: {} of {} reads mapped ({:.2f} %) with at most {} mismatches".format(
        mapped, reads, 100 * rate, max_mm))


if __name__ == "__main__":
    run_main("align.py", main)
