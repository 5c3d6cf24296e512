#!/usr/bin/env python3
"""report — the run's report: every step's numbers and the top integration sites.

    report.py --sample S [--top 20] --qc QC.tsv --umi UMI.tsv --trim TRIM.tsv --readlen SUMMARY.tsv
              --mapping MAPPING.tsv --sites SITES.tsv --clonality CLONALITY.tsv OUT.md OUT.json

OUT.json: {"sample", "job_id", "qc", "umi", "trim", "readlen", "mapping", "clonality":
{the key/value files, numbers as numbers}, "sites": [the --top first rows of SITES.tsv]}.
OUT.md shows the same for people.
"""

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qslamlib import check_sample, int_arg, read_kv, read_table, run_main, write_atomic  # noqa: E402


def number(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main():
    parser = argparse.ArgumentParser(description="Write the qslam report.")
    parser.add_argument("--sample", required=True)
    parser.add_argument("--top", default="20")
    for name in ("qc", "umi", "trim", "readlen", "mapping", "sites", "clonality"):
        parser.add_argument("--" + name, required=True)
    parser.add_argument("out_md")
    parser.add_argument("out_json")
    args = parser.parse_args()
    check_sample(args.sample)
    top = int_arg("--top", args.top, 1)
    parts = {name: {k: number(v) for k, v in read_kv(getattr(args, name)).items()}
             for name in ("qc", "umi", "trim", "readlen", "mapping", "clonality")}
    columns = ["rank", "contig", "position", "strand", "reads", "fragments", "umis", "abundance", "junctions"]
    sites = [dict(zip(columns, map(number, row))) for row in read_table(args.sites, columns)]
    summary = {"sample": args.sample, "job_id": os.environ.get("HOPPER_JOB_ID")}
    summary.update(parts)
    summary["sites"] = sites[:top]
    write_atomic(args.out_json, json.dumps(summary, indent=2) + "\n")

    qc, umi, trim, rl, mp, cl = (parts[k] for k in ("qc", "umi", "trim", "readlen", "mapping", "clonality"))
    md = ["# qsLAM-PCR integration sites: {}".format(args.sample), ""]
    if summary["job_id"]:
        md += ["Hopper job `{}`.".format(summary["job_id"]), ""]
    md += ["| stage | |", "|---|---|",
           "| reads | {} ({} % with the LTR, mean quality {}) |".format(qc["reads"], qc["ltr_percent"], qc["mean_quality"]),
           "| after UMI dedup | {} unique ({} % PCR duplicates) |".format(umi["reads_out"], umi["duplicate_percent"]),
           "| after trimming | {} ({} without LTR, {} too short) |".format(trim["reads_out"], trim["no_ltr"], trim["too_short"]),
           "| fragment length | {}-{} bp, median {} |".format(rl["shortest"], rl["longest"], rl["median"]),
           "| uniquely mapped | {} ({} multimapped, {} unmapped) |".format(mp["junction_reads"], mp["multimapped"], mp["unmapped"]),
           "| integration sites | {} ({} UMI-fragments) |".format(cl["sites"], cl["umis"]),
           "| top clone | {} at {} % |".format(cl["top_site"], cl["top_abundance"]),
           "| Shannon / inverse Simpson | {} / {} |".format(cl["shannon"], cl["inverse_simpson"]),
           "", "## Top {} sites".format(min(top, len(sites))), "",
           "| rank | site | reads | fragments | UMIs | abundance % |", "|---|---|---|---|---|---|"]
    md += ["| {rank} | {contig}:{position} ({strand}) | {reads} | {fragments} | {umis} | {abundance:.3f} |".format(**s)
           for s in sites[:top]]
    write_atomic(args.out_md, "\n".join(md) + "\n")
    print("report: {} and {}".format(args.out_md, args.out_json))


if __name__ == "__main__":
    run_main("report.py", main)
