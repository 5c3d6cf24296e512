#!/usr/bin/env python3
"""split_reads — validates the reads and deals them round-robin into N chunk files.

    split_reads.py READS.fastq CHUNK1.fastq CHUNK2.fastq ...

Read i (0-based) goes to chunk i mod N, so the chunks are balanced and the split is
deterministic. Plain or gzip-compressed input; the chunks are plain FASTQ.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vclib import AtomicWriter, read_fastq, run_main  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description="Split a FASTQ file into chunks, round-robin.")
    parser.add_argument("reads")
    parser.add_argument("chunks", nargs="+")
    args = parser.parse_args()
    writers = [AtomicWriter(path) for path in args.chunks]
    files = [w.__enter__() for w in writers]
    counts = [0] * len(files)
    try:
        for i, (read_id, seq, qual) in enumerate(read_fastq(args.reads)):
            files[i % len(files)].write("@{}\n{}\n+\n{}\n".format(read_id, seq, qual))
            counts[i % len(files)] += 1
    except BaseException as e:
        for w in writers:
            w.__exit__(type(e), e, None)
        raise
    for w in writers:
        w.__exit__(None, None, None)
    print("split_reads: {} reads into {} chunks ({})".format(sum(counts), len(counts), ", ".join(map(str, counts))))


if __name__ == "__main__":
    run_main("split_reads.py", main)
