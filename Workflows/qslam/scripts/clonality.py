#!/usr/bin/env python3
"""clonality — how clonal the sample is, from the per-site UMI-fragment counts.

    clonality.py SITES.tsv OUT.tsv

OUT.tsv key<TAB>value: sites, umis, reads, top_site (contig:position:strand), top_abundance
(percent), top10_abundance, sites_over_1_percent, shannon (natural log), pielou_evenness
(shannon / ln sites), simpson (sum of squared shares), inverse_simpson, sites_with_one_umi.
"""

import argparse
import math
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qslamlib import format_kv, read_table, run_main, write_atomic  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description="Clonality indices.")
    parser.add_argument("sites")
    parser.add_argument("out")
    args = parser.parse_args()
    rows = read_table(args.sites, ["rank", "contig", "position", "strand", "reads", "fragments", "umis"])
    umis = [int(r[6]) for r in rows]
    total = sum(umis)
    shares = [u / total for u in umis] if total else []
    shannon = -sum(p * math.log(p) for p in shares if p > 0)
    simpson = sum(p * p for p in shares)
    write_atomic(args.out, format_kv([
        ("sites", len(rows)),
        ("umis", total),
        ("reads", sum(int(r[4]) for r in rows)),
        ("top_site", "{}:{}:{}".format(rows[0][1], rows[0][2], rows[0][3]) if rows else "NA"),
        ("top_abundance", "{:.3f}".format(100 * shares[0]) if shares else "0.000"),
        ("top10_abundance", "{:.3f}".format(100 * sum(shares[:10]))),
        ("sites_over_1_percent", sum(1 for p in shares if p > 0.01)),
        ("shannon", "{:.4f}".format(shannon)),
        ("pielou_evenness", "{:.4f}".format(shannon / math.log(len(rows)) if len(rows) > 1 else 0.0)),
        ("simpson", "{:.4f}".format(simpson)),
        ("inverse_simpson", "{:.2f}".format(1 / simpson if simpson else 0.0)),
        ("sites_with_one_umi", sum(1 for u in umis if u == 1)),
    ]))
    print("clonality: {} sites, top clone {:.1f} %, Shannon {:.3f}".format(
        len(rows), 100 * shares[0] if shares else 0.0, shannon))


if __name__ == "__main__":
    run_main("clonality.py", main)
