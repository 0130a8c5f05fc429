using UnrealBuildTool;

public class CosimSync : ModuleRules
{
	public CosimSync(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;
		CppStandard = CppStandardVersion.Cpp17;
		PublicDependencyModuleNames.AddRange(new string[] {
			"Core", "CoreUObject", "Engine", "DeveloperSettings", "GeometryFramework", "GeometryCore" });
		PrivateDependencyModuleNames.AddRange(new string[] { "CosimCore", "HeadMountedDisplay" });

		// OpenXR's predicted display time (photon time) where the OpenXR plugin is present.
		bool bOpenXR = Target.Platform == UnrealTargetPlatform.Win64 || Target.Platform == UnrealTargetPlatform.Linux;
		if (bOpenXR)
		{
			PrivateDependencyModuleNames.AddRange(new string[] { "OpenXRHMD", "OpenXRHeaders" });
		}
		PrivateDefinitions.Add("WITH_COSIM_OPENXR=" + (bOpenXR ? "1" : "0"));
	}
}
