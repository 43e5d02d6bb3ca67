"""Every key a scenario file may hold, declared once.

These tables drive the parser's unknown-key check, the words of its error
messages ("expected ...") and the key reference in the README, which
`reference()` writes (a test keeps the two equal). A new key is a line here
and its reading in scenario.py.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from explorer.confine import inside
from explorer.intercept.groups import DEFAULT_GROUPS, GROUPS
from explorer.outcomes import EVIDENCE_INVARIANT
from explorer.scheduling.factory import CHECKPOINT_MODES, DEFAULT_CHECKPOINTS
from explorer.stores import STORE_KINDS

Kind = Literal[
    "string", "text", "integer", "number", "argv", "args", "env", "path", "tables", "table",
    "list", "regex", "repo_path", "inherit", "globs",
]

_EXPECTED: dict[Kind, str] = {
    "string": "a non-empty string",
    "text": "a string",
    "integer": "an integer >= {minimum:g}",
    "number": "a number >= {minimum:g}",
    "argv": "a non-empty list of strings",
    "args": "a list of strings",
    "env": "a table",
    "path": "a non-empty string",
    "tables": "a list of tables",
    "table": "a table",
    "list": "a list",
    "regex": "a non-empty string",
    "repo_path": "a relative path inside the repo dir (no leading /, no .. above it)",
    "inherit": "true, false or a list of variable names",
    "globs": "a list of globs relative to the repo dir",
}


@dataclass(frozen=True)
class Key:
    name: str
    kind: Kind
    meaning: str  # for the reference
    default: Any = None  # what the parser takes when the key is absent
    default_as: str = ""  # the default in words, when it depends on the rest of the file
    minimum: float = 0  # for integers and numbers
    maximum: float = math.inf
    expected_as: str = ""  # what an error says is expected, when the kind's words do not fit

    @property
    def expected(self) -> str:
        return self.expected_as or _EXPECTED[self.kind].format(minimum=self.minimum)

    def accepts(self, value: Any) -> bool:
        """Whether a value of the right type is in range: a number finite and from the
        minimum to the maximum (nan, inf and negatives slip past a bare `<`), a repo path
        inside the repo."""
        if self.kind in ("integer", "number"):
            return math.isfinite(value) and self.minimum <= value <= self.maximum
        if self.kind == "repo_path":
            return inside(value)
        return True

    @property
    def default_words(self) -> str:
        if self.default_as or self.default is None:
            return self.default_as
        if isinstance(self.default, float):
            return f"{self.default:g}"
        return json.dumps(list(self.default) if isinstance(self.default, tuple) else self.default)


@dataclass(frozen=True)
class Table:
    title: str  # as a scenario file spells it: "" for the top level, "[[ops]]"
    keys: tuple[Key, ...]

    def __getitem__(self, name: str) -> Key:
        return next(k for k in self.keys if k.name == name)

    def __iter__(self) -> Iterator[Key]:
        return iter(self.keys)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(k.name for k in self.keys)


TOP = Table("", (
    Key("name", "string", "the run's name, in traces and reports", default_as="the file's name"),
    Key("description", "text", "one line for people", ""),
    Key("iterations", "integer", "concurrent iterations", 50, minimum=0),
    Key("concurrency", "integer", "children of an iteration run at once",
        default_as="all ops", minimum=1),
    Key("timeout", "number", "seconds a child may run before its group is killed", 30.0,
        minimum=0.001),
    Key("fixtures", "path", "the dir `{fixtures}` expands to, relative to the file or "
        "absolute (it may be outside the repo dir)", default_as="the file's dir",
        expected_as="an existing directory"),
    Key("command", "argv", "argv prefix that an op's `args` are appended to"),
    Key("env", "env", "NAME = template: the children's environment, on top of what they "
        "inherit; NAME = false unsets one, `unset = [NAMES]` several"),
    Key("inherit_env", "inherit", "what the children inherit of the explorer's environment: "
        "true (all of it), false (nothing) or a list of the variable names allowed", True),
    Key("services", "tables", "processes started before the setup (below)"),
    Key("setup", "tables", "commands run one by one before the iterations (block 0)"),
    Key("ops", "tables", "the concurrent children of every iteration (at least one)",
        expected_as="at least one [[ops]] table (the concurrent children)"),
    Key("reconcile", "table", "the command that repairs: run after the last iteration, and on "
        "a copy to tell healed breaks from persistent ones"),
    Key("watch", "list", "paths in the repo dir whose changes are watched", (".",),
        expected_as="a non-empty list of paths relative to the repo dir"),
    Key("stores", "table", "the target's state, one `[stores.NAME]` table a store (below)"),
    Key("archive", "table", "what of the repo dir each iteration's start archive holds "
        "(below)"),
    Key("invariants", "list", 'what must hold: built-in names, "module:function" plugins, or '
        "{check, name, when, with} tables", default_as="none",
        expected_as="a list of names, `module:function` strings or tables"),
    Key("transients", "tables", "output lines that document a tolerated break (below)"),
    Key("expected_failures", "tables", "failures an op may end with that `children_succeed` "
        "accepts (below)"),
    Key("evidence", "tables", "output lines that prove a break (below)"),
    Key("model", "table", "a model of the ops, for the `serializable` check (below)"),
    Key("checkpoints", "table", "where controlled scheduling's checkpoints come from (below)"),
))

COMMAND = Table("[[setup]], [[ops]], [reconcile]", (
    Key("label", "string", "the name people see", default_as="its place, like `ops 2`"),
    Key("argv", "argv", "the whole command, templates (or `args`)"),
    Key("args", "args", "appended to the top-level `command` (or `argv`)"),
    Key("timeout", "number", "seconds, this command only", default_as="the scenario's",
        minimum=0.001),
))

SERVICE = Table("[[services]]", (
    Key("name", "string", "an identifier; the placeholder `{name}` expands to its URL"),
    Key("command", "argv", "argv of a process that prints its URL on its first stdout line "
        "and runs until killed"),
    Key("env", "env", "NAME = template, added to the explorer's environment for it"),
    Key("url_env", "string", "children get the URL in this environment variable"),
    Key("start_timeout", "number", "seconds to wait for the URL", 20.0, minimum=0.001),
))

TRANSIENT = Table("[[transients]]", (
    Key("pattern", "regex", "a regular expression; a group `extension` names what it concerns"),
    Key("invariants", "list", "the invariants it tolerates", default_as="all",
        expected_as="a list of invariant names"),
))

INVARIANT = Table("invariants = [{...}]", (
    Key("check", "string", 'a built-in name or "module:function"'),
    Key("name", "string", "the name its breaks carry", default_as="the check's"),
    Key("when", "string", "always (also while children run), quiescent or final",
        default_as="the check's"),
    Key("with", "table", "a built-in's options (see the built-ins below)"),
))

EXPECTED_FAILURE = Table("[[expected_failures]]", (
    Key("pattern", "regex", "a regular expression some line of the child's output matches"),
    Key("exit", "list", "the exit codes it may end with", default_as="any but 0",
        expected_as="a list of integers"),
    Key("ops", "list", "the labels of the commands it concerns", default_as="every command",
        expected_as="a list of command labels"),
))

EVIDENCE = Table("[[evidence]]", (
    Key("pattern", "regex", "a regular expression; a group `entity` (or `extension`) names "
        "what it concerns"),
    Key("invariant", "string", "the invariant its breaks count for, added when the scenario "
        "does not list it", EVIDENCE_INVARIANT),
    Key("means", "text", "what the line says happened, for the break's message", ""),
))

MODEL = Table("[model]", (
    Key("plugin", "string", "a module with `observe(snapshot)` and `apply(state, op)`, looked "
        "for beside the file and in `fixtures`"),
))

STORE = Table("[stores.NAME]", (
    Key("kind", "string", "what the store is: " + ", ".join(STORE_KINDS),
        expected_as="one of " + ", ".join(STORE_KINDS)),
    Key("path", "repo_path", "relative to the repo dir; templates and globs (`*`, `**`) "
        "allowed; it must stay inside the repo dir"),
    Key("query", "string", "sqlite: the read-only query whose rows the trace records and "
        "the faces show", default_as="every table, whole"),
))

ARCHIVE = Table("[archive]", (
    Key("include", "globs", "what is archived", default_as="everything"),
    Key("exclude", "globs", "what is not (a target's tooling inside the repo dir)", ()),
))

CHECKPOINTS = Table("[checkpoints]", (
    Key("mode", "string", "`hook` (the target calls the checkpoint hook) or `syscalls` (its "
        "file-system calls under the roots are held; the target is run unmodified); "
        "`--checkpoints` overrides it", DEFAULT_CHECKPOINTS,
        expected_as="one of " + ", ".join(CHECKPOINT_MODES)),
    Key("roots", "args", "syscalls mode: templates of the dirs under which calls are held; a "
        "relative one is under the repo dir", ("{repo}",),
        expected_as="a non-empty list of path templates"),
    Key("groups", "list", "syscalls mode: the call groups held (" + ", ".join(GROUPS) + ")",
        DEFAULT_GROUPS, expected_as="a non-empty list among " + ", ".join(GROUPS)),
    Key("release_points", "list", "globs of the checkpoints that follow a lock's release "
        "(`*lock-released`, `unlock:*`): a spin-waiting child may get the next step; "
        "`--release-points` overrides it", (),
        default_as="none", expected_as="a list of checkpoint name globs"),
    Key("release_window", "number", "the chance the step after a release point is open to "
        "spin-waiting children; `--release-window` overrides it", 0.5,
        maximum=1, expected_as="a number from 0 to 1"),
    Key("pct_steps", "integer", "PCT's k, about the checkpoints an iteration reaches, so its "
        "change points fall anywhere in one; `--pct-steps` overrides it",
        default_as="the mode's guess: " + ", ".join(
            f"{name} {mode.first_guess_steps}" for name, mode in CHECKPOINT_MODES.items()),
        minimum=1),
))

TABLES = (TOP, COMMAND, SERVICE, TRANSIENT, INVARIANT, EXPECTED_FAILURE, EVIDENCE, MODEL,
          STORE, ARCHIVE, CHECKPOINTS)

# What templates may name besides one placeholder per service (its URL).
PLACEHOLDERS: dict[str, str] = {
    "python": "the Python running the explorer",
    "repo": "the repo dir the children share",
    "fixtures": "the scenario's `fixtures` dir",
    "work": "the repo dir's parent, the explorer's scratch space",
    "profile": "what `--profile` says (empty without it)",
    "bugs": "what `--bugs` says, comma separated (empty without it)",
}


def reference() -> str:
    """The key reference, as the README shows it (Markdown)."""
    lines: list[str] = []
    for table in TABLES:
        lines.append("" if not table.title else f"\n{table.title}:\n")
        for key in table:
            default = f" (default: {key.default_words})" if key.default_words else ""
            lines.append(f"- `{key.name}`: {key.meaning}{default}")
    lines.append("\nPlaceholders in templates (argv, env, store paths), besides one per "
                 "service:\n")
    lines.extend(f"- `{{{name}}}`: {meaning}" for name, meaning in PLACEHOLDERS.items())
    lines.append("- `{env:NAME}`: the explorer's environment variable NAME (unset: a scenario "
                 "error)")
    return "\n".join(lines).strip() + "\n"
