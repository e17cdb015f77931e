"""Features to a decision: the rules, the model in use, shadow mode, thresholds and list entries.

Until a model has been promoted the rules decide. With an active model, RISK_MODEL_MODE says who
decides: "shadow" (default) keeps the rules in charge and stores the model's score beside them,
"model" lets the model decide and keeps the rules' score as the shadow. The reasons shown are
always the rules that fired: they are what a reviewer can check.
"""

import time
from dataclasses import dataclass

from django.conf import settings

from . import model, rules
from .interface import Reason

_MODEL_TTL = 60.0  # seconds a process keeps the active model before looking again
_cached: dict = {"at": -_MODEL_TTL, "model": None}


@dataclass(frozen=True)
class Decision:
    score: int
    action: str
    reasons: tuple[Reason, ...]
    scored_by: str
    shadow_score: int | None = None
    shadow_by: str = ""


@dataclass(frozen=True)
class LoadedModel:
    id: int
    kind: str
    features: list
    parameters: dict


def active_model() -> LoadedModel | None:
    """The promoted model, re-read at most once a minute per process (a new one takes over within a minute)."""
    now = time.monotonic()
    if now - _cached["at"] > _MODEL_TTL:
        from .models import ModelVersion

        row = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).order_by("-created_at").first()
        _cached["model"] = (
            LoadedModel(id=row.pk, kind=row.kind, features=row.features, parameters=row.parameters) if row else None
        )
        _cached["at"] = now
    return _cached["model"]


def forget_model() -> None:
    _cached["at"] = -_MODEL_TTL


def action_for(score: int) -> str:
    if score >= settings.RISK_BLOCK_FROM:
        return "block"
    if score >= settings.RISK_REVIEW_FROM:
        return "review"
    if score >= settings.RISK_CHALLENGE_FROM:
        return "challenge"
    return "allow"


def decide(features: dict, *, listed: dict[str, str] | None = None, loaded=None) -> Decision:
    """`listed` maps list kinds to "block"/"allow" for the identities that are on a list."""
    rule_score, reasons = rules.evaluate(features)
    active = loaded if loaded is not None else active_model()
    score, scored_by, shadow, shadow_by = rule_score, "rules", None, ""
    if active is not None:
        model_score = model.score(active.kind, active.parameters, active.features, features)
        if settings.RISK_MODEL_MODE == "model":
            score, scored_by, shadow, shadow_by = model_score, f"model #{active.id}", rule_score, "rules"
        else:
            shadow, shadow_by = model_score, f"model #{active.id}"
    action = action_for(score)
    listed = listed or {}
    blocked = sorted(kind for kind, verdict in listed.items() if verdict == "block")
    if blocked:
        reasons = (Reason("block_list", f"On the block list ({', '.join(blocked)})", 100), *reasons)
        return Decision(100, "block", reasons, scored_by, shadow, shadow_by)
    if listed:
        allowed = ", ".join(sorted(listed))
        reasons = (Reason("allow_list", f"On the allow list ({allowed})", 0), *reasons)
        return Decision(score, "allow", reasons, scored_by, shadow, shadow_by)
    return Decision(score, action, reasons, scored_by, shadow, shadow_by)
