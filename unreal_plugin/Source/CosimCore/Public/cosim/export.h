// Symbol export for the core when it is built as the UE module CosimCore (UBT defines COSIMCORE_API);
// empty in the plain CMake build.
#pragma once
#ifndef COSIMCORE_API
#define COSIMCORE_API
#endif
