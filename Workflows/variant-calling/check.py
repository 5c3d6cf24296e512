#!/usr/bin/env python3
"""check — verifies a finished variant-calling run against the truth of make-data.py.

    check.py RESULTS_DIR TRUTH_VCF [--reference FASTA] [--min-recall 0.9] [--max-fp 2]

RESULTS_DIR holds the published calls/ and stats/ folders (a job's outbox/<id>/results/,
or the workspace). TRUTH_VCF is <sample>.truth.vcf; the sample name is its last header
column and the reference defaults to reference.fa beside it. Checks:

- calls/<sample>.vcf is VCF 4.2: the fileformat line first, ##contig lines with the
  reference's names and lengths, the #CHROM header with the sample column, 10 columns per
  record, REF equal to the reference base, records sorted by contig then position, no
  duplicate sites;
- calls/<sample>.vcf.gz decompresses to exactly the same bytes, and is BGZF (ends with the
  empty BGZF block);
- at least --min-recall of the truth's PASS SNVs are called with the right ALT, and at most
  --max-fp calls are not PASS truth SNVs (a subclonal LowAF truth site that is called counts
  as a false positive);
- stats/<sample>.stats.tsv agrees with the VCF (snvs, het, hom) and stats/<sample>.flagstat.tsv
  (reads, mapped).

Prints one line per check and exits 0 when all pass, 1 otherwise.
"""

import argparse
import gzip
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts"))
from vclib import InputError, read_fasta, read_kv, run_main  # noqa: E402

BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


class Checks(object):
    def __init__(self):
        self.failed = 0

    def check(self, condition, what, detail=""):
        print("{}  {}{}".format("ok  " if condition else "FAIL", what, "" if condition or not detail else ": " + detail))
        self.failed += not condition
        return condition


def read_vcf(path):
    """(meta lines, #CHROM columns, records as column lists)."""
    if not os.path.isfile(path):
        raise InputError("{}: missing".format(path))
    meta, columns, records = [], None, []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("##"):
                if columns is not None:
                    raise InputError("{}:{}: meta line after the #CHROM line".format(path, number))
                meta.append(line)
            elif line.startswith("#"):
                columns = line[1:].split("\t")
            elif line:
                if columns is None:
                    raise InputError("{}:{}: record before the #CHROM line".format(path, number))
                records.append(line.split("\t"))
    return meta, columns, records


def main():
    parser = argparse.ArgumentParser(description="Check a variant-calling run against the truth VCF.")
    parser.add_argument("results")
    parser.add_argument("truth")
    parser.add_argument("--reference")
    parser.add_argument("--min-recall", type=float, default=0.9)
    parser.add_argument("--max-fp", type=int, default=2)
    args = parser.parse_args()
    _, truth_columns, truth_records = read_vcf(args.truth)
    sample = truth_columns[-1]
    reference = dict(read_fasta(args.reference or os.path.join(os.path.dirname(args.truth) or ".", "reference.fa")))
    contig_order = list(reference)
    c = Checks()

    vcf_path = os.path.join(args.results, "calls", sample + ".vcf")
    meta, columns, records = read_vcf(vcf_path)
    c.check(meta[:1] == ["##fileformat=VCFv4.2"], "VCF starts with ##fileformat=VCFv4.2", repr(meta[:1]))
    declared = [m[len("##contig=<"):-1] for m in meta if m.startswith("##contig=<")]
    declared = [dict(kv.split("=", 1) for kv in d.split(",")) for d in declared]
    c.check([(d.get("ID"), d.get("length")) for d in declared]
            == [(n, str(len(s))) for n, s in reference.items()], "##contig lines match the reference")
    c.check(columns == ["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", sample],
            "#CHROM header with sample column " + sample, repr(columns))
    c.check(all(len(r) == 10 for r in records), "every record has 10 columns")
    bad_ref = [r for r in records if r[0] not in reference or not r[1].isdigit()
               or not 1 <= int(r[1]) <= len(reference[r[0]]) or reference[r[0]][int(r[1]) - 1] != r[3]]
    c.check(not bad_ref, "REF is the reference base at every site", repr(bad_ref[:3]))
    keys = [(contig_order.index(r[0]), int(r[1])) for r in records if not bad_ref]
    c.check(keys == sorted(keys) and len(set(keys)) == len(keys), "records sorted by contig and position, no duplicates")
    c.check(all(r[4] in "ACGT" and len(r[4]) == 1 and r[4] != r[3] for r in records), "every ALT is one other base")
    c.check(all(r[8] == "GT:AD:DP" and r[9].split(":")[0] in ("0/1", "1/1") for r in records),
            "FORMAT GT:AD:DP with genotype 0/1 or 1/1")

    gz_path = vcf_path + ".gz"
    if c.check(os.path.isfile(gz_path), "calls/{}.vcf.gz exists".format(sample)):
        with open(gz_path, "rb") as f:
            raw = f.read()
        with open(vcf_path, "rb") as f:
            plain = f.read()
        c.check(gzip.decompress(raw) == plain, "vcf.gz decompresses to the VCF")
        c.check(raw.endswith(BGZF_EOF) and raw[12:16] == b"BC\x02\x00", "vcf.gz is BGZF")

    truth = {(r[0], int(r[1])): r for r in truth_records}
    planted = {k: r for k, r in truth.items() if r[6] == "PASS"}
    called = {(r[0], int(r[1])): r for r in records}
    found = [k for k in planted if k in called and called[k][4] == planted[k][4]]
    false_pos = sorted(k for k in called if k not in planted)
    recall = len(found) / len(planted) if planted else 1.0
    c.check(recall >= args.min_recall, "recall {}/{} = {:.1%} (>= {:.0%})".format(
        len(found), len(planted), recall, args.min_recall),
        "missed " + ", ".join("{}:{}".format(*k) for k in sorted(set(planted) - set(found))))
    c.check(len(false_pos) <= args.max_fp, "false positives {} (<= {})".format(len(false_pos), args.max_fp),
            ", ".join("{}:{}".format(*k) for k in false_pos))
    gt_right = sum(1 for k in found if called[k][9].split(":")[0] == planted[k][9])
    print("info  genotypes right: {}/{}".format(gt_right, len(found)))

    stats = read_kv(os.path.join(args.results, "stats", sample + ".stats.tsv"))
    flags = read_kv(os.path.join(args.results, "stats", sample + ".flagstat.tsv"))
    gts = [r[9].split(":")[0] for r in records]
    c.check(stats.get("snvs") == str(len(records)) and stats.get("het") == str(gts.count("0/1"))
            and stats.get("hom") == str(gts.count("1/1")), "stats.tsv snvs/het/hom agree with the VCF")
    c.check(stats.get("reads") == flags.get("reads") and stats.get("mapped") == flags.get("mapped"),
            "stats.tsv reads/mapped agree with flagstat.tsv")
    c.check(float(flags.get("mapping_rate", 0)) >= 0.9, "mapping rate {} (>= 0.9)".format(flags.get("mapping_rate")))

    print("check: all passed" if not c.failed else "check: {} check(s) FAILED".format(c.failed))
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    run_main("check.py", main)
