"""The human–AI paired study (L2 stage): a frozen analysis plan, blinded rating packets, honest
paired statistics.

The SafeMed-R1 paper compared the model with five residents on 30 medication-safety vignettes,
blinded experts rating the answers, and reported a Wilcoxon signed-rank test with r ≈ 0.73; its
reviewers asked for a correction across dimensions, fuller effect sizes, reliability and a stated
power. This stage runs such a study properly:

- :mod:`.plan`: the analysis plan (dimensions with anchors, primary endpoint, test, α, an
  optional non-inferiority margin, planned n and its power), hashed and frozen in the ledger;
- :mod:`.responses` and :mod:`.packets`: vignettes and each source's responses, normalised to
  one format, shuffled per rater into blinded packets; the key kept apart;
- :mod:`.ratings`: the filled rating sheets, validated cell by cell;
- :mod:`.simulate`: filled sheets from a stated generative model, marked SIMULATED;
- :mod:`.analyze` and :mod:`.render`: unblinding, the paired statistics, ``study.json`` and
  ``study.md`` with their manifest.
"""
