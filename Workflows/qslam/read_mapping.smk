# qslam read_mapping — maps the trimmed reads (genomic flanks after the LTR) to the reference.
#
#   trim/reads.fastq ─ split_reads ─ map_reads ×4 ─ merge_alignments ─ junctions ─ mapping_stats ─ all
#   reference ─ prepare_reference ─┘
#
# 10 jobs. The Hopper step `read_mapping` runs, in the job's workspace,
#   snakemake --snakefile <Workflows>/qslam/read_mapping.smk --directory <workspace>
#             --configfile <workspace>/config.yaml --cores 2 all
# Reads: trim/reads.fastq (left by the `trim` step), config inputs.reference (or
# HOPPER_INPUT_REFERENCE). Config: sample (required), min_mapq (20); by hand only: chunks (4),
# max_mismatches (2), fail_rule.
# Writes: ref/, mapping/chunks/, mapping/<sample>.sam, mapping/<sample>.junctions.tsv,
# mapping/<sample>.mapping.tsv. See common.smk for FAIL_<rule> (deliberate failures).

include: "common.smk"

MIN_MAPQ = _setting("min_mapq", 20, int, 0, 255)
CHUNKS = _setting("chunks", 4, int, 1, 64)
MAX_MISMATCHES = _setting("max_mismatches", 2, int, 0, 8)
REFERENCE = _input("reference")
CHUNK_IDS = ["{:02d}".format(i) for i in range(CHUNKS)]

wildcard_constraints:
    chunk=r"\d+",

localrules: all


rule all:
    input:
        f"mapping/{SAMPLE}.junctions.tsv",
        f"mapping/{SAMPLE}.mapping.tsv",


rule prepare_reference:
    input: REFERENCE
    output:
        fasta="ref/reference.fa",
        contigs="ref/contigs.tsv",
    shell: FAIL_GUARD + '{PY:q} {SCRIPTS:q}/prepare_reference.py {input:q} {output.fasta:q} {output.contigs:q}'


rule split_reads:
    input: "trim/reads.fastq"
    output: expand("mapping/chunks/chunk{chunk}.fastq", chunk=CHUNK_IDS)
    shell: FAIL_GUARD + '{PY:q} {SCRIPTS:q}/split_reads.py {input:q} {output:q}'


rule map_reads:
    input:
        reads="mapping/chunks/chunk{chunk}.fastq",
        fasta="ref/reference.fa",
        contigs="ref/contigs.tsv",
    output: "mapping/chunks/chunk{chunk}.sam"
    params: max_mismatches=MAX_MISMATCHES
    shell:
        FAIL_GUARD + '{PY:q} {SCRIPTS:q}/map_reads.py --max-mismatches {params.max_mismatches} '
        '{input.reads:q} {input.fasta:q} {input.contigs:q} {output:q}'


rule merge_alignments:
    input: expand("mapping/chunks/chunk{chunk}.sam", chunk=CHUNK_IDS)
    output: f"mapping/{SAMPLE}.sam"
    shell: FAIL_GUARD + '{PY:q} {SCRIPTS:q}/merge_sam.py {output:q} {input:q}'


rule junctions:
    input: f"mapping/{SAMPLE}.sam"
    output: f"mapping/{SAMPLE}.junctions.tsv"
    params: min_mapq=MIN_MAPQ
    shell: FAIL_GUARD + '{PY:q} {SCRIPTS:q}/junctions.py --min-mapq {params.min_mapq} {input:q} {output:q}'


rule mapping_stats:
    input:
        sam=f"mapping/{SAMPLE}.sam",
        junctions=f"mapping/{SAMPLE}.junctions.tsv",
    output: f"mapping/{SAMPLE}.mapping.tsv"
    params: min_mapq=MIN_MAPQ
    shell:
        FAIL_GUARD + '{PY:q} {SCRIPTS:q}/mapping_stats.py --min-mapq {params.min_mapq} '
        '{input.sam:q} {input.junctions:q} {output:q}'
