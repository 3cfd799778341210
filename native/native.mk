# Placeholder: replaced by the BFD engine's native test and fuzz targets (issue 3).
.PHONY: test-native fuzz
test-native:
fuzz:
