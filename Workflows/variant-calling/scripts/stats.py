#!/usr/bin/env python3
"""stats — the run's summary: mapping, depth, callable bases and the calls.

    stats.py --sample S [--min-depth 5] [--min-af 0.3] FLAGSTAT.tsv CALLS.vcf OUT.tsv PILEUP1.tsv ...

OUT.tsv has key<TAB>value lines: sample, min_depth, min_af; reads, mapped, mapping_rate
(from the flagstat); reference_bases, mean_depth (2 decimals), median_depth,
callable_bases (depth >= min_depth), callable_fraction (4 decimals); snvs, het, hom,
transitions, transversions, ts_tv (2 decimals, or NA).
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vclib import (InputError, check_sample, float_arg, format_kv, int_arg, read_kv, read_table,  # noqa: E402
                   run_main, write_atomic)

TRANSITIONS = {("A", "G"), ("G", "A"), ("C", "T"), ("T", "C")}


def main():
    parser = argparse.ArgumentParser(description="Summarise the run.")
    parser.add_argument("--sample", required=True)
    parser.add_argument("--min-depth", default="5")
    parser.add_argument("--min-af", default="0.3")
    parser.add_argument("flagstat")
    parser.add_argument("vcf")
    parser.add_argument("out")
    parser.add_argument("pileups", nargs="+")
    args = parser.parse_args()
    check_sample(args.sample)
    min_depth = int_arg("--min-depth", args.min_depth, 1)
    min_af = float_arg("--min-af", args.min_af, 0.0, 1.0)
    flags = read_kv(args.flagstat)
    depths = []
    for path in args.pileups:
        depths.extend(int(row[3]) for row in read_table(path, ["contig", "pos", "ref", "depth"]))
    depths.sort()
    snvs = het = hom = ts = 0
    with open(args.vcf) as f:
        for number, line in enumerate(f, 1):
            if line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 10:
                raise InputError("{}:{}: expected 10 VCF columns".format(args.vcf, number))
            snvs += 1
            gt = fields[9].split(":")[0]
            het += gt == "0/1"
            hom += gt == "1/1"
            ts += (fields[3], fields[4]) in TRANSITIONS
    n = len(depths)
    callable_bases = sum(1 for d in depths if d >= min_depth)
    write_atomic(args.out, format_kv([
        ("sample", args.sample),
        ("min_depth", min_depth),
        ("min_af", min_af),
        ("reads", flags.get("reads")),
        ("mapped", flags.get("mapped")),
        ("mapping_rate", flags.get("mapping_rate")),
        ("reference_bases", n),
        ("mean_depth", "{:.2f}".format(sum(depths) / n if n else 0.0)),
        ("median_depth", depths[n // 2] if n else 0),
        ("callable_bases", callable_bases),
        ("callable_fraction", "{:.4f}".format(callable_bases / n if n else 0.0)),
        ("snvs", snvs),
        ("het", het),
        ("hom", hom),
        ("transitions", ts),
        ("transversions", snvs - ts),
        ("ts_tv", "{:.2f}".format(ts / (snvs - ts)) if snvs - ts else "NA"),
    ]))
    print("stats: {}: {} SNVs, mean depth {:.1f}".format(args.sample, snvs, sum(depths) / n if n else 0.0))


if __name__ == "__main__":
    run_main("stats.py", main)
