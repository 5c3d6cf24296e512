# readmaplib — shared helpers for the readmap workflow's scripts (Python 3 standard library).
#
# Parsing of FASTQ / FASTA with validation (every problem is reported with file and line),
# reverse complement, key/value TSV files, and atomic writes so that a retried step never
# leaves a half-written output behind.

import gzip
import json
import os
import re
import sys

SAMPLE_PATTERN = re.compile(r"^[A-Za-z0-9._-]+$")
READ_BASES = frozenset("ACGTN")
# The reference may carry IUPAC ambiguity codes; they never match a read base.
REFERENCE_BASES = frozenset("ACGTNRYKMSWBDHV")
_COMPLEMENT = str.maketrans("ACGTNRYKMSWBDHV", "TGCANYRMKSWVHDB")


class InputError(Exception):
    """A problem with an input file or argument; the message is shown as is."""


def fail(program, message):
    """Prints `program: error: message` to stderr and exits with status 1."""
    sys.stderr.write("{}: error: {}\n".format(program, message))
    sys.exit(1)


def run_main(program, main):
    """Runs main(), turning InputError / OSError into a one-line message and exit 1."""
    try:
        main()
    except InputError as e:
        fail(program, str(e))
    except OSError as e:
        where = "{}: ".format(e.filename) if getattr(e, "filename", None) else ""
        fail(program, "{}{}".format(where, e.strerror or e))


def reverse_complement(seq):
    return seq.translate(_COMPLEMENT)[::-1]


def phred(char):
    return ord(char) - 33


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
                    raise InputError("{}:{}: not ASCII text (is this really a FASTQ/FASTA file?)".format(path, number))
                yield number, text.rstrip("\r\n")
        except (OSError, EOFError) as e:
            raise InputError("{}: cannot read: {}".format(path, e))


def read_fastq(path, allow_empty=False):
    """Yields (read id, sequence, quality string) from a 4-line FASTQ file (Phred+33).

    Checks: '@' header with an id, sequence of A/C/G/T/N, '+' separator (repeating the
    id, if anything), quality of the same length in '!'..'~', unique ids, no truncated
    record. Sequences are upper-cased. Raises InputError naming the file and line.
    """
    seen = set()
    lines = _open_lines(path)
    count = 0
    for number, header in lines:
        if header == "":
            # Blank lines are allowed only at the very end of the file.
            for later, text in lines:
                if text != "":
                    raise InputError("{}:{}: blank line inside the file".format(path, number))
            break
        if not header.startswith("@"):
            raise InputError("{}:{}: expected a FASTQ header starting with '@', got {}".format(
                path, number, _show(header)))
        read_id = header[1:].split(None, 1)[0] if header[1:].strip() else ""
        if not read_id:
            raise InputError("{}:{}: FASTQ header has no read id".format(path, number))
        record = []
        for _ in range(3):
            nxt = next(lines, None)
            if nxt is None:
                raise InputError("{}:{}: truncated FASTQ record for read {} (expected 4 lines)".format(
                    path, number, read_id))
            record.append(nxt)
        (seq_line, seq), (plus_line, plus), (qual_line, qual) = record
        seq = seq.upper()
        if seq == "":
            raise InputError("{}:{}: read {} has an empty sequence".format(path, seq_line, read_id))
        bad = set(seq) - READ_BASES
        if bad:
            raise InputError("{}:{}: read {} has invalid base(s) {} (expected A, C, G, T, N)".format(
                path, seq_line, read_id, ", ".join(repr(b) for b in sorted(bad))))
        if not plus.startswith("+"):
            raise InputError("{}:{}: expected the '+' separator line of read {}, got {}".format(
                path, plus_line, read_id, _show(plus)))
        if plus[1:] and plus[1:].split(None, 1)[0] != read_id:
            raise InputError("{}:{}: '+' line names {}, but the record is read {}".format(
                path, plus_line, _show(plus[1:]), read_id))
        if len(qual) != len(seq):
            raise InputError("{}:{}: read {} has {} quality characters for {} bases".format(
                path, qual_line, read_id, len(qual), len(seq)))
        for i, q in enumerate(qual):
            if not "!" <= q <= "~":
                raise InputError("{}:{}: read {} has an invalid quality character {!r} at column {} "
                                 "(Phred+33 uses '!'..'~')".format(path, qual_line, read_id, q, i + 1))
        if read_id in seen:
            raise InputError("{}:{}: duplicate read id {}".format(path, number, read_id))
        seen.add(read_id)
        count += 1
        yield read_id, seq, qual
    if count == 0 and not allow_empty:
        raise InputError("{}: contains no reads".format(path))


def read_fasta(path):
    """Returns [(name, sequence)] from a FASTA file, in file order, sequences upper-cased.

    Checks: a '>' header before any sequence, a name on every header, unique names, no
    empty contig, only nucleotide (IUPAC) letters. Raises InputError naming file and line.
    """
    contigs = []
    names = {}
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
            fields = line[1:].split(None, 1)
            if not fields:
                raise InputError("{}:{}: FASTA header has no contig name".format(path, number))
            name = fields[0]
            if name in names:
                raise InputError("{}:{}: duplicate contig name {} (first at line {})".format(
                    path, number, name, names[name]))
            names[name] = number
            chunks = []
            header_line = number
        elif line.strip() == "":
            continue
        else:
            if name is None:
                raise InputError("{}:{}: sequence before the first '>' header (is this a FASTA file?)".format(
                    path, number))
            seq = line.strip().upper()
            bad = set(seq) - REFERENCE_BASES
            if bad:
                raise InputError("{}:{}: contig {} has invalid character(s) {}".format(
                    path, number, name, ", ".join(repr(b) for b in sorted(bad))))
            chunks.append(seq)
    finish()
    if not contigs:
        raise InputError("{}: contains no contigs".format(path))
    return contigs


def _show(text, limit=40):
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _temporary(path):
    """`dir/.name.tmp.<pid>`: hidden, so an output glob such as `report/*` skips it; a
    leftover from a killed attempt is removed when the next attempt writes the file."""
    directory, name = os.path.split(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    prefix = ".{}.tmp.".format(name)
    for entry in os.listdir(directory or "."):
        if entry.startswith(prefix):
            os.unlink(os.path.join(directory, entry))
    return os.path.join(directory, prefix + str(os.getpid()))


def write_atomic(path, text):
    """Writes text to path through a temporary file and a rename."""
    tmp = _temporary(path)
    with open(tmp, "w") as f:
        f.write(text)
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


def format_kv(pairs):
    """key<TAB>value lines, in the given order."""
    return "".join("{}\t{}\n".format(k, v) for k, v in pairs)


def read_kv(path, required=()):
    """Reads a key<TAB>value file into an ordered dict of strings."""
    if not os.path.isfile(path):
        raise InputError("{}: missing (did the step that writes it run?)".format(path))
    values = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            parts = line.split("\t")
            if len(parts) != 2:
                raise InputError("{}:{}: expected key<TAB>value, got {}".format(path, number, _show(line)))
            values[parts[0]] = parts[1]
    missing = [k for k in required if k not in values]
    if missing:
        raise InputError("{}: missing key(s) {}".format(path, ", ".join(missing)))
    return values


def number(text):
    """'12' -> 12, '0.5' -> 0.5; other text unchanged."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def int_arg(name, text, minimum=None, maximum=None):
    """Parses an integer option such as --min-quality; an InputError names the option."""
    try:
        value = int(str(text).strip())
    except ValueError:
        raise InputError("{} must be an integer, got {!r}".format(name, text))
    if minimum is not None and value < minimum:
        raise InputError("{} must be at least {}, got {}".format(name, minimum, value))
    if maximum is not None and value > maximum:
        raise InputError("{} must be at most {}, got {}".format(name, maximum, value))
    return value


def check_sample(sample):
    if not SAMPLE_PATTERN.match(sample):
        raise InputError("sample name {!r} must match {}".format(sample, SAMPLE_PATTERN.pattern))
    return sample


def dump_json(value):
    return json.dumps(value, indent=2, sort_keys=False) + "\n"
