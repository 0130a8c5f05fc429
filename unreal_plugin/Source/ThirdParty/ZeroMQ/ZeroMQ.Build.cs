// libzmq as an external module. Put the prebuilt library under ThirdParty/ZeroMQ (see README.md;
// on Windows unreal_plugin/scripts/build_win64_deps.ps1 builds and places it):
//   include/zmq.h
//   lib/Win64/libzmq-v143-mt-4_3_4.lib, bin/Win64/libzmq-v143-mt-4_3_4.dll
//   lib/Linux/libzmq.a  (or the system's libzmq via pkg-config when lib/Linux is absent)
using System.IO;
using UnrealBuildTool;

public class ZeroMQ : ModuleRules
{
	public ZeroMQ(ReadOnlyTargetRules Target) : base(Target)
	{
		Type = ModuleType.External;
		string Root = ModuleDirectory;
		PublicSystemIncludePaths.Add(Path.Combine(Root, "include"));

		if (Target.Platform == UnrealTargetPlatform.Win64)
		{
			const string Name = "libzmq-v143-mt-4_3_4";
			PublicAdditionalLibraries.Add(Path.Combine(Root, "lib", "Win64", Name + ".lib"));
			// delay-loaded, and loaded explicitly from the staged copy by CosimCore's StartupModule
			PublicDelayLoadDLLs.Add(Name + ".dll");
			RuntimeDependencies.Add("$(PluginDir)/Binaries/ThirdParty/ZeroMQ/Win64/" + Name + ".dll",
			                        Path.Combine(Root, "bin", "Win64", Name + ".dll"));
			PublicDefinitions.Add("COSIM_ZMQ_DLL=\"" + Name + ".dll\"");
			PublicSystemLibraries.AddRange(new string[] { "ws2_32.lib", "iphlpapi.lib" });
		}
		else if (Target.Platform == UnrealTargetPlatform.Linux)
		{
			string Static = Path.Combine(Root, "lib", "Linux", "libzmq.a");
			if (File.Exists(Static))
			{
				PublicAdditionalLibraries.Add(Static);
			}
			else
			{
				PublicSystemLibraries.Add("zmq");
			}
		}
	}
}
