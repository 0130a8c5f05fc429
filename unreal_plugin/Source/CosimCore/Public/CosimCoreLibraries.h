// Engine-side only (not part of the CMake build): whether the core's third-party libraries are
// usable. On Win64 false when the libzmq DLL could not be loaded (CosimCoreModule.cpp); calling
// into the core then would end the process.
#pragma once

#include "CoreMinimal.h"

COSIMCORE_API bool CosimZmqLoaded();
