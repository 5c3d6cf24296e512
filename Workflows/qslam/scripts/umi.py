#!/usr/bin/env python3
"""umi — moves each read's UMI into its id and collapses exact PCR duplicates.

    umi.py [--umi-length 8] [--umi-from prefix|name] READS.fastq OUTDIR

--umi-from prefix (default): the UMI is the first --umi-length bases of the read; they are
cut off the sequence. --umi-from name: the UMI is already the last '_'- or ':'-separated
field of the read id (as umi_tools extract or bcl-convert write it). Reads whose UMI has an
N (or the wrong length) are dropped. Reads with the same UMI and the same remaining sequence
are PCR duplicates: one is kept (the highest total quality, then the first), and the number
of reads it stands for is recorded.

OUTDIR/reads.fastq      the kept reads, input order, id <read id>_<UMI> (prefix mode) or the
                        id as is (name mode), UMI removed from the sequence
OUTDIR/duplicates.tsv   read (the kept id), umi, copies (reads collapsed into it, >= 1)
OUTDIR/umi.tsv          key<TAB>value: umi_length, reads_in, umi_with_n, reads_out (unique),
                        duplicates (reads_in - umi_with_n - reads_out), duplicate_percent,
                        distinct_umis
"""

import argparse
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qslamlib import (UMI_LENGTH, AtomicWriter, InputError, format_kv, int_arg, read_fastq,  # noqa: E402
                      run_main, write_atomic, write_fastq)


def main():
    parser = argparse.ArgumentParser(description="Extract UMIs and collapse exact duplicates.")
    parser.add_argument("--umi-length", default=str(UMI_LENGTH))
    parser.add_argument("--umi-from", choices=["prefix", "name"], default="prefix")
    parser.add_argument("reads")
    parser.add_argument("outdir")
    args = parser.parse_args()
    umi_length = int_arg("--umi-length", args.umi_length, 1, 32)
    kept = {}          # (umi, sequence) -> [order, read id, seq, qual, quality sum, copies]
    reads_in = with_n = 0
    for read_id, seq, qual in read_fastq(args.reads):
        reads_in += 1
        if args.umi_from == "prefix":
            umi, seq, qual = seq[:umi_length], seq[umi_length:], qual[umi_length:]
            new_id = "{}_{}".format(read_id, umi)
        else:
            umi = re.split(r"[_:]", read_id)[-1].upper()
            new_id = read_id
            if not re.match(r"^[ACGTN]+$", umi):
                raise InputError("{}: read {} has no UMI at the end of its id (--umi-from name)".format(
                    args.reads, read_id))
        if "N" in umi or len(umi) != umi_length or not seq:
            with_n += 1
            continue
        score = sum(ord(q) for q in qual)
        key = (umi, seq)
        entry = kept.get(key)
        if entry is None:
            kept[key] = [len(kept), new_id, seq, qual, score, 1]
        else:
            entry[5] += 1
            if score > entry[4]:
                entry[1:5] = [new_id, seq, qual, score]
    entries = sorted(kept.values())
    with AtomicWriter(os.path.join(args.outdir, "reads.fastq")) as out:
        for _, read_id, seq, qual, _, _ in entries:
            write_fastq(out, read_id, seq, qual)
    with AtomicWriter(os.path.join(args.outdir, "duplicates.tsv")) as out:
        out.write("read\tumi\tcopies\n")
        for (umi, _), e in sorted(kept.items(), key=lambda kv: kv[1][0]):
            out.write("{}\t{}\t{}\n".format(e[1], umi, e[5]))
    dups = reads_in - with_n - len(entries)
    write_atomic(os.path.join(args.outdir, "umi.tsv"), format_kv([
        ("umi_length", umi_length),
        ("reads_in", reads_in),
        ("umi_with_n", with_n),
        ("reads_out", len(entries)),
        ("duplicates", dups),
        ("duplicate_percent", "{:.2f}".format(100.0 * dups / reads_in)),
        ("distinct_umis", len({umi for umi, _ in kept})),
    ]))
    print("umi: {} reads -> {} unique ({} duplicates, {} with N in the UMI)".format(
        reads_in, len(entries), dups, with_n))


if __name__ == "__main__":
    run_main("umi.py", main)
