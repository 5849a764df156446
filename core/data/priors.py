"""Linking each study to its prior: the same patient's most recent earlier study (never a later one)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Hashable

from radzoo.data.study import Study


def link_priors(studies: list[Study], patient: Callable[[Study], str | None],
                when: Callable[[Study], Hashable | None]) -> None:
    """Set ``study.prior`` in place: the same ``patient``'s study with the greatest ``when`` below this one's.

    A study without a patient or a time gets no prior, nor does one whose earlier study has the same time
    (order unknown). A test study's prior is a test study too: linking across the split would show a test
    patient's earlier report to a model trained on it. The prior carries no prior of its own.
    """
    by_patient: dict[str, list[Study]] = defaultdict(list)
    for study in studies:
        if patient(study) and when(study) is not None:
            by_patient[str(patient(study))].append(study)
    for group in by_patient.values():
        for study in group:
            earlier = [other for other in group if when(other) < when(study)
                       and (study.split != "test" or other.split == "test")]
            if earlier:
                latest = max(earlier, key=when)
                study.prior = dataclasses.replace(latest, prior=None)
