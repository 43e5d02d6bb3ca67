"""The checker tests' scenarios: the default scenario run on a defective variant of the
reference CLI (tests/checker/variants); bench scripts build theirs the same way."""

from __future__ import annotations

import re
from pathlib import Path

from explorer.scenario import DEFAULT_SCENARIO
from tests.core.core_helpers import REPO_ROOT

VARIANTS = Path(__file__).resolve().parent  # the dir holding the `variants` package


def variant_scenario(tmp_path: Path, variant: str, ops: list[str], top: str = "") -> Path:
    """The default scenario with the variant as its command and these ops."""
    text = DEFAULT_SCENARIO.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^command = .*$", f'command = ["{{python}}", "-m", "variants", '
                  f'"{variant}", "--repo-dir", "{{repo}}"]\n{top}', text, count=1)
    text = re.sub(r"(?m)^fixtures = .*$", f"fixtures = '{REPO_ROOT / 'fixtures'}'", text)
    text = re.sub(r'(?m)^PYTHONPATH = "\{fixtures\}"$',
                  f"PYTHONPATH = '{{fixtures}}:{VARIANTS}'", text)
    text = re.sub(r"(?ms)^\[\[ops\]\]\n.*?(?=^\[reconcile\])", "", text)
    blocks = "".join(
        f'[[ops]]\nlabel = "{label}"\nargs = {args}\n\n'
        for label, args in (
            (op, '["extension", ' + ", ".join(f'"{w}"' for w in op.split()) + "]")
            for op in ops
        )
    )
    text = text.replace("[reconcile]", blocks + "[reconcile]", 1)
    path = tmp_path / f"{variant}.toml"
    path.write_text(text, encoding="utf-8")
    return path


# The ops of the race inside one step (variant entry-with-the-files): alpha's two pulls
# take turns on alpha's lock and change its version, beta's pull writes the lockfile
# beside them, so most iterations change an entry a lost write would show.
WITHIN_A_STEP = ("entry-with-the-files",
                 ["pull @stress/alpha@2.0.0", "pull @stress/beta", "pull @stress/alpha@1.0.0"])


def within_a_step_scenario(tmp_path: Path, top: str = "") -> Path:
    variant, ops = WITHIN_A_STEP
    path = variant_scenario(tmp_path, variant, ops, top)
    # the default scenario's expected failure names an rm these ops do not have
    path.write_text(path.read_text(encoding="utf-8").replace('ops = ["rm @stress/alpha"]\n', ""),
                    encoding="utf-8")
    return path
