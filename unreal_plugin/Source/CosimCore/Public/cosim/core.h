// The one header engine code includes to use the core. Unreal defines macros with common names
// (check, verify, TEXT, PI, ...); they are saved, undefined while the core's headers (and the
// standard headers they pull in) are read, and restored afterwards, inside Unreal's own
// THIRD_PARTY_INCLUDES_START/END (which also relaxes its warnings-as-errors for this block).
// Outside Unreal none of these macros exist and this is just the list of the core's headers.
// core_tests/unreal_guard_test.cpp includes it under Unreal-style macros.
#pragma once

#if defined(THIRD_PARTY_INCLUDES_START)
THIRD_PARTY_INCLUDES_START
#endif
#pragma push_macro("check")
#pragma push_macro("verify")
#pragma push_macro("TEXT")
#pragma push_macro("PI")
#pragma push_macro("min")
#pragma push_macro("max")
#undef check
#undef verify
#undef TEXT
#undef PI
#undef min
#undef max

#include "cosim/clock.h"
#include "cosim/link.h"
#include "cosim/mtp.h"
#include "cosim/protocol.h"
#include "cosim/residuals.h"
#include "cosim/result.h"
#include "cosim/scene.h"
#include "cosim/time.h"
#include "cosim/units.h"
#include "cosim/vehicles.h"

#pragma pop_macro("max")
#pragma pop_macro("min")
#pragma pop_macro("PI")
#pragma pop_macro("TEXT")
#pragma pop_macro("verify")
#pragma pop_macro("check")
#if defined(THIRD_PARTY_INCLUDES_END)
THIRD_PARTY_INCLUDES_END
#endif
