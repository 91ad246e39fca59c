# Benchmarks are never part of CI: they take tens of minutes on a 2-core machine.
BUDGET ?= 60
RESULTS ?= benchmarks/results/$(BUDGET)s.jsonl
# The suite outside the public one that bench-holdout runs: holdout, or unseen (the second set).
OUTSIDE ?= holdout

.PHONY: test bench bench-holdout bench-anchors-setup bench-report

test:
	.venv/bin/python -m pytest -q

bench-anchors-setup:
	bash benchmarks/setup_anchors.sh

bench: ## mlpilot, FLAML and AutoGluon side by side on the public suite, then the report
	.venv/bin/python benchmarks/run.py --systems mlpilot --time-limit $(BUDGET) --out $(RESULTS)
	.venv-anchors/bin/python benchmarks/run.py --systems flaml --time-limit $(BUDGET) --out $(RESULTS)
	.venv-autogluon/bin/python benchmarks/run.py --systems autogluon_best autogluon_medium \
		--time-limit $(BUDGET) --out $(RESULTS)
	$(MAKE) bench-report

bench-holdout: ## the same systems on tables outside the public suite (benchmarks/suite_$(OUTSIDE).tsv)
	.venv/bin/python benchmarks/run.py --systems mlpilot --suite benchmarks/suite_$(OUTSIDE).tsv \
		--time-limit $(BUDGET) --out benchmarks/results/$(OUTSIDE)_$(BUDGET)s.jsonl
	.venv-anchors/bin/python benchmarks/run.py --systems flaml --suite benchmarks/suite_$(OUTSIDE).tsv \
		--time-limit $(BUDGET) --out benchmarks/results/$(OUTSIDE)_$(BUDGET)s.jsonl
	.venv-autogluon/bin/python benchmarks/run.py --systems autogluon_best --suite benchmarks/suite_$(OUTSIDE).tsv \
		--time-limit $(BUDGET) --out benchmarks/results/$(OUTSIDE)_$(BUDGET)s.jsonl
	$(MAKE) bench-report

bench-report:
	.venv/bin/python benchmarks/report.py $(sort $(wildcard benchmarks/results/[0-9]*s.jsonl)) \
		--holdout $(sort $(wildcard benchmarks/results/holdout_*s.jsonl)) \
		--unseen $(sort $(wildcard benchmarks/results/unseen_*s.jsonl)) --out docs/benchmarks.md
