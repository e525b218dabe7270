"""Typed configuration: ``configs/*.yaml`` validated once, at the edge, into pydantic objects.

Every error is one line naming the file, the line and the key, in the form of the project's
other input errors, so a user editing a config never meets a traceback::

    configs/codebook.yaml:17: field 'families[knowledge_types].codes[focus].color': ...
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "ConfigError",
    "Codebook",
    "Code",
    "PipelineConfig",
    "ProfilesConfig",
    "Settings",
    "load_codebook",
    "load_pipeline_config",
    "load_profiles",
    "load_settings",
    "REPO_ROOT",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "configs" / "pipeline.yaml"
#: the code families, each an output column of the coding contract (DESIGN.md): a codebook has
#: exactly these
FAMILIES = ("knowledge_types", "activities")
#: the family whose codes may have sub-types: sub-types are activity kinds (CODEBOOK.md),
#: counted in ``n_activity_kinds``
SUBTYPE_FAMILY = "activities"
#: code and sub-type ids: they become column names (``p_<id>``, ``n_<id>``, a task CSV's
#: column) and are joined with ``;`` (code lists) and ``.`` (``<code>.<subtype>``)
ID_PATTERN = r"^[a-z][a-z0-9_]*$"
#: counts of the features table besides ``n_<code>`` (profile.py): a code with one of these
#: ids would give a second column of the same name
DERIVED_COUNTS = ("segments", "activity_kinds", "activity_categories")
#: prefixes of a code's own columns in a task CSV (``p_<code>`` score, ``s_<code>``
#: suggestion): a code id with one of them could be another code's column
CODE_COLUMN_PREFIXES = ("p_", "s_")
#: the columns written or read beside code columns: annotate.META_COLUMNS (task CSVs),
#: segment.SEGMENT_COLUMNS, io.LABEL_COLUMNS and the label store's, ``pipeline code``'s
#: input (id, text, line) and output (coding.assign: the family columns, evidence, coder,
#: WORD_COUNT_COLUMNS).
#: Listed here because those modules import pandas or spaCy and this one must stay light
#: (tests/test_config.py checks that it covers theirs).
TABLE_COLUMNS = frozenset({
    "segment_id", "school_id", "person_id", "source", "doc", "annotator", "time", "context",
    "text", "suggestion", "strategy", "priority", "reason", "notes", "note", "comment",
    "comments", "line", "reviewed", "opmerking", "opmerkingen", "toelichting", "notitie",
    "turn", "part", "speaker", "start", "end", "id", "code", "value", "import_hash",
    "knowledge_types", "activities", "activity_subtypes", "evidence", "coder",
    "content_words", "known_words"})


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid (one line: file, line, key)."""


class _At(ValueError):
    """A check's error at ``loc`` below the validated object (pydantic only knows the
    object), so the message can name the offending key and its line."""

    def __init__(self, loc: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.loc = loc


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Label(_Strict):
    """A name in both languages of the outputs (``language``): every label of a codebook and
    of the profiles is one."""

    nl: str
    en: str

    @model_validator(mode="before")
    @classmethod
    def _both_languages(cls, v: object) -> object:
        """``label: Focus`` written for ``{nl: Focus, en: Focus}``: say what a label takes
        (pydantic would say 'Input should be a valid dictionary or instance of Label')."""
        if not isinstance(v, dict | Label):
            raise ValueError("a label needs a Dutch and an English text: {nl: ..., en: ...}, "
                             f"not {v!r}")
        return v


# ---------------------------------------------------------------- codebook
def _check_id(v: str) -> str:
    if not re.fullmatch(ID_PATTERN, v):
        raise ValueError(f"id {v!r} does not match {ID_PATTERN} (lowercase letters, digits and "
                         "_, starting with a letter: ids become column names, ';' separates "
                         "codes and '.' a code from its sub-type)")
    return v


def _check_code_id(v: str) -> str:
    """A sub-type's id is only ever written ``<code>.<subtype>``; a code's own id is a column
    name by itself, so it must not be one the pipeline has already."""
    _check_id(v)
    if v in DERIVED_COUNTS:
        raise ValueError(f"id {v!r} is reserved: the pipeline derives a count n_{v} itself")
    if v in TABLE_COLUMNS:
        raise ValueError(f"id {v!r} is reserved: the pipeline's tables (task files, segments, "
                         "labels) have a column of that name beside the code columns")
    if v.startswith(CODE_COLUMN_PREFIXES):
        raise ValueError(f"id {v!r} starts with {v[:2]!r}: task files name a code's score "
                         f"and suggestion columns {' and '.join(CODE_COLUMN_PREFIXES)}<code>")
    return v


# characters of regular expressions and other tools' wildcards: the rule coder matches words
# (and a trailing * on a word), so a pattern holding one would silently match nothing
PATTERN_SYNTAX = re.compile(r"[?()\[\]{}|+\\^$]|\.\*")


def _check_pattern(v: str) -> str:
    """A word or phrase, each word with a letter or digit; ``*`` only at a word's end (any
    word starting so: ``leerling*``)."""
    if not any(ch.isalnum() for ch in v):
        raise ValueError(f"pattern {v!r} has no letter or digit: write a word or phrase")
    if PATTERN_SYNTAX.search(v):
        raise ValueError(f"pattern {v!r}: patterns are words, not regular expressions or "
                         "wildcards (only a trailing * on a word: leerling*); list the forms "
                         "as separate patterns")
    for word in v.split():
        stem = word.rstrip("*")
        if "*" in stem or (stem != word and not any(ch.isalnum() for ch in stem)):
            raise ValueError(f"pattern {v!r}: {word!r} is no word (a * only at the end of "
                             "a word with letters: leerling*)")
    return v


SubtypeId = Annotated[str, AfterValidator(_check_id)]
CodeId = Annotated[str, AfterValidator(_check_code_id)]
Pattern = Annotated[str, AfterValidator(_check_pattern)]


class Subtype(_Strict):
    id: SubtypeId
    label: Label
    patterns: list[Pattern] = Field(default_factory=list)


class Code(_Strict):
    id: CodeId
    label: Label
    color: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")
    definition: str
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    patterns: list[Pattern] = Field(default_factory=list)
    subtypes: list[Subtype] = Field(default_factory=list)
    family: str = ""


class Family(_Strict):
    id: str
    label: Label
    definition: str
    codes: list[Code]

    @field_validator("id")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in FAMILIES:
            raise ValueError(f"unknown family {v!r}: a codebook has exactly the families "
                             f"{' and '.join(FAMILIES)} (the coding contract's output columns "
                             "are named after them)")
        return v

    @field_validator("codes")
    @classmethod
    def _not_empty(cls, v: list[Code]) -> list[Code]:
        if not v:
            raise ValueError("a family needs at least one code")
        return v

    @model_validator(mode="after")
    def _subtypes_are_activities(self) -> Family:
        for j, code in enumerate(self.codes):
            if code.subtypes and self.id != SUBTYPE_FAMILY:
                raise _At(("codes", j, "subtypes"),
                          f"code {code.id!r} of family {self.id} has sub-types: only codes of "
                          f"{SUBTYPE_FAMILY} may (sub-types are activity kinds)")
        return self


class Codebook(_Strict):
    version: str
    name: str
    unit: str
    families: list[Family]

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_written(cls, v: object) -> object:
        if isinstance(v, int | float) and not isinstance(v, bool):   # YAML read 2.0 or 1.10
            raise ValueError(f"YAML read it as the number {v}: write it in quotes, as text "
                             "(version: \"1.10\"; unquoted, 1.10 becomes 1.1)")
        return v

    @model_validator(mode="after")
    def _each_family_once(self) -> Codebook:
        ids = [f.id for f in self.families]
        for i, fam in enumerate(ids):
            if fam in ids[:i]:
                raise _At(("families", i, "id"), f"family {fam!r} given twice: a codebook has "
                          f"exactly the families {' and '.join(FAMILIES)}, each once")
        missing = [f for f in FAMILIES if f not in ids]
        if missing:
            raise _At(("families",), f"missing family {missing[0]!r}: a codebook has exactly "
                      f"the families {' and '.join(FAMILIES)} (the coding contract's output "
                      "columns are named after them)")
        return self

    @model_validator(mode="after")
    def _unique_ids(self) -> Codebook:
        seen: dict[str, str] = {}
        for i, fam in enumerate(self.families):
            for j, code in enumerate(fam.codes):
                if code.id in seen:
                    raise _At(("families", i, "codes", j, "id"),
                              f"duplicate code id {code.id!r} in family {fam.id} (first in "
                              f"family {seen[code.id]})")
                seen[code.id] = fam.id
                subs: set[str] = set()
                for k, sub in enumerate(code.subtypes):
                    if sub.id in subs:
                        raise _At(("families", i, "codes", j, "subtypes", k, "id"),
                                  f"duplicate sub-type id {sub.id!r} under code {code.id!r} "
                                  f"of family {fam.id}")
                    subs.add(sub.id)
        return self

    @property
    def codes(self) -> list[Code]:
        """All codes, knowledge types first (whatever the file's order), each with its
        ``family`` filled in."""
        order = sorted(self.families, key=lambda f: FAMILIES.index(f.id))
        return [c.model_copy(update={"family": f.id}) for f in order for c in f.codes]

    @property
    def code_ids(self) -> list[str]:
        return [c.id for c in self.codes]

    def family_codes(self, family: str) -> list[str]:
        return [c.id for f in self.families if f.id == family for c in f.codes]

    @property
    def subtype_ids(self) -> list[str]:
        """Activity sub-types as ``<code>.<subtype>`` (e.g. ``exchange.input``)."""
        return [f"{c.id}.{s.id}" for c in self.codes for s in c.subtypes]

    def code(self, code_id: str) -> Code:
        for c in self.codes:
            if c.id == code_id:
                return c
        raise KeyError(code_id)


# ---------------------------------------------------------------- profiles
class Criterion(_Strict):
    feature: str
    why: str | Label   # one text, or {nl, en}: the reasons (profiles.csv) use the English one
    op: Literal[">=", ">", "<=", "<", "=="] | None = None
    value: float | None = None
    rank_in_school: int | None = None
    codes: list[str] | None = None
    # a threshold that defines the criterion ("all three categories"), not a choice: the
    # sensitivity check leaves it where it is
    fixed: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> Criterion:
        absolute = self.op is not None and self.value is not None
        relative = self.rank_in_school is not None
        if absolute == relative:
            raise ValueError("give either op+value or rank_in_school")
        if (self.feature == "share_of") != bool(self.codes):
            raise ValueError("share_of needs `codes`, and only share_of takes them")
        return self

    def why_in(self, language: str) -> str:
        """The criterion in words, in ``language`` (``nl`` or ``en``)."""
        return self.why if isinstance(self.why, str) else getattr(self.why, language)


class ProfileDef(_Strict):
    id: str
    label: Label
    color: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")
    criteria: list[Criterion]


class UndeterminedDef(_Strict):
    label: Label
    color: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")


class ProfilesConfig(_Strict):
    min_segments_for_category: int = Field(ge=1)
    sensitivity: float = Field(gt=0, lt=1)
    profiles: list[ProfileDef]
    undetermined: UndeterminedDef

    def label(self, profile_id: str, language: str) -> str:
        for p in self.profiles:
            if p.id == profile_id:
                return getattr(p.label, language)
        return getattr(self.undetermined.label, language)

    def color(self, profile_id: str) -> str:
        return next((p.color for p in self.profiles if p.id == profile_id), self.undetermined.color)


# ---------------------------------------------------------------- pipeline
class KeyFigureConfig(_Strict):
    k: int = Field(ge=1, le=50)
    measure: Literal["contacts", "in_ties", "out_ties", "betweenness"] = "contacts"


class NetworkConfig(_Strict):
    tie_scope: Literal["all", "boundary"] = "boundary"
    symmetrize_nonrespondents: bool = False
    brokerage_attribute: str = "role"
    data_quality_policy: Literal["drop", "fail"] = "drop"
    key_figures: KeyFigureConfig


class SegmentConfig(_Strict):
    max_chars: int = Field(ge=50)
    interviewer_prefixes: list[str]
    respondent_prefixes: list[str]
    other_prefixes: list[str] = []   # speakers whose turns are neither question nor answer
    # interviewer and respondent labels that are labels only where a transcript uses both
    # ("Vraag:", "Antwoord:"): alone, "Vraag:" is as often a research question in an answer
    paired_prefixes: list[tuple[str, str]] = []
    backchannel_words: int = Field(default=3, ge=0)
    ignore_lines: list[str] = []
    title_fields: list[str] = []   # labels of an observation log's title block: not coded

    @field_validator("interviewer_prefixes", "respondent_prefixes")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if not v or any(not p.strip() for p in v):
            raise ValueError("must be a non-empty list of non-empty prefixes")
        return v

    @field_validator("paired_prefixes")
    @classmethod
    def _pairs(cls, v: list[tuple[str, str]]) -> list[tuple[str, str]]:
        if any(not a.strip() or not b.strip() for a, b in v):
            raise ValueError("each pair is [interviewer label, respondent label], both "
                             "non-empty")
        return v


class CodingConfig(_Strict):
    model: str
    evidence_terms: int = Field(ge=0, le=50)
    min_segments_per_kind: int = Field(ge=1)
    min_positives: int = Field(default=10, ge=1)


class TrainingConfig(_Strict):
    C: float = Field(gt=0)
    word_ngrams: tuple[int, int]
    char_ngrams: tuple[int, int]
    min_df: int = Field(ge=1)
    threshold_folds: int = Field(ge=2)
    max_features_per_block: int = Field(ge=100)
    context_weight: float = Field(ge=0)

    @model_validator(mode="after")
    def _ranges(self) -> TrainingConfig:
        for name in ("word_ngrams", "char_ngrams"):
            lo, hi = getattr(self, name)
            if not 1 <= lo <= hi:
                raise ValueError(f"{name} must be [low, high] with 1 <= low <= high")
        return self


class EvaluationConfig(_Strict):
    """How `pipeline evaluate`, and `train` on its model card, say how sure their scores are
    (defaults: a config written before this section had none)."""

    resamples: int = Field(default=2000, ge=100)
    interval: float = Field(default=0.95, gt=0, lt=1)


class ReportConfig(_Strict):
    max_sociograms: int = Field(ge=0)
    max_qdpx_schools: int = Field(ge=0)
    max_console_warnings: int = Field(default=20, ge=0)


class PipelineConfig(_Strict):
    seed: int
    language: Literal["nl", "en"] = "nl"
    network: NetworkConfig
    segment: SegmentConfig
    coding: CodingConfig
    training: TrainingConfig
    evaluation: EvaluationConfig = EvaluationConfig()
    report: ReportConfig
    codebook: str
    profiles: str


class Settings(_Strict):
    """Everything a run needs, loaded once: pipeline settings, codebook, profile criteria."""

    pipeline: PipelineConfig
    codebook: Codebook
    profiles: ProfilesConfig
    config_path: Path
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    def resolve(self, relative: str) -> Path:
        """A path named in the config file (:func:`config_relative`)."""
        return config_relative(self.config_path, relative)

    @property
    def model_dir(self) -> Path:
        return self.resolve(self.pipeline.coding.model)

    def error_at(self, loc: tuple[str | int, ...], message: str) -> ConfigError:
        """An error of the pipeline config's setting at ``loc`` that only the data shows
        wrong (a staff column it names that is not there): file, line and key, as a
        validation error names them."""
        return _error(self.config_path, _read_yaml(self.config_path)[1], loc, message)

    @property
    def files(self) -> list[Path]:
        """The config files this run read (hashed into the manifest)."""
        return [self.config_path, self.resolve(self.pipeline.codebook),
                self.resolve(self.pipeline.profiles)]


# ---------------------------------------------------------------- loading
def config_relative(config_path: Path, relative: str) -> Path:
    """Where a path named in a config file is: an absolute one as it is; a relative one at the
    first of these places that has it: in the config file's own folder, a ``configs/...`` one
    also without its ``configs/`` there (a copy of ``configs/`` under another name:
    ``myconf/codebook.yaml`` for ``configs/codebook.yaml``), in the folder above (a project
    laid out like this repository, ``configs/`` inside it) and in this repository's root. One
    that exists in none of them (a model still to be trained) goes in the project: the folder
    above a ``configs/`` folder, else the config file's own."""
    p = Path(relative)
    if p.is_absolute():
        return p
    here = Path(config_path).absolute().parent
    project = here.parent if here.name == "configs" else here
    beside = [here / Path(*p.parts[1:])] if len(p.parts) > 1 and p.parts[0] == "configs" else []
    places = [here / p, *beside, here.parent / p, REPO_ROOT / p]
    return next((place for place in places if place.exists()), project / p)


def _read_yaml(path: Path) -> tuple[dict, yaml.Node]:
    """The file's data and its node tree (which knows each key's line)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config ({e})") from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{mark.line + 1}:" if mark else ""
        raise ConfigError(f"{path}:{where} invalid YAML ({getattr(e, 'problem', e)})") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        line = root.start_mark.line + 1 if root is not None else 1
        raise ConfigError(f"{path}:{line}: expected a mapping at the top level")
    _refuse_repeated_keys(root, path)
    return data, root


def _refuse_repeated_keys(node: yaml.Node, path: Path) -> None:
    """A key twice in one mapping (two ``patterns:`` under a code): YAML keeps the last one
    without a word, so the first one's setting would be lost."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name, line = str(key.value), key.start_mark.line + 1
            if name in seen:
                raise ConfigError(f"{path}:{line}: field '{name}': given twice in one mapping "
                                  f"(first on line {seen[name]}); YAML would keep only this one")
            seen[name] = line
            _refuse_repeated_keys(value, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_repeated_keys(item, path)


def _locate(root: yaml.Node, loc: tuple[str | int, ...]) -> tuple[int, str]:
    """The line of the deepest node on ``loc`` that the file has, and ``loc`` as a key to
    read: a list item by its ``id`` where it has one (``families[activities].codes[exchange]
    .color``), else by its index (``criteria[2]``)."""
    node, line, key, steps = root, root.start_mark.line + 1, "", 0
    for step in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == str(step)), None)
            if pair is None:
                break
            line, node, key = pair[0].start_mark.line + 1, pair[1], f"{key}.{step}"
        elif (isinstance(node, yaml.SequenceNode) and isinstance(step, int)
              and 0 <= step < len(node.value)):
            node = node.value[step]
            line, key = node.start_mark.line + 1, f"{key}[{_item_name(node, step)}]"
        else:
            break
        steps += 1
    for step in loc[steps:]:
        key += f"[{step}]" if isinstance(step, int) else f".{step}"
    return line, key.removeprefix(".")


def _item_name(node: yaml.Node, index: int) -> str | int:
    """A list item's ``id`` when it has a usable one, else its index."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == "id" and isinstance(v, yaml.ScalarNode) and v.value.strip():
                return v.value
    return index


def _error(path: Path, root: yaml.Node, loc: tuple[str | int, ...], message: str) -> ConfigError:
    """One line, as :class:`pipeline.io.InputError` writes them: ``file:line: field 'key':
    message``."""
    line, key = _locate(root, loc)
    field = f" field '{key}':" if key else ""
    return ConfigError(f"{path}:{line}:{field} {message}")


M = TypeVar("M", bound=BaseModel)


def _load(model: type[M], path: Path) -> tuple[M, yaml.Node]:
    data, root = _read_yaml(path)
    try:
        return model.model_validate(data), root
    except ValidationError as e:
        err = e.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")   # pydantic's, for our own checks
        below = err.get("ctx", {}).get("error")
        loc = (*err["loc"], *below.loc) if isinstance(below, _At) else err["loc"]
        more = f" (+{len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
        raise _error(path, root, loc, f"{msg}{more}") from None


def load_codebook(path: Path) -> Codebook:
    return _load(Codebook, path)[0]


def load_profiles(path: Path, codebook: Codebook | None = None) -> ProfilesConfig:
    cfg, root = _load(ProfilesConfig, path)
    if codebook is not None:
        known = set(codebook.code_ids)
        family = {c.id: c.family for c in codebook.codes}
        counts = {f"n_{c}" for c in [*known, *codebook.subtype_ids, *DERIVED_COUNTS]}
        for i, p in enumerate(cfg.profiles):
            for j, c in enumerate(p.criteria):
                for k, x in enumerate(c.codes or []):
                    if x not in known:
                        raise _error(path, root, ("profiles", i, "criteria", j, "codes", k),
                                     f"unknown code {x!r}")
                    if family[x] != family[c.codes[0]]:
                        # the share is of the first code's family: another family's count
                        # in it could take it above 1
                        raise _error(path, root, ("profiles", i, "criteria", j, "codes", k),
                                     f"code {x!r} is of family {family[x]}, "
                                     f"{c.codes[0]!r} of {family[c.codes[0]]}: share_of is "
                                     "the listed codes' share of their one family's codes")
                if c.feature.startswith("n_") and c.feature not in counts:
                    raise _error(path, root, ("profiles", i, "criteria", j, "feature"),
                                 f"{c.feature!r} counts a code the codebook does not have "
                                 f"({', '.join(sorted(known))})")
    return cfg


def load_pipeline_config(path: Path) -> PipelineConfig:
    if Path(path).is_dir():   # a project folder given as --config: name the file to give
        found = [f for f in (Path(path) / "pipeline.yaml", Path(path) / "configs" / "pipeline.yaml")
                 if f.is_file()]
        such = f", such as {' or '.join(map(str, found))}" if found else ""
        raise ConfigError(f"{path}: is a folder: --config takes a pipeline.yaml file{such}")
    try:
        return _load(PipelineConfig, path)[0]
    except ConfigError:
        data, root = _read_yaml(path)
        # the codebook or the profiles given as --config: say so, not that 'seed' is missing
        key, what, field = (("families", "a codebook", "codebook") if "families" in data else
                            ("profiles", "profile criteria", "profiles")
                            if isinstance(data.get("profiles"), list) else (None, "", ""))
        if key is None:
            raise
        raise _error(path, root, (key,), f"this file holds {what}, not the pipeline settings: "
                     "--config takes a pipeline.yaml (a copy of configs/pipeline.yaml), which "
                     f"names this file in its `{field}:` field") from None


def load_settings(path: Path | None = None) -> Settings:
    """Load ``configs/pipeline.yaml`` (or ``path``) and the codebook and profiles it names."""
    path = Path(path) if path else DEFAULT_CONFIG
    pipe = load_pipeline_config(path)
    codebook = load_codebook(config_relative(path, pipe.codebook))
    profiles = load_profiles(config_relative(path, pipe.profiles), codebook)
    return Settings(pipeline=pipe, codebook=codebook, profiles=profiles, config_path=path)
