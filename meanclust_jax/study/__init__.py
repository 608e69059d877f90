"""The paper's study end to end (`meanclust reproduce`): anneal → closures → inference → figures → report.

`StudyConfig` holds every setting (two presets: the default study and ``quick``);
`run_study` runs the stages of `STAGES` in a folder, recording each finished stage so that an
interrupted run resumes where it stopped. The layout of the folder is described in
`meanclust_jax.reports.study_report` and in the README.
"""

from ._config import (
    MIN_SIZE as MIN_SIZE,
    StudyConfig as StudyConfig,
    check_size as check_size,
    check_study_memory as check_study_memory,
)
from ._resume import posterior_exists as posterior_exists, saved_result as saved_result
from ._runner import (
    LOCK_NAME as LOCK_NAME,
    STAGES as STAGES,
    completed_stages as completed_stages,
    prepare_output as prepare_output,
    run_study as run_study,
)

__all__ = [
    "LOCK_NAME",
    "MIN_SIZE",
    "STAGES",
    "StudyConfig",
    "check_size",
    "check_study_memory",
    "completed_stages",
    "posterior_exists",
    "prepare_output",
    "run_study",
    "saved_result",
]
