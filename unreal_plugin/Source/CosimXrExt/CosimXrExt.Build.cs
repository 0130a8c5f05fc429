// Asks UE's OpenXR plugin for the time-conversion extension, so CosimSync can map the predicted
// display time onto the session clock. A module of its own because it must load at PostConfigInit,
// before OpenXRHMD creates its instance (IOpenXRExtensionPlugin.h says so).
using UnrealBuildTool;

public class CosimXrExt : ModuleRules
{
	public CosimXrExt(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;
		PrivateDependencyModuleNames.AddRange(new string[] { "Core", "CoreUObject", "Engine", "HeadMountedDisplay", "OpenXRHMD" });
		AddEngineThirdPartyPrivateStaticDependencies(Target, "OpenXR");  // as the engine's OpenXR extension plugins do
	}
}
