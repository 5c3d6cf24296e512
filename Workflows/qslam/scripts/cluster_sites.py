#!/usr/bin/env python3
"""cluster_sites — merges junctions within a few bases of each other into one integration site.

    cluster_sites.py [--window 3] SITE_READS.tsv OUT.tsv

Junctions on the same contig and strand are chained while the gap between neighbours is at
most --window bases (single linkage); a chain is one site. Its position is the junction
with the most reads (copies), the leftmost on a tie. Jitter of a base or two at the
LTR-genome junction is common in integration-site data, so window 0 over-counts sites.

OUT.tsv has a header and the columns contig, strand, junction, site (the site's position),
reads (at this junction), in contig, strand, junction order.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qslamlib import AtomicWriter, int_arg, read_table, run_main  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description="Cluster junctions into integration sites.")
    parser.add_argument("--window", default="3")
    parser.add_argument("reads")
    parser.add_argument("out")
    args = parser.parse_args()
    window = int_arg("--window", args.window, 0, 1000)
    order = {}
    counts = {}         # (contig, strand) -> {junction: reads}
    for read, contig, strand, junction, _, _, copies in read_table(
            args.reads, ["read", "contig", "strand", "junction", "length", "umi", "copies"]):
        order.setdefault(contig, len(order))
        table = counts.setdefault((contig, strand), {})
        table[int(junction)] = table.get(int(junction), 0) + int(copies)
    lines = []
    sites = 0
    for contig, strand in sorted(counts, key=lambda k: (order[k[0]], k[1])):
        table = counts[(contig, strand)]
        chain = []
        for junction in sorted(table) + [None]:
            if chain and (junction is None or junction - chain[-1] > window):
                site = max(chain, key=lambda j: (table[j], -j))
                lines += ["{}\t{}\t{}\t{}\t{}\n".format(contig, strand, j, site, table[j]) for j in chain]
                sites += 1
                chain = []
            if junction is not None:
                chain.append(junction)
    with AtomicWriter(args.out) as out:
        out.write("contig\tstrand\tjunction\tsite\treads\n")
        out.writelines(lines)
    print("cluster_sites: {} junction positions -> {} sites (window {})".format(len(lines), sites, window))


if __name__ == "__main__":
    run_main("cluster_sites.py", main)
