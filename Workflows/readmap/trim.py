#!/usr/bin/env python3
"""trim — 3' quality trimming and a length filter.

    trim.py [--min-quality 20] [--min-length 30] READS.fastq OUTDIR

Removes trailing bases whose Phred quality is below --min-quality (scanning from the 3'
end and stopping at the first base at or above it, like Trimmomatic's TRAILING), then drops
reads shorter than --min-length. Reads keep their order, ids and remaining qualities.

OUTDIR/reads.fastq  the surviving reads
OUTDIR/trim.tsv     key<TAB>value: min_quality, min_length, reads_in, reads_trimmed (reads
                    that lost at least one base), reads_dropped, reads_out, bases_in,
                    bases_trimmed (3' bases removed), bases_dropped (bases of dropped reads
                    left after trimming), bases_out;
                    bases_in = bases_trimmed + bases_dropped + bases_out
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from readmaplib import AtomicWriter, format_kv, int_arg, read_fastq, run_main, write_atomic  # noqa: E402


def trimmed_length(qual, min_quality):
    """Length left after removing trailing bases with quality < min_quality."""
    end = len(qual)
    threshold = min_quality + 33
    while end > 0 and ord(qual[end - 1]) < threshold:
        end -= 1
    return end


def main():
    parser = argparse.ArgumentParser(description="Trim low-quality 3' ends and drop short reads.")
    parser.add_argument("--min-quality", default="20", help="trim 3' bases below this Phred score (default 20)")
    parser.add_argument("--min-length", default="30", help="drop reads shorter than this after trimming (default 30)")
    parser.add_argument("reads", help="FASTQ file (Phred+33, plain or gzip)")
    parser.add_argument("outdir", help="output directory, e.g. trimmed/")
    args = parser.parse_args()
    min_quality = int_arg("--min-quality", args.min_quality, 0, 93)
    min_length = int_arg("--min-length", args.min_length, 1)

    counts = dict.fromkeys(["reads_in", "reads_trimmed", "reads_dropped", "reads_out",
                            "bases_in", "bases_trimmed", "bases_dropped", "bases_out"], 0)
    with AtomicWriter(os.path.join(args.outdir, "reads.fastq")) as out:
        for read_id, seq, qual in read_fastq(args.reads):
            counts["reads_in"] += 1
            counts["bases_in"] += len(seq)
            keep = trimmed_length(qual, min_quality)
            if keep < len(seq):
                counts["reads_trimmed"] += 1
                counts["bases_trimmed"] += len(seq) - keep
            if keep < min_length:
                counts["reads_dropped"] += 1
                counts["bases_dropped"] += keep
                continue
            counts["reads_out"] += 1
            counts["bases_out"] += keep
            out.write("@{}\n{}\n+\n{}\n".format(read_id, seq[:keep], qual[:keep]))
    pairs = [("min_quality", min_quality), ("min_length", min_length)] + [(k, counts[k]) for k in [
        "reads_in", "reads_trimmed", "reads_dropped", "reads_out",
        "bases_in", "bases_trimmed", "bases_dropped", "bases_out"]]
    write_atomic(os.path.join(args.outdir, "trim.tsv"), format_kv(pairs))
    print("trim: {reads_in} reads in, {reads_trimmed} trimmed, {reads_dropped} dropped, {reads_out} out; "
          "{bases_trimmed} bases trimmed".format(**counts))


if __name__ == "__main__":
    run_main("trim.py", main)
