"""The Jinja extension: what copier.yml and the templates call."""

from __future__ import annotations

from typing import Any

from copier.errors import UserMessageError
from jinja2 import Environment, pass_context
from jinja2.ext import Extension
from jinja2.runtime import Context

from . import cicd_model, docs_model, infra_model, observability_model, questionnaire
from .answers import known_answers
from .catalog import TIERS, load_catalog
from .jinja_cache import enable_bytecode_cache, memoize_from_string
from .markdown import tidy_markdown
from .recommend import recommend as _recommend

CATALOG = load_catalog()


def _answers(ctx: Context) -> dict[str, Any]:
    answers = known_answers(CATALOG, ctx)
    folder = ctx.get("_folder_name")
    if folder:
        answers["_folder_name"] = folder
    return answers


@pass_context
def recommend(ctx: Context, name: str) -> Any:
    """The tier's recommendation for a question (its default)."""
    return _recommend(CATALOG, name, _answers(ctx))


@pass_context
def help_for(ctx: Context, name: str) -> str:
    return questionnaire.help_text(CATALOG, name, _answers(ctx))


@pass_context
def choices_for(ctx: Context, name: str) -> str:
    return questionnaire.choices_yaml(CATALOG, name, _answers(ctx))


@pass_context
def problems_of(ctx: Context, name: str) -> str:
    """Validator text: empty when the answer to ``name`` is fine."""
    return questionnaire.problem_text(CATALOG, name, _answers(ctx))


@pass_context
def asked_from(ctx: Context, tier: str) -> bool:
    """Whether a question gated at ``tier`` is asked: full mode and a tier at least that high."""
    current = ctx.get("tier", "mvp")
    if ctx.get("mode") != "full" or current not in TIERS:
        return False
    return TIERS.index(current) >= TIERS.index(tier)


@pass_context
def check_answers(ctx: Context) -> str:
    """Refuse a contradictory answer set with every problem at once (no traceback)."""
    messages = questionnaire.check_all(CATALOG, ctx)
    if messages:
        raise UserMessageError(questionnaire.report(messages))
    return "ok"


@pass_context
def project(ctx: Context) -> docs_model.Project:
    """Everything the generated files need, computed once per answer set."""
    return docs_model.project_for(CATALOG, _answers(ctx))


class ProdreadyExtension(Extension):
    """Registers prodready's globals on Copier's Jinja environment."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        enable_bytecode_cache(environment)
        memoize_from_string(environment)
        environment.globals.update(
            recommend=recommend,
            help_for=help_for,
            choices_for=choices_for,
            problems_of=problems_of,
            asked_from=asked_from,
            check_answers=check_answers,
            project=project,
            catalog=CATALOG,
        )
        environment.filters["tidy_markdown"] = tidy_markdown
        for area in (infra_model, cicd_model, observability_model):
            environment.globals.update(area.GLOBALS)
