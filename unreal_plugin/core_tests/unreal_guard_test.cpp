// Engine code defines these (Unreal's Core: check/verify assertions, TEXT for wide literals,
// PI); the core must compile under them through cosim/core.h and leave them as they were.
#define check(expr) static_assert(false, "Unreal's check() leaked into the core")
#define verify(expr) static_assert(false, "Unreal's verify() leaked into the core")
#define TEXT(s) L##s
#define PI (3.1415926535897932f)
#define THIRD_PARTY_INCLUDES_START _Pragma("GCC diagnostic push")
#define THIRD_PARTY_INCLUDES_END _Pragma("GCC diagnostic pop")

#include "cosim/core.h"

#ifndef check
#error "cosim/core.h did not restore check"
#endif
#ifndef TEXT
#error "cosim/core.h did not restore TEXT"
#endif

#undef check
#undef verify
#include <gtest/gtest.h>

TEST(UnrealGuard, CoreHeadersCompileUnderUnrealMacrosAndRestoreThem) {
  const wchar_t* wide = TEXT("tick");
  EXPECT_EQ(wide[0], L't');
  EXPECT_FLOAT_EQ(PI, 3.14159265f);
  cosim::Tick tick;
  EXPECT_STREQ(cosim::type_name(tick), "TICK");
}
