# qslamlib — shared helpers for the qslam workflow's scripts (Python 3 standard library).
#
# The protocol's constants (UMI length, LTR end, linker adapter), FASTQ / FASTA parsing with
# validation (problems name the file and line), reverse complement, a seed-and-verify
# ungapped aligner, minimal SAM reading and writing, key/value TSV files, and atomic writes:
# every output is written under a hidden temporary name and renamed, so a failed, killed or
# re-run step never leaves a half-written file.

import gzip
import math
import os
import re
import sys

SAMPLE_PATTERN = re.compile(r"^[A-Za-z0-9._-]+$")
READ_BASES = frozenset("ACGTN")
REFERENCE_BASES = frozenset("ACGTNRYKMSWBDHV")
ACGT = frozenset("ACGT")
_COMPLEMENT = str.maketrans("ACGTNRYKMSWBDHV", "TGCANYRMKSWVHDB")

# Read layout (single-end, toy qsLAM-PCR): [UMI 8][LTR end 18][genomic flank][linker adapter...]
UMI_LENGTH = 8
LTR = "TGTGGAAAATCTCTAGCA"          # 3' end of the HIV-1 U5 LTR; the genome starts right after "CA"
ADAPTER = "AGATCGGAAGAGCACACGTCTGAACTCCAGTCAC"   # linker cassette side (Illumina TruSeq adapter)


class InputError(Exception):
    """A problem with an input file or argument; the message is shown as is."""


def run_main(program, main):
    """Runs main(); an InputError or OSError becomes `program: error: …` and exit 1."""
    try:
        main()
    except InputError as e:
        sys.stderr.write("{}: error: {}\n".format(program, e))
        sys.exit(1)
    except OSError as e:
        where = "{}: ".format(e.filename) if getattr(e, "filename", None) else ""
        sys.stderr.write("{}: error: {}{}\n".format(program, where, e.strerror or e))
        sys.exit(1)


def reverse_complement(seq):
    return seq.translate(_COMPLEMENT)[::-1]


def check_sample(sample):
    if not SAMPLE_PATTERN.match(sample):
        raise InputError("sample name {!r} must match {}".format(sample, SAMPLE_PATTERN.pattern))
    return sample


def int_arg(name, text, minimum=None, maximum=None):
    try:
        value = int(str(text).strip())
    except ValueError:
        raise InputError("{} must be an integer, got {!r}".format(name, text))
    if minimum is not None and value < minimum:
        raise InputError("{} must be at least {}, got {}".format(name, minimum, value))
    if maximum is not None and value > maximum:
        raise InputError("{} must be at most {}, got {}".format(name, maximum, value))
    return value


def float_arg(name, text, minimum=None, maximum=None):
    try:
        value = float(str(text).strip())
    except ValueError:
        raise InputError("{} must be a number, got {!r}".format(name, text))
    if math.isnan(value) or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise InputError("{} must be between {} and {}, got {}".format(name, minimum, maximum, text))
    return value


# ---------------------------------------------------------------------------------------------
# Files

def _open_lines(path):
    """Yields (line number, text without the line end) of a plain or gzip-compressed file."""
    if os.path.isdir(path):
        raise InputError("{}: is a directory, expected a file".format(path))
    with open(path, "rb") as probe:
        magic = probe.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        number = 0
        try:
            for raw in f:
                number += 1
                try:
                    text = raw.decode("ascii")
                except UnicodeDecodeError:
                    raise InputError("{}:{}: not ASCII text".format(path, number))
                yield number, text.rstrip("\r\n")
        except (OSError, EOFError) as e:
            raise InputError("{}: cannot read: {}".format(path, e))


def read_fastq(path, allow_empty=False):
    """Yields (read id, sequence, quality) from a 4-line FASTQ file (Phred+33)."""
    seen = set()
    lines = _open_lines(path)
    count = 0
    for number, header in lines:
        if header == "":
            for _, text in lines:
                if text != "":
                    raise InputError("{}:{}: blank line inside the file".format(path, number))
            break
        if not header.startswith("@") or not header[1:].split():
            raise InputError("{}:{}: expected a FASTQ header '@id', got {!r}".format(path, number, header[:40]))
        read_id = header[1:].split()[0]
        record = []
        for _ in range(3):
            nxt = next(lines, None)
            if nxt is None:
                raise InputError("{}:{}: truncated FASTQ record for read {}".format(path, number, read_id))
            record.append(nxt)
        (seq_line, seq), (plus_line, plus), (qual_line, qual) = record
        seq = seq.upper()
        if not seq or set(seq) - READ_BASES:
            raise InputError("{}:{}: read {} has an empty sequence or bases other than A, C, G, T, N".format(
                path, seq_line, read_id))
        if not plus.startswith("+"):
            raise InputError("{}:{}: expected the '+' line of read {}".format(path, plus_line, read_id))
        if len(qual) != len(seq) or any(not "!" <= q <= "~" for q in qual):
            raise InputError("{}:{}: read {} needs {} Phred+33 quality characters ('!'..'~')".format(
                path, qual_line, read_id, len(seq)))
        if read_id in seen:
            raise InputError("{}:{}: duplicate read id {}".format(path, number, read_id))
        seen.add(read_id)
        count += 1
        yield read_id, seq, qual
    if count == 0 and not allow_empty:
        raise InputError("{}: contains no reads".format(path))


def read_fasta(path):
    """[(name, sequence)] of a FASTA file in file order, upper-cased, validated."""
    contigs = []
    names = set()
    name = None
    chunks = []
    header_line = 0

    def finish():
        if name is not None:
            if not chunks:
                raise InputError("{}:{}: contig {} has no sequence".format(path, header_line, name))
            contigs.append((name, "".join(chunks)))

    for number, line in _open_lines(path):
        if line.startswith(">"):
            finish()
            fields = line[1:].split()
            if not fields:
                raise InputError("{}:{}: FASTA header has no contig name".format(path, number))
            name = fields[0]
            if name in names:
                raise InputError("{}:{}: duplicate contig name {}".format(path, number, name))
            names.add(name)
            chunks = []
            header_line = number
        elif line.strip():
            if name is None:
                raise InputError("{}:{}: sequence before the first '>' header (is this a FASTA file?)".format(
                    path, number))
            seq = line.strip().upper()
            if set(seq) - REFERENCE_BASES:
                raise InputError("{}:{}: contig {} has characters that are not IUPAC nucleotides".format(
                    path, number, name))
            chunks.append(seq)
    finish()
    if not contigs:
        raise InputError("{}: contains no contigs".format(path))
    return contigs


def read_contigs(path):
    """[(name, length)] from a contigs.tsv written by prepare_reference.py."""
    rows = read_table(path, ["contig", "length"])
    return [(r[0], int(r[1])) for r in rows]


def read_table(path, columns):
    """Rows (lists of strings) of a TSV whose header starts with `columns`."""
    if not os.path.isfile(path):
        raise InputError("{}: missing (did the rule that writes it run?)".format(path))
    with open(path) as f:
        header = f.readline().rstrip("\r\n").split("\t")
        if header[:len(columns)] != columns:
            raise InputError("{}:1: expected the header {}, got {}".format(
                path, "\t".join(columns), "\t".join(header)))
        return [line.rstrip("\r\n").split("\t") for line in f if line.strip()]


def read_kv(path):
    if not os.path.isfile(path):
        raise InputError("{}: missing (did the rule that writes it run?)".format(path))
    values = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if line:
                parts = line.split("\t")
                if len(parts) != 2:
                    raise InputError("{}:{}: expected key<TAB>value".format(path, number))
                values[parts[0]] = parts[1]
    return values


def format_kv(pairs):
    return "".join("{}\t{}\n".format(k, v) for k, v in pairs)


def _temporary(path):
    """`dir/.name.tmp.<pid>`; leftovers of a killed attempt are removed first."""
    directory, name = os.path.split(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    prefix = ".{}.tmp.".format(name)
    for entry in os.listdir(directory or "."):
        if entry.startswith(prefix):
            os.unlink(os.path.join(directory, entry))
    return os.path.join(directory, prefix + str(os.getpid()))


def hamming(a, b):
    return sum(1 for x, y in zip(a, b) if x != y) + abs(len(a) - len(b))


def write_fastq(out, read_id, seq, qual):
    out.write("@{}\n{}\n+\n{}\n".format(read_id, seq, qual))


def write_atomic(path, data):
    """Writes text (or bytes) to path through a temporary file and a rename."""
    tmp = _temporary(path)
    with open(tmp, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    os.replace(tmp, path)


class AtomicWriter(object):
    """A text file written under a temporary name, renamed to path on a clean close."""

    def __init__(self, path):
        self.path = path
        self.tmp = _temporary(path)
        self.file = open(self.tmp, "w")

    def __enter__(self):
        return self.file

    def __exit__(self, kind, value, traceback):
        self.file.close()
        if kind is None:
            os.replace(self.tmp, self.path)
        else:
            os.unlink(self.tmp)
        return False


# ---------------------------------------------------------------------------------------------
# Alignment

class Reference(object):
    """Contigs plus a k-mer index built on first use for each k."""

    def __init__(self, contigs):
        self.names = [name for name, _ in contigs]
        self.seqs = [seq for _, seq in contigs]
        self._indexes = {}

    def index(self, k):
        found = self._indexes.get(k)
        if found is None:
            found = {}
            for c, seq in enumerate(self.seqs):
                for start in range(len(seq) - k + 1):
                    kmer = seq[start:start + k]
                    if set(kmer) <= ACGT:
                        found.setdefault(kmer, []).append((c, start))
            self._indexes[k] = found
        return found


def _mismatches(read, ref, start, limit):
    count = 0
    for a, b in zip(read, ref[start:start + len(read)]):
        if a != b or a == "N":
            count += 1
            if count > limit:
                break
    return count


def _candidates(read, reference, max_mm, max_seed=12):
    length = len(read)
    k = min(max_seed, length // (max_mm + 1))
    if k < 8:
        return set()
    index = reference.index(k)
    found = set()
    for i in range(max_mm + 1):
        offset = i * k
        for c, start in index.get(read[offset:offset + k], ()):
            start -= offset
            if 0 <= start <= len(reference.seqs[c]) - length:
                found.add((c, start))
    return found


def align_read(seq, reference, max_mm):
    """Best ungapped placement of seq on either strand, by seed and verify.

    Returns None (unmapped) or (mismatches, contig number, 0-based start, strand, mapq);
    mapq is 0 when another placement has as few mismatches (a repeat), else 60 minus 10 per
    mismatch fewer than the runner-up has (at least 1)."""
    hits = []
    for strand, s in (("+", seq), ("-", reverse_complement(seq))):
        for c, start in _candidates(s, reference, max_mm):
            mm = _mismatches(s, reference.seqs[c], start, max_mm)
            if mm <= max_mm:
                hits.append((mm, c, start, strand))
    if not hits:
        return None
    hits.sort()
    best = hits[0]
    if len(hits) > 1 and hits[1][0] == best[0]:
        mapq = 0
    elif len(hits) > 1:
        mapq = max(1, 60 - 10 * (max_mm + 1 - (hits[1][0] - best[0])))
    else:
        mapq = 60
    return best + (mapq,)


# ---------------------------------------------------------------------------------------------
# SAM (a minimal subset: single-end, ungapped, CIGAR <n>M)

FLAG_UNMAPPED = 4
FLAG_REVERSE = 16


def sam_header(contigs, sort_order, program):
    lines = ["@HD\tVN:1.6\tSO:{}".format(sort_order)]
    lines += ["@SQ\tSN:{}\tLN:{}".format(name, length) for name, length in contigs]
    lines.append("@PG\tID:{0}\tPN:{0}".format(program))
    return "\n".join(lines) + "\n"


def sam_record(read_id, seq, qual, hit, contig_names):
    """One SAM line; hit from align_read (None: unmapped). SEQ/QUAL are on the forward strand."""
    if hit is None:
        return "{}\t4\t*\t0\t0\t*\t*\t0\t0\t{}\t{}\n".format(read_id, seq, qual)
    mm, c, start, strand, mapq = hit
    flag = 0
    if strand == "-":
        flag = FLAG_REVERSE
        seq, qual = reverse_complement(seq), qual[::-1]
    return "{}\t{}\t{}\t{}\t{}\t{}M\t*\t0\t0\t{}\t{}\tNM:i:{}\n".format(
        read_id, flag, contig_names[c], start + 1, mapq, len(seq), seq, qual, mm)


def read_sam(path):
    """(header lines, records); a record is a dict with qname, flag, rname, pos (1-based),
    mapq, seq, qual and the raw line."""
    if not os.path.isfile(path):
        raise InputError("{}: missing (did the rule that writes it run?)".format(path))
    header, records = [], []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("@"):
                header.append(line)
                continue
            fields = line.split("\t")
            if len(fields) < 11:
                raise InputError("{}:{}: a SAM record needs 11 columns, got {}".format(path, number, len(fields)))
            try:
                records.append({"qname": fields[0], "flag": int(fields[1]), "rname": fields[2],
                                "pos": int(fields[3]), "mapq": int(fields[4]), "cigar": fields[5],
                                "seq": fields[9], "qual": fields[10], "line": line})
            except ValueError:
                raise InputError("{}:{}: FLAG, POS and MAPQ must be integers".format(path, number))
    return header, records


def header_contigs(header):
    contigs = []
    for line in header:
        if line.startswith("@SQ"):
            tags = dict(t.split(":", 1) for t in line.split("\t")[1:] if ":" in t)
            contigs.append((tags["SN"], int(tags["LN"])))
    return contigs
