# common.smk — included by read_mapping.smk and site_analysis.smk: config, paths, FAIL_ guard.
#
# Failing on purpose (for testing retries): every rule except `all` fails with exit status 1,
# before doing anything, when the file FAIL_<rule> exists in the workspace (`touch
# FAIL_map_reads`) or the config has `fail_rule: <rule>`; it prints "rule <rule>: failing on
# purpose (...)" on stderr. Remove the file and run again: Snakemake resumes at that rule.

import os
import re
import sys

SCRIPTS = os.path.join(workflow.basedir, "scripts")
PY = sys.executable     # the venv's Python: the scripts need only the standard library


def _setting(key, default, kind, minimum, maximum):
    value = config.get(key, default)
    try:
        if isinstance(value, bool):
            raise ValueError
        value = kind(value)
    except (TypeError, ValueError):
        raise ValueError("config {}: expected {}, got {!r}".format(key, kind.__name__, value))
    if not minimum <= value <= maximum:
        raise ValueError("config {}: must be between {} and {}, got {}".format(key, minimum, maximum, value))
    return value


def _input(name):
    path = (config.get("inputs") or {}).get(name) or os.environ.get("HOPPER_INPUT_" + name.upper())
    if not path:
        raise ValueError("config inputs.{} (or HOPPER_INPUT_{}) is not set".format(name, name.upper()))
    return os.path.abspath(str(path))


SAMPLE = str(config.get("sample", ""))
if not re.match(r"^[A-Za-z0-9._-]+$", SAMPLE):
    raise ValueError("config sample: required, and must match [A-Za-z0-9._-]+; got {!r}".format(SAMPLE))
FAIL_RULE = str(config.get("fail_rule", ""))
if not re.match(r"^[A-Za-z0-9_]*$", FAIL_RULE):
    raise ValueError("config fail_rule: expected a rule name, got {!r}".format(FAIL_RULE))

# Prepended to every rule's command; {rule} is the rule's name.
FAIL_GUARD = ('if [ -e "FAIL_{rule}" ] || [ "{rule}" = "' + FAIL_RULE + '" ]; then '
              'echo "rule {rule}: failing on purpose (FAIL_{rule} exists in the workspace, or config fail_rule)" >&2; '
              'exit 1; fi; ')
