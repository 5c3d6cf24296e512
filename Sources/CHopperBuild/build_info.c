// The build stamp. Why a C file: the commit must reach the binary without a generated source in
// the tree (a plain `swift build` of a clean clone has to work and stay honest) and without
// SwiftPM plugins (their sandbox has no git). A C macro is the one value SwiftPM lets a build
// pass in from outside: scripts/package builds with
//   swift build -c release -Xcc -DHOPPER_BUILD_COMMIT=\"<commit>\" -Xcc -DHOPPER_BUILD_DATE=\"<date>\"
// and every other build gets the empty strings below ("unknown commit" in `hopper --version`).
#include "hopper_build.h"

#ifndef HOPPER_BUILD_COMMIT
#define HOPPER_BUILD_COMMIT ""
#endif
#ifndef HOPPER_BUILD_DATE
#define HOPPER_BUILD_DATE ""
#endif

const char *hopper_build_commit(void) { return HOPPER_BUILD_COMMIT; }
const char *hopper_build_date(void) { return HOPPER_BUILD_DATE; }
