# qslam site_analysis — integration sites: clustering, fragment/UMI counting, clonality, report.
#
#   mapping/<sample>.junctions.tsv + umi/duplicates.tsv ─ site_reads ─ cluster_sites ─ count_fragments
#       ─ clonality ─ report ─ all
#
# 6 jobs. The Hopper step `site_analysis` runs, in the job's workspace,
#   snakemake --snakefile <Workflows>/qslam/site_analysis.smk --directory <workspace>
#             --configfile <workspace>/config.yaml --cores 2 all
# Reads what the earlier steps left: umi/duplicates.tsv, umi/umi.tsv, qc/qc.tsv, trim/trim.tsv,
# readlen/summary.tsv, mapping/<sample>.junctions.tsv, mapping/<sample>.mapping.tsv.
# Config: sample (required), cluster_window (3); by hand only: fail_rule.
# Writes: site_work/ (intermediates), sites/<sample>.sites.tsv, sites/<sample>.clonality.tsv,
# sites/<sample>.report.md, sites/<sample>.summary.json. See common.smk for FAIL_<rule>.

include: "common.smk"

CLUSTER_WINDOW = _setting("cluster_window", 3, int, 0, 1000)

localrules: all


rule all:
    input:
        f"sites/{SAMPLE}.sites.tsv",
        f"sites/{SAMPLE}.clonality.tsv",
        f"sites/{SAMPLE}.report.md",
        f"sites/{SAMPLE}.summary.json",


rule site_reads:
    input:
        junctions=f"mapping/{SAMPLE}.junctions.tsv",
        duplicates="umi/duplicates.tsv",
    output: "site_work/reads.tsv"
    shell: FAIL_GUARD + '{PY:q} {SCRIPTS:q}/site_reads.py {input.junctions:q} {input.duplicates:q} {output:q}'


rule cluster_sites:
    input: "site_work/reads.tsv"
    output: "site_work/clusters.tsv"
    params: window=CLUSTER_WINDOW
    shell: FAIL_GUARD + '{PY:q} {SCRIPTS:q}/cluster_sites.py --window {params.window} {input:q} {output:q}'


rule count_fragments:
    input:
        reads="site_work/reads.tsv",
        clusters="site_work/clusters.tsv",
    output: f"sites/{SAMPLE}.sites.tsv"
    shell: FAIL_GUARD + '{PY:q} {SCRIPTS:q}/count_fragments.py {input.reads:q} {input.clusters:q} {output:q}'


rule clonality:
    input: f"sites/{SAMPLE}.sites.tsv"
    output: f"sites/{SAMPLE}.clonality.tsv"
    shell: FAIL_GUARD + '{PY:q} {SCRIPTS:q}/clonality.py {input:q} {output:q}'


rule report:
    input:
        qc="qc/qc.tsv",
        umi="umi/umi.tsv",
        trim="trim/trim.tsv",
        readlen="readlen/summary.tsv",
        mapping=f"mapping/{SAMPLE}.mapping.tsv",
        sites=f"sites/{SAMPLE}.sites.tsv",
        clonality=f"sites/{SAMPLE}.clonality.tsv",
    output:
        md=f"sites/{SAMPLE}.report.md",
        json=f"sites/{SAMPLE}.summary.json",
    params: sample=SAMPLE
    shell:
        FAIL_GUARD + '{PY:q} {SCRIPTS:q}/report.py --sample {params.sample:q} --qc {input.qc:q} '
        '--umi {input.umi:q} --trim {input.trim:q} --readlen {input.readlen:q} --mapping {input.mapping:q} '
        '--sites {input.sites:q} --clonality {input.clonality:q} {output.md:q} {output.json:q}'
