#!/usr/bin/env python3
"""bgzip — compresses a file in BGZF, the blocked gzip of bgzip/htslib (tabix-indexable).

    bgzip.py IN OUT.gz

BGZF is a series of gzip members of at most 64 KiB each, every one carrying its size in a
'BC' extra field, and an empty end-of-file member. Any gzip reader (zcat, Python's gzip)
reads it as one stream. The output is deterministic (mtime 0).
"""

import argparse
import os
import struct
import sys
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vclib import run_main, write_atomic  # noqa: E402

BLOCK = 0xff00
EOF_BLOCK = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def block(data):
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    cdata = deflate.compress(data) + deflate.flush()
    size = 18 + len(cdata) + 8          # header with the extra field, data, CRC32 and ISIZE
    return (struct.pack("<BBBBIBBHBBHH", 31, 139, 8, 4, 0, 0, 255, 6, 66, 67, 2, size - 1)
            + cdata + struct.pack("<II", zlib.crc32(data) & 0xffffffff, len(data)))


def main():
    parser = argparse.ArgumentParser(description="Compress a file in BGZF.")
    parser.add_argument("input")
    parser.add_argument("output")
    args = parser.parse_args()
    with open(args.input, "rb") as f:
        data = f.read()
    out = b"".join(block(data[i:i + BLOCK]) for i in range(0, len(data), BLOCK)) + EOF_BLOCK
    write_atomic(args.output, out)
    print("bgzip: {} -> {} ({} bytes -> {} bytes)".format(args.input, args.output, len(data), len(out)))


if __name__ == "__main__":
    run_main("bgzip.py", main)
