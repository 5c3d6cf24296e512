#!/usr/bin/env python3
"""count_fragments — counts reads, fragments and UMIs per integration site.

    count_fragments.py SITE_READS.tsv CLUSTERS.tsv OUT.tsv

Per site: reads (all sequenced reads, duplicates included), fragments (distinct shear
lengths, the sonicLength idea: PCR copies of one fragment share its length) and umis
(distinct fragments told apart by UMI too: within each shear length, UMIs one mismatch from
a UMI with at least twice their reads minus one are merged into it, as umi_tools'
directional method does). Sites are ranked by umis, then reads; abundance is the site's
share of all umis, in percent.

OUT.tsv has a header and the columns rank, contig, position, strand, reads, fragments,
umis, abundance (3 decimals), junctions (distinct junction positions merged into the site).
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qslamlib import AtomicWriter, InputError, hamming, read_table, run_main  # noqa: E402


def directional_clusters(umi_counts):
    """Number of UMI groups after directional merging (count_a >= 2 count_b - 1, 1 mismatch)."""
    umis = sorted(umi_counts, key=lambda u: (-umi_counts[u], u))
    parent = {}
    for i, b in enumerate(umis):
        for a in umis[:i]:
            if umi_counts[a] >= 2 * umi_counts[b] - 1 and hamming(a, b) == 1:
                parent[b] = a
                break
    return sum(1 for u in umis if u not in parent)


def main():
    parser = argparse.ArgumentParser(description="Reads, fragments and UMIs per site.")
    parser.add_argument("reads")
    parser.add_argument("clusters")
    parser.add_argument("out")
    args = parser.parse_args()
    site_of = {}
    for contig, strand, junction, site, _ in read_table(args.clusters, ["contig", "strand", "junction", "site", "reads"]):
        site_of[(contig, strand, int(junction))] = int(site)
    order = {}
    sites = {}      # (contig, strand, site) -> {"reads", "lengths": {length: {umi: reads}}, "junctions"}
    for read, contig, strand, junction, length, umi, copies in read_table(
            args.reads, ["read", "contig", "strand", "junction", "length", "umi", "copies"]):
        key = (contig, strand, int(junction))
        if key not in site_of:
            raise InputError("{}: junction {}:{}{} of read {} is not in {}".format(
                args.reads, contig, junction, strand, read, args.clusters))
        order.setdefault(contig, len(order))
        s = sites.setdefault((contig, strand, site_of[key]), {"reads": 0, "lengths": {}, "junctions": set()})
        s["reads"] += int(copies)
        s["junctions"].add(int(junction))
        by_umi = s["lengths"].setdefault(int(length), {})
        by_umi[umi] = by_umi.get(umi, 0) + int(copies)
    rows = []
    for (contig, strand, position), s in sites.items():
        umis = sum(directional_clusters(by_umi) for by_umi in s["lengths"].values())
        rows.append([contig, position, strand, s["reads"], len(s["lengths"]), umis, len(s["junctions"])])
    rows.sort(key=lambda r: (-r[5], -r[3], order[r[0]], r[1], r[2]))
    total = sum(r[5] for r in rows)
    with AtomicWriter(args.out) as out:
        out.write("rank\tcontig\tposition\tstrand\treads\tfragments\tumis\tabundance\tjunctions\n")
        for rank, (contig, position, strand, reads, fragments, umis, junctions) in enumerate(rows, 1):
            out.write("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.3f}\t{}\n".format(
                rank, contig, position, strand, reads, fragments, umis, 100.0 * umis / total if total else 0.0,
                junctions))
    print("count_fragments: {} sites, {} UMI-fragments".format(len(rows), total))


if __name__ == "__main__":
    run_main("count_fragments.py", main)
