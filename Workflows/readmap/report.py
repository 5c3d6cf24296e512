#!/usr/bin/env python3
"""report — one readable page and one JSON file from the qc, trim and align results.

    report.py --sample S001 [--from DIR] REFERENCE.fa OUTDIR

Reads DIR/qc/qc.tsv, DIR/trimmed/trim.tsv, DIR/aligned/stats.tsv and
DIR/aligned/alignments.tsv (DIR defaults to the current directory, the job's workspace)
and the reference (for contig names and lengths).

OUTDIR/report.md     sample, reads, trimming, mapping rate, reads per contig
OUTDIR/summary.json  {"sample", "job_id", "qc": {qc.tsv}, "trim": {trim.tsv},
                      "align": {stats.tsv}, "contigs": [{"name", "length", "reads"}]}
                     with the TSV values as numbers
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from readmaplib import (InputError, check_sample, dump_json, number, read_fasta, read_kv,  # noqa: E402
                        run_main, write_atomic)

QC_KEYS = ["reads", "bases", "mean_length", "shortest", "longest", "mean_quality", "gc_percent", "n_bases"]
TRIM_KEYS = ["min_quality", "min_length", "reads_in", "reads_trimmed", "reads_dropped", "reads_out",
             "bases_in", "bases_trimmed", "bases_dropped", "bases_out"]
ALIGN_KEYS = ["max_mismatches", "reads", "mapped", "unmapped", "mapping_rate", "forward", "reverse"]


def per_contig(path, names):
    """Mapped reads per contig name, from alignments.tsv."""
    if not os.path.isfile(path):
        raise InputError("{}: missing (did the align step run?)".format(path))
    counts = dict.fromkeys(names, 0)
    with open(path) as f:
        header = f.readline().rstrip("\r\n")
        if header.split("\t")[:2] != ["read", "contig"]:
            raise InputError("{}:1: expected the header read<TAB>contig<TAB>..., got {!r}".format(path, header))
        for number_, line in enumerate(f, 2):
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != 5:
                raise InputError("{}:{}: expected 5 columns, got {}".format(path, number_, len(fields)))
            contig = fields[1]
            if contig == "*":
                continue
            if contig not in counts:
                raise InputError("{}:{}: contig {} is not in the reference".format(path, number_, contig))
            counts[contig] += 1
    return counts


def percent(part, whole):
    return "{:.2f} %".format(100.0 * part / whole) if whole else "n/a"


def render(summary):
    def shown(section):
        return {k: "{:.2f}".format(v) if isinstance(v, float) else v for k, v in section.items()}
    qc, trim, align = shown(summary["qc"]), shown(summary["trim"]), shown(summary["align"])
    lines = ["# readmap report: {}".format(summary["sample"]), ""]
    if summary["job_id"]:
        lines += ["Job `{}`, workflow `readmap`.".format(summary["job_id"]), ""]
    lines += [
        "## Reads", "",
        "| | |", "|---|---:|",
        "| Reads | {} |".format(qc["reads"]),
        "| Bases | {} |".format(qc["bases"]),
        "| Mean length | {} (from {} to {}) |".format(qc["mean_length"], qc["shortest"], qc["longest"]),
        "| Mean quality (Phred) | {} |".format(qc["mean_quality"]),
        "| GC | {} % |".format(qc["gc_percent"]),
        "| N bases | {} |".format(qc["n_bases"]),
        "",
        "## Trimming", "",
        "3' bases below quality {} removed; reads shorter than {} dropped.".format(
            trim["min_quality"], trim["min_length"]), "",
        "| | |", "|---|---:|",
        "| Reads in | {} |".format(trim["reads_in"]),
        "| Reads trimmed | {} |".format(trim["reads_trimmed"]),
        "| Reads dropped | {} |".format(trim["reads_dropped"]),
        "| Reads kept | {} ({}) |".format(trim["reads_out"], percent(trim["reads_out"], trim["reads_in"])),
        "| Bases trimmed | {} |".format(trim["bases_trimmed"]),
        "",
        "## Mapping", "",
        "Both strands, at most {} mismatches, no indels.".format(align["max_mismatches"]), "",
        "| | |", "|---|---:|",
        "| Reads | {} |".format(align["reads"]),
        "| Mapped | {} ({}) |".format(align["mapped"], percent(align["mapped"], align["reads"])),
        "| Unmapped | {} |".format(align["unmapped"]),
        "| Forward / reverse | {} / {} |".format(align["forward"], align["reverse"]),
        "",
        "## Reads per contig", "",
        "| Contig | Length | Reads | Of mapped |", "|---|---:|---:|---:|",
    ]
    for contig in summary["contigs"]:
        lines.append("| {} | {} | {} | {} |".format(
            contig["name"], contig["length"], contig["reads"], percent(contig["reads"], align["mapped"])))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description="Summarise a readmap run as Markdown and JSON.")
    parser.add_argument("--sample", required=True, help="sample name")
    parser.add_argument("--from", dest="source", default=".",
                        help="folder holding qc/, trimmed/ and aligned/ (default: the current directory)")
    parser.add_argument("reference", help="the reference FASTA the reads were aligned to")
    parser.add_argument("outdir", help="output directory, e.g. report/")
    args = parser.parse_args()
    sample = check_sample(args.sample)
    src = args.source

    def section(path, keys):
        raw = read_kv(os.path.normpath(os.path.join(src, path)), keys)
        return {k: number(raw[k]) for k in keys}

    qc = section("qc/qc.tsv", QC_KEYS)
    trim = section("trimmed/trim.tsv", TRIM_KEYS)
    align = section("aligned/stats.tsv", ALIGN_KEYS)
    if trim["reads_in"] != qc["reads"]:
        raise InputError("trim saw {} reads but qc counted {}: were they run on the same FASTQ?".format(
            trim["reads_in"], qc["reads"]))
    if align["reads"] != trim["reads_out"]:
        raise InputError("align saw {} reads but trim kept {}: were they run on the same reads?".format(
            align["reads"], trim["reads_out"]))
    contigs = read_fasta(args.reference)
    alignments = os.path.normpath(os.path.join(src, "aligned/alignments.tsv"))
    counts = per_contig(alignments, [name for name, _ in contigs])
    if sum(counts.values()) != align["mapped"]:
        raise InputError("alignments.tsv has {} mapped reads but stats.tsv says {}".format(
            sum(counts.values()), align["mapped"]))

    summary = {
        "sample": sample,
        "job_id": os.environ.get("HOPPER_JOB_ID") or None,
        "qc": qc,
        "trim": trim,
        "align": align,
        "contigs": [{"name": name, "length": len(seq), "reads": counts[name]} for name, seq in contigs],
    }
    write_atomic(os.path.join(args.outdir, "report.md"), render(summary))
    write_atomic(os.path.join(args.outdir, "summary.json"), dump_json(summary))
    print("report: {}: {} reads, {} kept after trimming, {} mapped ({})".format(
        sample, qc["reads"], trim["reads_out"], align["mapped"], percent(align["mapped"], align["reads"])))


if __name__ == "__main__":
    run_main("report.py", main)
