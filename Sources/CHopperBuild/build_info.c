// The build stamp. Why a C macro: the commit must reach the binary without a generated source in
// the tree (a plain `swift build` of a clean clone has to work and stay honest) and without a
// SwiftPM plugin (its sandbox has no git). Package.swift turns the environment variables
// HOPPER_BUILD_COMMIT and HOPPER_BUILD_DATE into -D defines for this target alone, so a new
// stamp recompiles this file and relinks, nothing more. scripts/package sets them from git;
// every other build gets the empty strings below ("unknown commit" in `hopper --version`).
#include "hopper_build.h"

#ifndef HOPPER_BUILD_COMMIT
#define HOPPER_BUILD_COMMIT ""
#endif
#ifndef HOPPER_BUILD_DATE
#define HOPPER_BUILD_DATE ""
#endif

const char *hopper_build_commit(void) { return HOPPER_BUILD_COMMIT; }
const char *hopper_build_date(void) { return HOPPER_BUILD_DATE; }
