// What a build of hopper knows of where it came from. scripts/package stamps a release build
// (HOPPER_BUILD_COMMIT and HOPPER_BUILD_DATE in the environment, see build_info.c); a plain
// `swift build` has neither and says so.
#ifndef HOPPER_BUILD_H
#define HOPPER_BUILD_H

/// The commit the binary was built from (`git rev-parse --short=12 HEAD`, with `-dirty` when the
/// tree had changes), or "" when the build was not stamped.
const char *hopper_build_commit(void);
/// The commit's date (ISO 8601, UTC), or "" when the build was not stamped.
const char *hopper_build_date(void);

#endif
