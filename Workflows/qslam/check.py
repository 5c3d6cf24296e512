#!/usr/bin/env python3
"""check — verifies a finished qslam run against the truth of make-data.py.

    check.py RESULTS_DIR TRUTH [--reads FASTQ] [--window 3] [--min-recall 0.9] [--max-false 2]

RESULTS_DIR holds the published qc/, umi/, trim/, readlen/, mapping/ and sites/ folders (a
job's outbox/<id>/results/, or the workspace). TRUTH is <sample>.truth.tsv; the sample is
its name's first part and the reads default to <sample>.fastq beside it. Checks:

- qc: the read and base counts equal the FASTQ's;
- umi: every kept read's id ends in the UMI its original read started with, the sequence
  lost exactly those bases, and the duplicate counts add up to the reads in;
- trim: the counts add up, no kept read is shorter than min_length or still holds the
  whole LTR or adapter, and every kept read is the tail of a umi read;
- readlen: the histogram is the trimmed reads' lengths;
- mapping: the stats agree with the junction lines;
- sites: at least --min-recall of the mappable true sites are found at their exact
  position and strand, at most --max-false reported sites are not within --window of a
  mappable true site, no two sites are within --window of each other on the same strand
  (junction jitter was merged), the two sites inside the repeat are not reported, and the UMI count
  of at least 90 % of the found sites is within 10 % (or 1) of the truth; the top clone is
  the truth's largest; clonality, summary.json and report.md agree with sites.tsv.

Prints one line per check and exits 0 when all pass, 1 otherwise.
"""

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts"))
from qslamlib import ADAPTER, LTR, UMI_LENGTH, read_fastq, read_kv, read_table, run_main  # noqa: E402


class Checks(object):
    def __init__(self):
        self.failed = 0

    def check(self, condition, what, detail=""):
        print("{}  {}{}".format("ok  " if condition else "FAIL", what, "" if condition or not detail else ": " + detail))
        self.failed += not condition
        return condition

    def equal(self, what, got, expected):
        return self.check(str(got) == str(expected), what, "got {}, expected {}".format(got, expected))


def main():
    parser = argparse.ArgumentParser(description="Check a qslam run against the truth.")
    parser.add_argument("results")
    parser.add_argument("truth")
    parser.add_argument("--reads")
    parser.add_argument("--window", type=int, default=3)
    parser.add_argument("--min-recall", type=float, default=0.9)
    parser.add_argument("--max-false", type=int, default=2)
    args = parser.parse_args()
    sample = os.path.basename(args.truth).split(".")[0]
    reads_path = args.reads or os.path.join(os.path.dirname(args.truth) or ".", sample + ".fastq")
    R = lambda *p: os.path.join(args.results, *p)  # noqa: E731
    c = Checks()

    raw = list(read_fastq(reads_path))
    original = {rid: seq for rid, seq, _ in raw}
    qc = read_kv(R("qc", "qc.tsv"))
    c.equal("qc reads", qc.get("reads"), len(raw))
    c.equal("qc bases", qc.get("bases"), sum(len(s) for _, s, _ in raw))

    umi = read_kv(R("umi", "umi.tsv"))
    kept = list(read_fastq(R("umi", "reads.fastq")))
    dups = read_table(R("umi", "duplicates.tsv"), ["read", "umi", "copies"])
    c.equal("umi reads_in", umi.get("reads_in"), len(raw))
    c.equal("umi reads_out = reads in umi/reads.fastq = duplicates.tsv rows", umi.get("reads_out"),
            "{}".format(len(kept)) if len(kept) == len(dups) else "{} / {}".format(len(kept), len(dups)))
    c.equal("duplicate copies add up to reads_in - umi_with_n", sum(int(d[2]) for d in dups),
            int(umi.get("reads_in", 0)) - int(umi.get("umi_with_n", 0)))
    bad = [rid for rid, seq, _ in kept
           if rid.rsplit("_", 1)[0] not in original
           or original[rid.rsplit("_", 1)[0]] != rid.rsplit("_", 1)[1] + seq
           or len(rid.rsplit("_", 1)[1]) != UMI_LENGTH]
    c.check(not bad, "every umi read = original minus its UMI, which ends its id", ", ".join(bad[:3]))
    umi_seq = {rid: seq for rid, seq, _ in kept}

    trim = read_kv(R("trim", "trim.tsv"))
    trimmed = list(read_fastq(R("trim", "reads.fastq")))
    c.equal("trim reads_in = umi reads_out", trim.get("reads_in"), len(kept))
    c.equal("trim reads_out = reads in trim/reads.fastq", trim.get("reads_out"), len(trimmed))
    c.equal("trim reads_in = no_ltr + too_short + reads_out", trim.get("reads_in"),
            sum(int(trim.get(k, 0)) for k in ("no_ltr", "too_short", "reads_out")))
    min_length = int(trim.get("min_length", 1))
    c.check(all(len(s) >= min_length for _, s, _ in trimmed), "every trimmed read >= min_length {}".format(min_length))
    c.check(not any(LTR in s or ADAPTER in s for _, s, _ in trimmed), "no trimmed read holds the whole LTR or adapter")
    c.check(all(rid in umi_seq and s in umi_seq[rid][len(LTR) - 2:] for rid, s, _ in trimmed),
            "every trimmed read comes from its umi read, after the LTR")

    hist = read_table(R("readlen", "histogram.tsv"), ["length", "reads"])
    lengths = {}
    for _, s, _ in trimmed:
        lengths[len(s)] = lengths.get(len(s), 0) + 1
    c.check({int(h[0]): int(h[1]) for h in hist if int(h[1])} == lengths, "readlen histogram = trimmed read lengths")
    c.equal("readlen summary reads", read_kv(R("readlen", "summary.tsv")).get("reads"), len(trimmed))

    mapping = read_kv(R("mapping", sample + ".mapping.tsv"))
    junctions = read_table(R("mapping", sample + ".junctions.tsv"), ["read", "umi", "contig", "strand", "junction"])
    c.equal("mapping reads = trimmed reads", mapping.get("reads"), len(trimmed))
    c.equal("mapping junction_reads = junction lines", mapping.get("junction_reads"), len(junctions))

    truth = read_table(args.truth, ["contig", "position", "strand", "fragments", "umis", "reads", "mappable"])
    mappable = {(t[0], int(t[1]), t[2]): t for t in truth if t[6] == "yes"}
    repeat = [(t[0], int(t[1]), t[2]) for t in truth if t[6] != "yes"]
    columns = ["rank", "contig", "position", "strand", "reads", "fragments", "umis", "abundance"]
    sites = read_table(R("sites", sample + ".sites.tsv"), columns)
    found = {(s[1], int(s[2]), s[3]): s for s in sites}
    hits = [k for k in mappable if k in found]
    recall = len(hits) / len(mappable) if mappable else 1.0
    c.check(recall >= args.min_recall, "sites found {}/{} = {:.1%} (>= {:.0%})".format(
        len(hits), len(mappable), recall, args.min_recall),
        "missed " + ", ".join("{}:{}{}".format(*k) for k in sorted(set(mappable) - set(hits))))

    def near(k, keys):
        return any(k[0] == t[0] and k[2] == t[2] and abs(k[1] - t[1]) <= args.window for t in keys)

    false_sites = [k for k in found if not near(k, mappable)]
    c.check(len(false_sites) <= args.max_false, "false sites {} (<= {})".format(len(false_sites), args.max_false),
            ", ".join("{}:{}{}".format(*k) for k in false_sites))
    c.check(not any(near(k, repeat) for k in found), "no site reported inside the repeat")
    crowded = [k for k in found if any(k != o and k[0] == o[0] and k[2] == o[2] and abs(k[1] - o[1]) <= args.window
                                       for o in found)]
    c.check(not crowded, "no two sites within {} bp on the same strand (jitter merged)".format(args.window),
            ", ".join("{}:{}{}".format(*k) for k in sorted(crowded)[:6]))
    close = [k for k in hits if abs(int(found[k][6]) - int(mappable[k][4])) <= max(1, 0.1 * int(mappable[k][4]))]
    c.check(len(close) >= 0.9 * len(hits), "UMI counts within 10 % (or 1) of the truth at {}/{} sites".format(
        len(close), len(hits)))
    if mappable and sites:
        top_true = max(mappable.values(), key=lambda t: int(t[4]))
        c.equal("top clone", "{}:{}:{}".format(sites[0][1], sites[0][2], sites[0][3]),
                "{}:{}:{}".format(top_true[0], top_true[1], top_true[2]))

    clon = read_kv(R("sites", sample + ".clonality.tsv"))
    c.equal("clonality sites", clon.get("sites"), len(sites))
    c.equal("clonality umis", clon.get("umis"), sum(int(s[6]) for s in sites))
    with open(R("sites", sample + ".summary.json")) as f:
        summary = json.load(f)
    c.check(summary.get("sample") == sample and summary.get("sites") and
            [(s["contig"], s["position"], s["umis"]) for s in summary["sites"]]
            == [(s[1], int(s[2]), int(s[6])) for s in sites[:len(summary["sites"])]],
            "summary.json agrees with sites.tsv")
    with open(R("sites", sample + ".report.md")) as f:
        report = f.read()
    c.check(sample in report and "{}:{} ({})".format(sites[0][1], sites[0][2], sites[0][3]) in report,
            "report.md names the sample and the top site")

    print("check: all passed" if not c.failed else "check: {} check(s) FAILED".format(c.failed))
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    try:
        run_main("check.py", main)
    except (KeyError, ValueError, IndexError) as e:
        sys.stderr.write("check.py: error: unexpected content: {!r}\n".format(e))
        sys.exit(1)
