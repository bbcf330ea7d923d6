"""The decision step: from what validation found and who answers, to a plan.

A literal table in this one module rather than a data file: its rows name
code paths of the pipeline (refuse, or let a port answer, with which items
failing), not platform facts; the platform's facts (which code answers which
problem) stay in openapi/rules.yaml, read through capmock.openapi.outcomes.

Inputs: the class of the problems (below), and who answers: the mode's port
(the sandbox) when it handles the operation and no code is forced, else
replay. Output: a Plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from capmock.openapi import envelope
from capmock.openapi.outcomes import code_for
from capmock.openapi.validation import REFUSED, Problem


class Problems(Enum):
    """What validation found, as far as the decision needs to know."""

    NONE = "none"
    REFUSED = "refused"  # the request cannot be read (always alone)
    UNCODED_WHOLE = "uncoded, one about the whole request"  # no documented code for some
    UNCODED_ITEMS = "uncoded, all inside items"
    WHOLE = "coded, one about the whole request"  # every problem has its item-level code
    ITEMS = "coded, all inside items"


class Who(Enum):
    REPLAY = "replay"  # the documented samples (and forced codes)
    PORT = "port"  # the mode's answering port acting itself (the sandbox)


class Act(Enum):
    REFUSE_FIRST = "400 naming the first problem without a documented code"
    REFUSE_COUNTED = "400 naming the first such problem and how many more there are"
    ANSWER = "the answerer answers; failing items carry their code"
    FAIL_ALL = "replay answers with every item failing with the first problem's code"


# (problems, who would answer) -> what to do. Every pair has a row (a test holds it).
TABLE: dict[tuple[Problems, Who], Act] = {
    (Problems.NONE, Who.REPLAY): Act.ANSWER,
    (Problems.NONE, Who.PORT): Act.ANSWER,
    (Problems.REFUSED, Who.REPLAY): Act.REFUSE_FIRST,
    (Problems.REFUSED, Who.PORT): Act.REFUSE_FIRST,
    (Problems.UNCODED_WHOLE, Who.REPLAY): Act.REFUSE_COUNTED,
    (Problems.UNCODED_WHOLE, Who.PORT): Act.REFUSE_COUNTED,
    (Problems.UNCODED_ITEMS, Who.REPLAY): Act.REFUSE_COUNTED,
    (Problems.UNCODED_ITEMS, Who.PORT): Act.REFUSE_FIRST,  # the sandbox refuses that item's
    (Problems.WHOLE, Who.REPLAY): Act.FAIL_ALL,
    (Problems.WHOLE, Who.PORT): Act.FAIL_ALL,  # nothing to act on: replay's failure body
    (Problems.ITEMS, Who.REPLAY): Act.ANSWER,
    (Problems.ITEMS, Who.PORT): Act.ANSWER,  # the other items go on
}


@dataclass(frozen=True)
class Plan:
    """What the pipeline does next."""

    act: Act
    who: Who
    message: str = ""  # a refusal's detail
    failures: dict[int, dict[str, str]] = field(default_factory=dict)  # item index -> status


def classify(operation: str, problems: list[Problem]) -> Problems:
    if not problems:
        return Problems.NONE
    if any(p.kind == REFUSED for p in problems):
        return Problems.REFUSED
    coded = all(code_for(operation, p.kind, p.field) is not None for p in problems)
    whole = any(p.item is None for p in problems)
    if coded:
        return Problems.WHOLE if whole else Problems.ITEMS
    return Problems.UNCODED_WHOLE if whole else Problems.UNCODED_ITEMS


def first_uncoded(operation: str, problems: list[Problem]) -> Problem:
    return next(p for p in problems if code_for(operation, p.kind, p.field) is None)


def failures(operation: str, problems: list[Problem], count: int,
             every_item: bool) -> dict[int, dict[str, str]]:
    """item index -> item_status: each item its first problem's code, or (every_item)
    all `count` items the first problem's code."""
    out: dict[int, dict[str, str]] = {}
    for problem in problems:
        code = code_for(operation, problem.kind, problem.field)
        if code is not None:
            out.setdefault(problem.item or 0, envelope.item_status(operation, code))
    if every_item and out:
        return dict.fromkeys(range(max(count, 1)), next(iter(out.values())))
    return out


def decide(operation: str, problems: list[Problem], who: Who, item_count: int) -> Plan:
    """The plan for a request whose validation found `problems`."""
    act = TABLE[(classify(operation, problems), who)]
    if act is Act.REFUSE_FIRST:
        return Plan(act, who, first_uncoded(operation, problems).message)
    if act is Act.REFUSE_COUNTED:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return Plan(act, who, first_uncoded(operation, problems).message + more)
    if act is Act.FAIL_ALL:
        return Plan(act, Who.REPLAY, failures=failures(operation, problems, item_count, True))
    return Plan(act, who, failures=failures(operation, problems, item_count, False))
