# Placeholder: replaced by the exec-probe client build (issue 5).
.PHONY: probe
probe:
