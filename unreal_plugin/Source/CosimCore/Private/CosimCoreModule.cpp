// Unreal module boilerplate for the core; the only file of CosimCore that includes engine headers
// (not part of the CMake build).
#include "Modules/ModuleManager.h"

IMPLEMENT_MODULE(FDefaultModuleImpl, CosimCore)
