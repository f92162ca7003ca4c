"""One generation request, typed: the constraint spec, the sampling options and the prompt.

Every entry point builds its request here: :func:`awrs.generate` and
:func:`~awrs.sampling.api.make_sampler` take the keywords of :class:`SamplingOptions`; the
command line, ``awrs serve``, ``awrs batch``, ``awrs best-of-k`` and the benchmark harness turn
their constraint fields into a :class:`ConstraintSpec` and call :meth:`ConstraintSpec.build`.
A prompt is text, token ids or chat messages everywhere (:func:`encode_prompt`).

    spec = ConstraintSpec("grammar", lark_text, {"max_whitespace": 8})
    constraint = spec.build()              # Grammar(lark_text) & MaxWhitespace(8)
    options = SamplingOptions(method="smc", n_particles=8, seed=0)   # validated here
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeGuard, cast, get_args

from .errors import ConfigurationError

__all__ = ["METHODS", "KINDS", "ConstraintSpec", "SamplingOptions", "encode_prompt"]

#: a sampling method's name (see :func:`awrs.generate`)
Method = Literal["smc", "awrs", "mask", "rerank", "direct"]
#: the sampling methods, in the order errors and ``--help`` list them
METHODS: tuple[str, ...] = get_args(Method)
#: the kinds of constraint spec (the fields of a batch record, the ``awrs generate`` flags)
KINDS = ("json_schema", "regex", "pattern", "grammar", "sql", "smiles")
#: spec options every kind accepts, applied to the kinds they concern (a job's or a server's
#: settings, given once for all its specs): the others are the constructor's keywords
SETTINGS = ("max_whitespace", "sql_root")
_CLASSES = {
    "json_schema": "JSONSchema",
    "regex": "Regex",
    "pattern": "Pattern",
    "grammar": "Grammar",
    "sql": "SQL",
    "smiles": "SMILES",
}


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


# -- constraints -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ConstraintSpec:
    """A constraint as data: what it is (``kind``), its text or object (``source``) and options.

    Attributes:
        kind: ``"json_schema"`` (a schema object or its JSON text), ``"regex"`` (Python
            ``re`` syntax, full match), ``"pattern"`` (the ``regex`` package's syntax:
            back-references, look-arounds), ``"grammar"`` (Lark text), ``"sql"`` (DDL text,
            a Spider ``tables.json`` entry, or the path of an SQLite file) or ``"smiles"``
            (``True`` or a mapping of :class:`~awrs.SMILES` keywords; extra ``awrs[chem]``).
        source: the schema, pattern, grammar or database, as above.
        options: keywords of the constraint's class (:class:`~awrs.JSONSchema`,
            :class:`~awrs.Regex`, :class:`~awrs.Pattern`, :class:`~awrs.Grammar`,
            :class:`~awrs.SQL`; e.g. ``{"timeout": 0.5}`` for a pattern), plus the
            settings that every kind accepts and the kinds they concern apply:

            - ``max_whitespace``: the longest run of whitespace in a grammar
              (``Grammar & MaxWhitespace(n)``) or in SQL (``SQL(max_whitespace=n)``); ``None``
              or 0: unbounded. Absent: the class's default (a grammar unbounded, SQL 16).
            - ``sql_root``: when given, SQL text that is not DDL names an SQLite file inside
              this folder (symlinks and ``..`` resolved; ``None``: no file may be named), for
              specs from records a job does not trust; absent: ``SQL`` takes the text as is.
    """

    kind: str
    source: Any
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigurationError(
                f"unknown constraint kind {self.kind!r}: expected "
                "json_schema, regex, pattern, grammar, sql or smiles"
            )
        if not isinstance(self.options, Mapping):
            raise ConfigurationError(
                f"options of a {self.kind} spec must be a mapping of "
                f"keywords, got {type(self.options).__name__}"
            )
        object.__setattr__(self, "options", dict(self.options))

    @classmethod
    def from_file(
        cls, kind: str, path: str | Path, options: Mapping[str, Any] | None = None
    ) -> ConstraintSpec:
        """The spec of a file: a JSON Schema, a pattern, a Lark grammar (its folder searched
        by ``%import``), or for ``sql`` an SQLite database or a DDL file (``.sql``, ``.ddl``).

        Raises:
            ConfigurationError: the file cannot be read (or, for ``sql``, does not exist).
        """
        path, options = Path(path), dict(options or {})
        if kind == "sql":
            if not path.exists():
                raise ConfigurationError(
                    f"sql expects an SQLite file or a DDL file (.sql, "
                    f".ddl), got {str(path)!r}, which does not exist"
                )
            source = _read(path) if path.suffix in (".sql", ".ddl") else str(path)
        else:
            source = _read(path)
            if kind == "grammar":
                options.setdefault("import_paths", (str(path.parent),))
        return cls(kind, source, options)

    def build(self):
        """The :class:`~awrs.constraints.base.Constraint` of this spec.

        Raises:
            ConfigurationError: a source of the wrong type, an option the kind does not take,
                a bad setting, or what the constraint's class raises for its source.
        """
        import awrs

        kind, source = self.kind, self.source
        if kind in ("regex", "pattern", "grammar") and not isinstance(source, str):
            raise ConfigurationError(f"{kind} must be a string, got {type(source).__name__}")
        cls = getattr(awrs, _CLASSES[kind])
        kwargs = {k: v for k, v in self.options.items() if k not in SETTINGS}
        if kind == "smiles":
            kwargs.update(_smiles_options(source))
        _check_keywords(kind, cls, kwargs)
        if kind == "smiles":
            return cls(**kwargs)
        bound = (
            _whitespace(self.options["max_whitespace"])
            if "max_whitespace" in self.options
            else None
        )
        if kind == "grammar":
            grammar = cls(source, **kwargs)
            return grammar if bound is None else grammar & awrs.MaxWhitespace(bound)
        if kind == "sql":
            if "sql_root" in self.options:
                source = _sql_db(source, self.options["sql_root"])
            if "max_whitespace" in self.options:
                kwargs["max_whitespace"] = bound
            return cls(source, **kwargs)
        return cls(source, **kwargs)


def _smiles_options(source) -> dict[str, Any]:
    """The keywords a ``smiles`` spec's source names (``True``: the defaults)."""
    if source is True:
        return {}
    if isinstance(source, Mapping):
        bad = [k for k, v in source.items() if not isinstance(v, bool)]
        if bad:
            raise ConfigurationError(f"smiles options must be true or false, got {bad}")
        return dict(source)
    raise ConfigurationError(
        f"smiles expects true or a mapping of options (fragments, dummy_atoms, leading_space, "
        f"newline), got {type(source).__name__}"
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read {str(path)!r}: {exc.strerror}") from exc


def _check_keywords(kind: str, cls, kwargs: Mapping[str, Any]) -> None:
    """Refuse a keyword the constraint's class does not take (its source excluded)."""
    params = list(inspect.signature(cls).parameters.values())
    if params and params[0].kind is not inspect.Parameter.KEYWORD_ONLY:
        params = params[1:]  # the source
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    names = [p.name for p in params if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for key in kwargs:
        if key not in names:
            raise ConfigurationError(
                f"unknown option {key!r} for a {kind} constraint: "
                f"expected one of {[*names, *SETTINGS]}"
            )


def _whitespace(n) -> int | None:
    """The whitespace bound of the ``max_whitespace`` setting (``None`` or 0: unbounded)."""
    if n is None or (_is_int(n) and n == 0):
        return None
    if not _is_int(n) or n < 0:
        raise ConfigurationError(
            f"max_whitespace must be None or an integer >= 0 (0: unbounded), got {n!r}"
        )
    return int(n)


def _sql_db(value, sql_root: str | None):
    """``value`` itself, or for text that is not DDL the SQLite file it names under
    ``sql_root``: one refusal whether the path escapes the root or names no file."""
    from .constraints.sql.schema import looks_like_ddl

    if not isinstance(value, str) or looks_like_ddl(value):
        return value
    path = _under(value, sql_root)
    if path is None:
        shown = value if len(value) <= 200 else value[:200] + "..."
        raise ConfigurationError(
            f"sql {shown!r} is not DDL text (CREATE TABLE ...) nor an SQLite file this job may "
            f"open: expected DDL, a Spider tables.json entry, or the path of an existing file "
            f"inside the --sql-root directory" + ("" if sql_root else " (none was given)")
        )
    return path


def _under(value: str, sql_root: str | None) -> Path | None:
    """The existing file ``value`` names inside ``sql_root`` (symlinks and ``..`` resolved)."""
    if not sql_root:
        return None
    try:
        root = Path(sql_root).resolve(strict=True)
        path = (root / value).resolve(strict=True)
        return path if path.is_relative_to(root) and path.is_file() else None
    except (OSError, ValueError, RuntimeError):  # missing, unreadable, a NUL, a symlink loop
        return None


# -- sampling options --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SamplingOptions:
    """How to sample: the keywords of :func:`awrs.generate` and
    :func:`~awrs.sampling.api.make_sampler`, validated when the object is made.

    Attributes:
        method: one of :data:`METHODS` (``"smc", "awrs", "mask", "rerank", "direct"``; see
            :func:`awrs.generate`).
        n_particles: particles (SMC) or independent samples, >= 1.
        ess_threshold: SMC resampling threshold in [0, 1] (0: never, 1: whenever ESS < N).
        max_tokens: token budget per sequence, >= 1.
        temperature: the model's sampling temperature, > 0.
        seed: reproduces the run exactly; ``None`` draws one per run (kept in ``stats.seed``).
        critic: SMC only: a function of the decoded prefix returning a log-weight, applied as
            a twist (replaced at each step) and as a final score at the end of sequence.
        raw: do not apply the chat template to a text prompt.
        estimator: SMC only: ``"auto"`` (geometric when the top probability is >= 2/3, else
            recursive), ``"two-pass"``, ``"recursive"`` or ``"geometric"``.
        max_rejects: awrs and SMC: rejected candidates tolerated per token (``None``: no
            bound); more kill the particle, with weights kept proper.
        resampling: SMC only: ``"stratified"``, ``"systematic"`` or ``"multinomial"``.
        progress: show a progress bar.
        budget: smc and awrs: propose only tokens after which the text can still be completed
            within ``max_tokens`` (end of sequence included), so that SMC targets the model
            conditioned on the constraint *and* the budget; ``stats.budget_pruned`` counts the
            tokens it rejected. ``True`` also closes texts in time along a known completion
            where the constraint has no exact bound (JSON, grammars, SQL: close-forcing,
            ``stats.budget_forced``; see :mod:`awrs.sampling.budget`); ``"sound"`` prunes only
            tokens proven unable to finish; ``False`` restores budget-unaware sampling. Other
            methods ignore it.
        budget_twist: SMC only (with ``budget=True``): tilt the weights by a heuristic
            probability of finishing in the budget left (a twist, cancelled when a particle
            finishes, so the target is unchanged). ``None`` (default): on for ``smc`` with
            ``budget=True``, off otherwise.
        guide: SMC only: tilt the weights by the constraint's own guide
            (``constraint.guide``, e.g. :class:`~awrs.SQL`'s schema check), replaced at each
            step and cancelled when a particle finishes (the target is unchanged, unlike
            ``critic``, which also scores the finished text). ``None`` (default): on for
            ``smc`` when the constraint has a guide.

    Raises:
        ConfigurationError: a value out of range, an unknown name, or an option the method
            does not use.
    """

    method: str = "smc"
    n_particles: int = 8
    ess_threshold: float = 0.5
    max_tokens: int = 256
    temperature: float = 1.0
    seed: int | None = None
    critic: Callable[[str], float] | None = None
    raw: bool = False
    estimator: str = "auto"
    max_rejects: int | None = None
    resampling: str = "stratified"
    progress: bool = False
    budget: bool | str = True
    budget_twist: bool | None = None
    guide: bool | None = None

    def __post_init__(self):
        from .sampling.resample import check_scheme
        from .sampling.token import check_estimator

        method = self.method
        if method not in METHODS:
            raise ConfigurationError(f"unknown method {method!r}: expected one of {METHODS}")
        n = self.n_particles
        if not _is_int(n) or n < 1:
            raise ConfigurationError(f"n_particles must be an integer >= 1, got {n!r}")
        if not _is_int(self.max_tokens) or self.max_tokens < 1:
            raise ConfigurationError(f"max_tokens must be an integer >= 1, got {self.max_tokens!r}")
        t = self.temperature
        if not isinstance(t, numbers.Real) or not (0 < t < math.inf):
            raise ConfigurationError(f"temperature must be a finite number > 0, got {t!r}")
        ess = self.ess_threshold
        if not isinstance(ess, numbers.Real) or not 0 <= ess <= 1:
            raise ConfigurationError(f"ess_threshold must lie in [0, 1], got {ess!r}")
        check_estimator(self.estimator)
        check_scheme(self.resampling)
        mr = self.max_rejects
        if mr is not None and (not _is_int(mr) or mr < 1):
            raise ConfigurationError(f"max_rejects must be None or an integer >= 1, got {mr!r}")
        if self.critic is not None and not callable(self.critic):
            raise ConfigurationError(f"critic must be a function str -> float, got {self.critic!r}")
        if method != "smc":
            extra = [
                name
                for name, given in (
                    ("critic", self.critic is not None),
                    ("estimator", self.estimator != "auto"),
                    ("resampling", self.resampling != "stratified"),
                )
                if given
            ]
            if mr is not None and method not in ("awrs",):
                extra.append("max_rejects")
            if extra:
                raise ConfigurationError(
                    f"{', '.join(extra)} not used by method={method!r}: expected method='smc'"
                    + (" or 'awrs'" if extra == ["max_rejects"] else "")
                )
        self._check_budget()
        if self.guide is not None and not isinstance(self.guide, bool):
            raise ConfigurationError(f"guide must be None, True or False, got {self.guide!r}")
        if self.seed is not None and not _is_int(self.seed):
            raise ConfigurationError(f"seed must be an integer or None, got {self.seed!r}")

    def _check_budget(self) -> None:
        budget, twist = self.budget, self.budget_twist
        if not isinstance(budget, bool) and budget != "sound":
            raise ConfigurationError(f"budget must be True, False or 'sound', got {budget!r}")
        if twist is None:
            return
        if not isinstance(twist, bool):
            raise ConfigurationError(f"budget_twist must be None, True or False, got {twist!r}")
        if twist and (self.method != "smc" or budget is not True):
            raise ConfigurationError(
                f"budget_twist=True needs method='smc' and budget=True, got "
                f"method={self.method!r}, budget={budget!r}"
            )

    # -- what a run reads ------------------------------------------------------------------
    @property
    def twist(self) -> bool:
        """Whether the budget twist is on (``budget_twist=None``: on for smc with
        ``budget=True``)."""
        if self.budget_twist is None:
            return self.method == "smc" and self.budget is True
        return self.budget_twist

    def draw_seed(self) -> int:
        """The run's seed: :attr:`seed`, or a fresh random one when it is ``None``."""
        return secrets.randbits(63) if self.seed is None else int(self.seed)

    def check_constraint(self, constraint) -> Callable[[str], float] | None:
        """Check that ``constraint`` suits these options; return SMC's guide (the constraint's
        :attr:`~awrs.constraints.base.Constraint.guide` when SMC uses it, else ``None``).

        Raises:
            ConfigurationError: not a constraint, a constraint with ``method="direct"``, or
                ``guide=True`` without SMC or without a critic.
        """
        from .constraints.base import Constraint

        method = self.method
        if constraint is not None and not isinstance(constraint, Constraint):
            raise ConfigurationError(
                f"constraint must be an awrs Constraint (e.g. awrs.Regex, awrs.Predicate), "
                f"got {type(constraint).__name__}"
            )
        if method == "direct" and constraint is not None:
            raise ConfigurationError(
                "method='direct' samples without a constraint, got one: use method='rerank' "
                "to keep the direct samples it accepts, or 'smc' / 'awrs' / 'mask' to sample "
                "under it"
            )
        guide = getattr(constraint, "guide", None)
        if self.guide and (method != "smc" or guide is None):
            raise ConfigurationError(
                f"guide=True needs method='smc' and a constraint with a guide, got "
                f"method={method!r}, constraint {type(constraint).__name__} "
                f"{'with' if guide is not None else 'without'} one"
            )
        if self.guide is False or method != "smc" or guide is None:
            return None
        if not callable(guide):
            raise ConfigurationError(
                f"constraint.guide must be a function str -> float or None, got {guide!r}"
            )
        return guide

    @classmethod
    def of(
        cls, options: SamplingOptions | None, keywords: Mapping[str, Any], caller: str = "generate"
    ) -> SamplingOptions:
        """``options`` with ``keywords`` applied (``None``: the defaults), as a function
        taking both receives them.

        Raises:
            TypeError: a keyword that is no field (as for any function).
            ConfigurationError: ``options`` that is not a :class:`SamplingOptions`, or a
                value :class:`SamplingOptions` refuses.
        """
        unknown = [k for k in keywords if k not in _FIELDS]
        if unknown:
            raise TypeError(
                f"{caller}() got an unexpected keyword argument {unknown[0]!r}: "
                f"expected the fields of SamplingOptions {_FIELDS}"
            )
        if options is None:
            return cls(**keywords)
        if not isinstance(options, SamplingOptions):
            raise ConfigurationError(
                f"options must be an awrs.SamplingOptions, got {type(options).__name__}"
            )
        return dataclasses.replace(options, **keywords) if keywords else options


_FIELDS = tuple(f.name for f in dataclasses.fields(SamplingOptions))


def with_options(fn):
    """Give ``fn(..., options=None, **keywords)`` the signature that lists the fields of
    :class:`SamplingOptions` as keywords (for ``help()`` and interactive completion)."""
    sig = inspect.signature(fn)
    params = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    params += [
        inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type
        )
        for f in dataclasses.fields(SamplingOptions)
    ]
    fn.__signature__ = sig.replace(parameters=params)
    return fn


# -- prompts -----------------------------------------------------------------------------------
def is_messages(prompt) -> TypeGuard[Sequence[Mapping[str, str]]]:
    """Whether ``prompt`` is chat messages: a non-empty list of ``{"role", "content"}``
    mappings with text values."""
    return (
        isinstance(prompt, (list, tuple))
        and bool(prompt)
        and all(
            isinstance(m, Mapping)
            and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str)
            for m in prompt
        )
    )


def encode_prompt(
    lm,
    prompt: str | Sequence[int] | Sequence[Mapping[str, str]],
    raw: bool = False,
    max_tokens: int | None = None,
) -> list[int]:
    """The token ids of a prompt: text (the model's chat template applied unless ``raw``),
    token ids (as given), or chat messages (the chat template applied, :meth:`lm.chat
    <awrs.models.base.LanguageModel.chat>`).

    Raises:
        ConfigurationError: anything else, no tokens, or a prompt (plus ``max_tokens``) that
            does not fit the model's context.
    """
    if is_messages(prompt):
        ids = lm.chat([dict(m) for m in prompt])
    else:
        if not isinstance(prompt, str):
            try:
                items = list(prompt)
            except TypeError:
                raise ConfigurationError(
                    f"prompt must be a string or a list of token ids or of chat messages "
                    f"({{'role': ..., 'content': ...}}), got {type(prompt).__name__}"
                ) from None
            if not all(_is_int(t) for t in items):
                if any(isinstance(t, Mapping) for t in items):
                    raise ConfigurationError(
                        "prompt chat messages must be {'role': str, 'content': str} mappings, "
                        f"got {items[:4]}..."
                    )
                raise ConfigurationError(f"prompt token ids must be integers, got {items[:8]}...")
            prompt = cast("list[int]", items)  # checked: integers
        ids = lm.prompt_ids(prompt, raw)
    if not ids:
        raise ConfigurationError("the prompt has no tokens: expected a non-empty prompt")
    limit = getattr(lm, "max_length", None)
    if limit is not None:
        if len(ids) > limit:
            raise ConfigurationError(
                f"prompt of {len(ids)} tokens is longer than the model's context of {limit} tokens"
            )
        if max_tokens is not None and len(ids) + max_tokens - 1 > limit:
            raise ConfigurationError(
                f"prompt of {len(ids)} tokens plus max_tokens={max_tokens} exceeds the model's "
                f"context of {limit} tokens: expected max_tokens <= {limit - len(ids) + 1}"
            )
    return ids
