using UnrealBuildTool;

public class CosimSync : ModuleRules
{
	public CosimSync(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;
		CppStandard = CppStandardVersion.Cpp20;  // UE 5.3's default; 5.7 rejects Cpp17 (UnrealBuildTool CppCompileEnvironment.cs)
		PublicDependencyModuleNames.AddRange(new string[] {
			"Core", "CoreUObject", "Engine", "DeveloperSettings", "GeometryFramework", "GeometryCore" });
		PrivateDependencyModuleNames.AddRange(new string[] { "CosimCore", "HeadMountedDisplay" });

		// OpenXR's predicted display time (photon time). The OpenXR headers and the loader's entry points
		// come with OpenXRHMD (its PublicIncludePathModuleNames has the engine's "OpenXR" third-party
		// module; OpenXRCore.h declares OpenXRDynamicAPI): there is no "OpenXRHeaders" module.
		bool bOpenXR = Target.Platform == UnrealTargetPlatform.Win64 || Target.Platform == UnrealTargetPlatform.Linux;
		if (bOpenXR)
		{
			PrivateDependencyModuleNames.Add("OpenXRHMD");
			AddEngineThirdPartyPrivateStaticDependencies(Target, "OpenXR");  // as the engine's OpenXR extension plugins do
		}
		PrivateDefinitions.Add("WITH_COSIM_OPENXR=" + (bOpenXR ? "1" : "0"));
	}
}
