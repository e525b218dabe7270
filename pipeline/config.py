"""Typed configuration: ``configs/*.yaml`` validated once, at the edge, into pydantic objects.

Every error names the file and the key (``configs/pipeline.yaml: network.key_figures.k: ...``)
so a user editing a config never meets a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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
FAMILIES = ("knowledge_types", "activities")


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid (message names file and key)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Label(_Strict):
    nl: str
    en: str


# ---------------------------------------------------------------- codebook
class Subtype(_Strict):
    id: str
    label: Label
    patterns: list[str] = Field(default_factory=list)


class Code(_Strict):
    id: str
    label: Label
    color: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")
    definition: str
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    subtypes: list[Subtype] = Field(default_factory=list)
    family: str = ""


class Family(_Strict):
    id: str
    label: Label
    definition: str
    codes: list[Code]


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
    def _unique_ids(self) -> Codebook:
        seen: set[str] = set()
        for fam in self.families:
            for code in fam.codes:
                if code.id in seen:
                    raise ValueError(f"duplicate code id {code.id!r}")
                seen.add(code.id)
                subs = [s.id for s in code.subtypes]
                if len(set(subs)) != len(subs):
                    raise ValueError(f"duplicate subtype id under {code.id!r}")
        return self

    @property
    def codes(self) -> list[Code]:
        """All codes, knowledge types first, each with its ``family`` filled in."""
        return [c.model_copy(update={"family": f.id}) for f in self.families for c in f.codes]

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

    @field_validator("interviewer_prefixes", "respondent_prefixes")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if not v or any(not p.strip() for p in v):
            raise ValueError("must be a non-empty list of non-empty prefixes")
        return v


class CodingConfig(_Strict):
    model: str
    evidence_terms: int = Field(ge=0, le=50)
    min_segments_per_kind: int = Field(ge=1)


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


def _read_yaml(path: Path) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config ({e})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} invalid YAML ({getattr(e, 'problem', e)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _validate(model: type[BaseModel], data: dict, path: Path) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        err["msg"] = err["msg"].removeprefix("Value error, ")   # pydantic's, for our own checks
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        more = f" (+{len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
        raise ConfigError(f"{path}: key {key}: {err['msg']}{more}") from None


def load_codebook(path: Path) -> Codebook:
    return _validate(Codebook, _read_yaml(path), path)  # type: ignore[return-value]


def load_profiles(path: Path, codebook: Codebook | None = None) -> ProfilesConfig:
    cfg: ProfilesConfig = _validate(ProfilesConfig, _read_yaml(path), path)  # type: ignore[assignment]
    if codebook is not None:
        known = set(codebook.code_ids)
        counts = ({f"n_{c}" for c in [*known, *codebook.subtype_ids]}
                  | {"n_activity_kinds", "n_activity_categories", "n_segments"})
        for i, p in enumerate(cfg.profiles):
            for j, c in enumerate(p.criteria):
                bad = [x for x in (c.codes or []) if x not in known]
                if bad:
                    raise ConfigError(
                        f"{path}: key profiles.{i}.criteria.{j}.codes: unknown code {bad[0]!r}")
                if c.feature.startswith("n_") and c.feature not in counts:
                    raise ConfigError(
                        f"{path}: key profiles.{i}.criteria.{j}.feature: {c.feature!r} counts "
                        f"a code the codebook does not have ({', '.join(sorted(known))})")
    return cfg


def load_pipeline_config(path: Path) -> PipelineConfig:
    return _validate(PipelineConfig, _read_yaml(path), path)  # type: ignore[return-value]


def load_settings(path: Path | None = None) -> Settings:
    """Load ``configs/pipeline.yaml`` (or ``path``) and the codebook and profiles it names."""
    path = Path(path) if path else DEFAULT_CONFIG
    pipe = load_pipeline_config(path)
    codebook = load_codebook(config_relative(path, pipe.codebook))
    profiles = load_profiles(config_relative(path, pipe.profiles), codebook)
    return Settings(pipeline=pipe, codebook=codebook, profiles=profiles, config_path=path)
