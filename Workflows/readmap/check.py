#!/usr/bin/env python3
"""check — verifies a finished readmap run against the truth of make-data.py.

    check.py OUTDIR TRUTH [--reads FASTQ] [--reference FASTA] [--min-correct 0.95]

OUTDIR holds the published qc/, trimmed/, aligned/ and report/ folders (a job's
`outbox/<id>/results/`, or the workspace when the steps were run by hand). TRUTH is
`<sample>.truth.tsv`; the FASTQ and reference default to `<sample>.fastq` and
`reference.fa` beside it. Every number is recomputed independently:

- qc.tsv and per_position.tsv equal the FASTQ's counts, means and GC;
- trimmed/reads.fastq holds exactly the reads the trimming rule keeps (with the
  min_quality and min_length recorded in trim.tsv), and trim.tsv's counts add up;
- alignments.tsv has one line per trimmed read, every mismatch count is right and within
  max_mismatches, no read that fits its true place within max_mismatches is unmapped, and
  at least --min-correct of the trimmed reads sit at their true contig, position and strand
  (contaminants: unmapped); stats.tsv agrees with the lines;
- report/summary.json equals the TSVs and the per-contig counts, report.md shows them.

The accuracy threshold assumes the default params (min_quality 20, max_mismatches 2).
Prints one line per check and exits 0 when all pass, 1 otherwise.
"""

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from readmaplib import InputError, number, phred, read_fasta, read_fastq, read_kv, reverse_complement  # noqa: E402

FILES = ["qc/qc.tsv", "qc/per_position.tsv", "trimmed/reads.fastq", "trimmed/trim.tsv",
         "aligned/alignments.tsv", "aligned/stats.tsv", "report/report.md", "report/summary.json"]


class Checks(object):
    def __init__(self):
        self.failed = 0
        self.passed = 0

    def check(self, condition, what, detail=""):
        if condition:
            self.passed += 1
            print("ok    {}".format(what))
        else:
            self.failed += 1
            print("FAIL  {}{}".format(what, ": " + detail if detail else ""))
        return condition

    def equal(self, what, got, expected, tolerance=0.0):
        if isinstance(expected, float) or isinstance(got, float):
            try:
                same = abs(float(got) - float(expected)) <= tolerance + 1e-9
            except (TypeError, ValueError):
                same = False
        else:
            same = got == expected
        return self.check(same, what, "got {!r}, expected {!r}".format(got, expected))


def read_table(path, columns):
    """Rows (lists of strings) of a TSV whose header starts with `columns`."""
    with open(path) as f:
        header = f.readline().rstrip("\r\n").split("\t")
        if header[:len(columns)] != columns:
            raise InputError("{}: expected the header {}, got {}".format(path, "\t".join(columns), "\t".join(header)))
        return [line.rstrip("\r\n").split("\t") for line in f if line.strip()]


def trim_length(qual, min_quality):
    end = len(qual)
    while end > 0 and phred(qual[end - 1]) < min_quality:
        end -= 1
    return end


def count_mismatches(seq, ref):
    return sum(1 for a, b in zip(seq, ref) if a != b or a == "N")


def main():
    parser = argparse.ArgumentParser(description="Check a readmap run against the simulation's truth.")
    parser.add_argument("outdir", help="folder holding qc/, trimmed/, aligned/, report/")
    parser.add_argument("truth", help="<sample>.truth.tsv written by make-data.py")
    parser.add_argument("--reads", help="the input FASTQ (default: <sample>.fastq beside TRUTH)")
    parser.add_argument("--reference", help="the reference (default: reference.fa beside TRUTH)")
    parser.add_argument("--min-correct", type=float, default=0.95,
                        help="fraction of trimmed reads that must map to their true place (default 0.95)")
    args = parser.parse_args()
    if not args.truth.endswith(".truth.tsv"):
        raise InputError("TRUTH must be a <sample>.truth.tsv file, got {}".format(args.truth))
    sample = os.path.basename(args.truth)[:-len(".truth.tsv")]
    data_dir = os.path.dirname(args.truth)
    reads_path = args.reads or os.path.join(data_dir, sample + ".fastq")
    reference_path = args.reference or os.path.join(data_dir, "reference.fa")
    out = args.outdir
    c = Checks()

    print("checking {} against {} (reads {}, reference {})".format(out, args.truth, reads_path, reference_path))
    missing = [f for f in FILES if not os.path.isfile(os.path.join(out, f))]
    if not c.check(not missing, "all {} result files exist".format(len(FILES)), "missing " + ", ".join(missing)):
        return 1

    truth = {}
    for row in read_table(args.truth, ["read", "contig", "pos", "strand"]):
        truth[row[0]] = (row[1], None if row[2] == "*" else int(row[2]), row[3])
    reads = list(read_fastq(reads_path))
    contigs = read_fasta(reference_path)
    ref = dict(contigs)
    c.check([r[0] for r in reads] == list(truth), "truth lists the FASTQ's {} reads".format(len(reads)))

    # qc
    qc = {k: number(v) for k, v in read_kv(os.path.join(out, "qc/qc.tsv")).items()}
    bases = sum(len(s) for _, s, _ in reads)
    n_bases = sum(s.count("N") for _, s, _ in reads)
    gc = sum(s.count("G") + s.count("C") for _, s, _ in reads)
    quality = sum(phred(q) for _, _, qual in reads for q in qual)
    c.equal("qc reads", qc.get("reads"), len(reads))
    c.equal("qc bases", qc.get("bases"), bases)
    c.equal("qc shortest/longest", (qc.get("shortest"), qc.get("longest")),
            (min(len(s) for _, s, _ in reads), max(len(s) for _, s, _ in reads)))
    c.equal("qc n_bases", qc.get("n_bases"), n_bases)
    c.equal("qc mean_length", qc.get("mean_length"), bases / len(reads), 0.005)
    c.equal("qc mean_quality", qc.get("mean_quality"), quality / bases, 0.005)
    c.equal("qc gc_percent", qc.get("gc_percent"), 100.0 * gc / (bases - n_bases), 0.005)
    rows = read_table(os.path.join(out, "qc/per_position.tsv"), ["position", "reads", "mean_quality"])
    expected_rows = []
    for i in range(max(len(s) for _, s, _ in reads)):
        scores = [phred(qual[i]) for _, _, qual in reads if len(qual) > i]
        expected_rows.append((i + 1, len(scores), sum(scores) / len(scores)))
    c.check(len(rows) == len(expected_rows) and all(
        int(r[0]) == e[0] and int(r[1]) == e[1] and abs(float(r[2]) - e[2]) <= 0.005 + 1e-9
        for r, e in zip(rows, expected_rows)),
        "qc per_position.tsv matches the FASTQ ({} positions)".format(len(expected_rows)))

    # trim
    trim = {k: number(v) for k, v in read_kv(os.path.join(out, "trimmed/trim.tsv")).items()}
    min_quality, min_length = trim.get("min_quality"), trim.get("min_length")
    expected_trimmed = []
    for read_id, seq, qual in reads:
        keep = trim_length(qual, min_quality)
        if keep >= min_length:
            expected_trimmed.append((read_id, seq[:keep], qual[:keep]))
    trimmed = list(read_fastq(os.path.join(out, "trimmed/reads.fastq"), allow_empty=True))
    c.check(trimmed == expected_trimmed, "trimmed/reads.fastq is the trimming rule applied (min_quality {}, "
            "min_length {}): {} reads".format(min_quality, min_length, len(expected_trimmed)),
            "{} reads, expected {}".format(len(trimmed), len(expected_trimmed)))
    c.equal("trim reads_in", trim.get("reads_in"), len(reads))
    c.equal("trim reads_out", trim.get("reads_out"), len(expected_trimmed))
    c.equal("trim reads_dropped", trim.get("reads_dropped"), len(reads) - len(expected_trimmed))
    c.equal("trim bases_in", trim.get("bases_in"), bases)
    c.equal("trim bases_out", trim.get("bases_out"), sum(len(s) for _, s, _ in expected_trimmed))
    c.equal("trim bases_trimmed", trim.get("bases_trimmed"),
            sum(len(q) - trim_length(q, min_quality) for _, _, q in reads))
    c.equal("trim bases add up (in = trimmed + dropped + out)", trim.get("bases_in"),
            trim.get("bases_trimmed", 0) + trim.get("bases_dropped", 0) + trim.get("bases_out", 0))

    # align
    stats = {k: number(v) for k, v in read_kv(os.path.join(out, "aligned/stats.tsv")).items()}
    max_mm = stats.get("max_mismatches")
    rows = read_table(os.path.join(out, "aligned/alignments.tsv"), ["read", "contig", "pos", "strand", "mismatches"])
    c.check([r[0] for r in rows] == [t[0] for t in expected_trimmed],
            "alignments.tsv has one line per trimmed read, in order")
    original_length = {read_id: len(seq) for read_id, seq, _ in reads}
    bad_rows, wrong_mm, missed, correct = [], [], [], 0
    per_contig = dict.fromkeys(ref, 0)
    for row, (read_id, seq, _) in zip(rows, expected_trimmed):
        if len(row) != 5:
            bad_rows.append(read_id)
            continue
        _, contig, pos, strand, mm = row
        true_contig, true_pos, true_strand = truth.get(read_id, ("*", None, "*"))
        true_mm = None
        if true_contig != "*":
            # Trimming shortens a minus-strand read at its reference-left end.
            if true_strand == "-":
                true_pos += original_length[read_id] - len(seq)
            oriented = seq if true_strand == "+" else reverse_complement(seq)
            true_mm = count_mismatches(oriented, ref[true_contig][true_pos - 1:true_pos - 1 + len(seq)])
        if contig == "*":
            if (pos, strand, mm) != ("*", "*", "*"):
                bad_rows.append(read_id)
            if true_mm is not None and true_mm <= max_mm:
                missed.append(read_id)
            elif true_contig == "*":
                correct += 1
            continue
        if contig not in ref or strand not in "+-" or not pos.isdigit() or not mm.isdigit():
            bad_rows.append(read_id)
            continue
        per_contig[contig] += 1
        start = int(pos) - 1
        oriented = seq if strand == "+" else reverse_complement(seq)
        window = ref[contig][start:start + len(seq)]
        actual = count_mismatches(oriented, window) if len(window) == len(seq) else None
        if actual is None or actual != int(mm) or actual > max_mm or (true_mm is not None and true_mm < actual):
            wrong_mm.append(read_id)
        if (contig, int(pos), strand) == (true_contig, true_pos, true_strand):
            correct += 1
    c.check(not bad_rows, "alignments.tsv lines are well formed", "bad lines for " + ", ".join(bad_rows[:5]))
    c.check(not wrong_mm, "every mapped read's mismatch count is right, at most {} and no worse than its true "
            "place".format(max_mm), "{} reads, e.g. {}".format(len(wrong_mm), ", ".join(wrong_mm[:5])))
    c.check(not missed, "no read that fits its true place with at most {} mismatches is unmapped".format(max_mm),
            "{} reads, e.g. {}".format(len(missed), ", ".join(missed[:5])))
    total = len(expected_trimmed)
    fraction = correct / total if total else 0.0
    c.check(fraction >= args.min_correct, "{} of {} trimmed reads ({:.2f} %) at their true contig, position and "
            "strand (need {:.0f} %)".format(correct, total, 100 * fraction, 100 * args.min_correct))
    mapped = sum(1 for r in rows if r[1] != "*")
    c.equal("stats reads", stats.get("reads"), len(rows))
    c.equal("stats mapped", stats.get("mapped"), mapped)
    c.equal("stats unmapped", stats.get("unmapped"), len(rows) - mapped)
    c.equal("stats mapping_rate", stats.get("mapping_rate"), mapped / len(rows) if rows else 0.0, 0.00005)
    c.equal("stats forward + reverse", (stats.get("forward"), stats.get("reverse")),
            (sum(1 for r in rows if r[3] == "+"), sum(1 for r in rows if r[3] == "-")))

    # report
    with open(os.path.join(out, "report/summary.json")) as f:
        try:
            summary = json.load(f)
        except ValueError as e:
            summary = {}
            c.check(False, "report/summary.json is JSON", str(e))
    c.equal("summary sample", summary.get("sample"), sample)
    c.equal("summary qc equals qc.tsv", summary.get("qc"), qc)
    c.equal("summary trim equals trim.tsv", summary.get("trim"), trim)
    c.equal("summary align equals stats.tsv", summary.get("align"), stats)
    c.equal("summary contigs equal the reference and alignments.tsv", summary.get("contigs"),
            [{"name": name, "length": len(seq), "reads": per_contig[name]} for name, seq in contigs])
    with open(os.path.join(out, "report/report.md")) as f:
        report = f.read()
    rate = "{:.2f} %".format(100.0 * mapped / len(rows)) if rows else "n/a"
    needles = ["# readmap report: " + sample, "| Reads | {} |".format(len(reads)),
               "| Reads kept | {} (".format(total), "| Mapped | {} ({}) |".format(mapped, rate)]
    needles += ["| {} | {} | {} |".format(name, len(seq), per_contig[name]) for name, seq in contigs]
    absent = [n for n in needles if n not in report]
    c.check(not absent, "report.md shows the sample, reads, kept reads, mapping rate {} and per-contig "
            "counts".format(rate), "missing " + "; ".join(repr(n) for n in absent))

    print("{}: {} checks passed, {} failed".format("PASS" if not c.failed else "FAIL", c.passed, c.failed))
    return 1 if c.failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except InputError as e:
        sys.stderr.write("check.py: error: {}\n".format(e))
        sys.exit(1)
    except OSError as e:
        sys.stderr.write("check.py: error: {}{}\n".format(
            "{}: ".format(e.filename) if getattr(e, "filename", None) else "", e.strerror or e))
        sys.exit(1)
