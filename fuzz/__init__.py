"""Differential fuzzing of relay-opt: random well-typed Relay programs run by the numpy reference
interpreter and by native code at -O0 and -O3, compared (`python -m relay_opt.fuzz`)."""
