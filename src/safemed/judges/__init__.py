"""L1 judges: LLM-judge prompts, strict parsers, panels and reward adapters.

Judges are L1 because both evaluation (Med-Safety-Bench panels, over-refusal, rubric-scored
ethics dilemmas and vignettes) and training (GRPO rewards) use them. See the modules for the
paper steps.
"""

from safemed.judges.base import DEFAULT_PARAMS, Judge, RoleLabels, Scale, Verdict
from safemed.judges.harm import harm_binary_judge, harm_judge
from safemed.judges.msb import AMA_PRINCIPLES, MSB_SCALE, msb_judge, msb_zh_judge
from safemed.judges.panel import JudgeScore, Panel, PanelItem, PanelScore, judge_once
from safemed.judges.parse import MarkerLabel, MarkerScore
from safemed.judges.refusal import RefusalPrefilter, RefusalRules, refusal_judge, refusal_rules_judge
from safemed.judges.registry import JUDGES, get_judge, judge_for_spec, parse_judge_option
from safemed.judges.reward import JudgeCallable, as_callable, msb_reward, scale_reward, trl_reward
from safemed.judges.rubric import Criterion, RubricJudge, rubric_judge, rubric_score, summarise_rubric
from safemed.judges.summary import summarise_panel

__all__ = [
    "AMA_PRINCIPLES",
    "DEFAULT_PARAMS",
    "JUDGES",
    "MSB_SCALE",
    "Criterion",
    "Judge",
    "JudgeCallable",
    "JudgeScore",
    "MarkerLabel",
    "MarkerScore",
    "Panel",
    "PanelItem",
    "PanelScore",
    "RefusalPrefilter",
    "RefusalRules",
    "RoleLabels",
    "RubricJudge",
    "Scale",
    "Verdict",
    "as_callable",
    "get_judge",
    "harm_binary_judge",
    "harm_judge",
    "judge_for_spec",
    "judge_once",
    "msb_judge",
    "msb_reward",
    "msb_zh_judge",
    "parse_judge_option",
    "refusal_judge",
    "refusal_rules_judge",
    "rubric_judge",
    "rubric_score",
    "scale_reward",
    "summarise_panel",
    "summarise_rubric",
    "trl_reward",
]
