// The engine-neutral core (plain C++17, no UE headers except CosimCoreModule.cpp) as a UE module.
// The same sources are built and unit-tested outside Unreal by ../../CMakeLists.txt.
using UnrealBuildTool;

public class CosimCore : ModuleRules
{
	public CosimCore(ReadOnlyTargetRules Target) : base(Target)
	{
		// The core's .cpp files include no engine headers; keep them out of unity blobs and shared PCHs
		// so that Unreal's macros (check, verify, TEXT, ...) never reach libzmq's or msgpack's headers.
		PCHUsage = PCHUsageMode.NoPCHs;
		bUseUnity = false;
		CppStandard = CppStandardVersion.Cpp20;  // the core is C++17 (held to it by the CMake build) and compiles as C++20
		// Unreal's defaults: no exceptions, no RTTI. The core is written for exactly that.
		bEnableExceptions = false;
		bUseRTTI = false;
		PublicDependencyModuleNames.Add("Core");  // only CosimCoreModule.cpp and CosimCoreLibraries.h use it
		PrivateDependencyModuleNames.AddRange(new string[] { "ZeroMQ", "MsgPack", "Projects" });  // Projects: IPluginManager
	}
}
